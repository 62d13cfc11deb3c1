// The photo stage: zoom and pan (wheel, keys, two-finger pinch), the mask brush and eraser,
// selecting an object with a box or a click, undo and redo, before/after.
//
// The mask is a canvas at the photo's own resolution: painted pixels are opaque white (hole),
// the rest transparent (known). It is exported as that RGBA PNG; the server takes alpha > 0 as
// hole. On screen it inverts the photo's colours (CSS mix-blend-mode: difference), so a hole
// stands out on dark and light alike, and an outline of black and white dashes that swap
// twice a second (marching ants) runs around it. Every edit is an operation in a log (a
// stroke, a clear, a mask file, a selection, a new photo from "Keep editing"); undo and redo
// replay the log, so no snapshot of the mask is ever kept.

const HOLE = [255, 255, 255];
const HOLE_COLOUR = `rgb(${HOLE.join(", ")})`;
const MIN_ZOOM = 0.02, MAX_ZOOM = 32;
const CLICK_PX = 5;  // a select gesture shorter than this on screen is a click, not a box

// A canvas of `bitmap`'s pixels as hole (opaque) or known (transparent): painted alpha = hole
// when the alpha varies, else white = hole. Returns { canvas, holes }.
function holeCanvas(bitmap, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.imageSmoothingEnabled = false;
  context.drawImage(bitmap, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height);
  const data = pixels.data;
  let lowAlpha = 255, highAlpha = 0;
  for (let i = 3; i < data.length; i += 4) {
    lowAlpha = Math.min(lowAlpha, data[i]);
    highAlpha = Math.max(highAlpha, data[i]);
  }
  const byAlpha = lowAlpha !== highAlpha;
  let holes = 0;
  for (let i = 0; i < data.length; i += 4) {
    const hole = byAlpha ? data[i + 3] > 0 : Math.max(data[i], data[i + 1], data[i + 2]) > 127;
    data[i] = HOLE[0]; data[i + 1] = HOLE[1]; data[i + 2] = HOLE[2]; data[i + 3] = hole ? 255 : 0;
    holes += hole;
  }
  context.putImageData(pixels, 0, 0);
  return { canvas, holes };
}

// Black and white diagonal dashes, 4 px each: the outline's fill.
function antsPattern(context) {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 8;
  const t = tile.getContext("2d");
  const pixels = t.createImageData(8, 8);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const value = (x + y) % 8 < 4 ? 0 : 255;
      pixels.data.set([value, value, value, 255], (y * 8 + x) * 4);
    }
  }
  t.putImageData(pixels, 0, 0);
  return context.createPattern(tile, "repeat");
}

export class Editor {
  constructor(stage, onChange, onSelect) {
    this.stage = stage;
    this.onChange = onChange;  // called after every edit and view change
    this.onSelect = onSelect;  // called with { box: [x0, y0, x1, y1] } or { point: [x, y] }
    this.sheet = stage.querySelector("#sheet");
    this.photo = stage.querySelector("#photo");
    this.mask = stage.querySelector("#mask");
    this.outline = stage.querySelector("#outline");
    this.result = stage.querySelector("#result");
    this.cursor = stage.querySelector("#cursor");
    this.marquee = stage.querySelector("#marquee");
    this.view = { zoom: 1, x: 0, y: 0 };
    this.tool = "brush";
    this.size = 40;  // brush diameter in screen pixels
    this.log = [];
    this.undone = [];
    this.base = null;  // { bitmap, meta }: the photo opened last
    this.stroke = null;
    this.selecting = null;
    this.drag = null;
    this.pinch = null;
    this.pointers = new Map();  // pointer id -> { x, y } of the pointers down (touch: fingers)
    this.spaceHeld = false;
    this.hasResult = false;
    this.compare = null;  // null: editing (photo + mask); 0..1: the share shown as before
    this.maskOnly = false;
    this.hasPhoto = false;
    this.outlineScale = 0;
    this.listen();
  }

  // --- photo and result -------------------------------------------------------------------

  // A new photo: the log starts afresh. `meta` is the page's record of it (upload id, name).
  setPhoto(bitmap, meta) {
    this.base = { bitmap, meta };
    this.log = [];
    this.undone = [];
    this.hasPhoto = true;
    this.hideResult();
    this.render();
    this.fit();
  }

  // "Keep editing": `bitmap` becomes the photo, with an empty mask, as an undoable step.
  keepPhoto(bitmap, meta) {
    this.hideResult();
    this.commit({ kind: "photo", bitmap, meta });
    this.render();
  }

  // The photo shown now, as the log has it after undo and redo: { bitmap, meta }.
  currentPhoto() {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i].kind === "photo") return this.log[i];
    return this.base;
  }

  photoMeta() {
    return this.base ? this.currentPhoto().meta : null;
  }

  showResult(bitmap) {
    this.result.getContext("2d").drawImage(bitmap, 0, 0, this.result.width, this.result.height);
    this.hasResult = true;
    this.setCompare(0);
  }

  hideResult() {
    this.hasResult = false;
    this.setCompare(null);
  }

  get showingResult() {
    return this.hasResult && this.compare !== null && this.compare < 0.5;
  }

  // After (true) or the clean original (false): before/after of a result.
  setShowingResult(show) {
    if (this.hasResult) this.setCompare(show ? 0 : 1);
  }

  // null: edit the mask on the photo; a number in [0, 1]: that share of the photo (from the
  // left) shows the original as it was, the rest the result, and the mask is hidden.
  setCompare(split) {
    this.compare = this.hasResult && split !== null ? Math.min(1, Math.max(0, split)) : null;
    const comparing = this.compare !== null;
    this.result.hidden = !comparing || this.compare >= 1;
    this.result.style.clipPath = comparing ? `inset(0 0 0 ${(this.compare * 100).toFixed(2)}%)` : "";
    this.mask.hidden = this.outline.hidden = comparing && !this.maskOnly;
    this.placeDivider();
    this.changed();
  }

  // The line between before and after: 2 screen pixels wide at any zoom.
  placeDivider() {
    const divider = this.sheet.querySelector("#divider");
    const split = this.compare;
    divider.hidden = split === null || split <= 0 || split >= 1 || this.maskOnly;
    divider.style.left = `${((split || 0) * 100).toFixed(2)}%`;
    divider.style.width = `${2 / this.view.zoom}px`;
    divider.style.marginLeft = `${-1 / this.view.zoom}px`;
  }

  setMaskOnly(on) {
    this.maskOnly = Boolean(on);
    this.sheet.classList.toggle("mask-only", this.maskOnly);
    this.setCompare(this.compare);
  }

  // --- the mask ---------------------------------------------------------------------------

  // Draw the photo the log is at and replay the mask operations since it.
  render() {
    const { bitmap } = this.currentPhoto();
    const { width, height } = bitmap;
    if (this.photo.width !== width || this.photo.height !== height) {
      for (const canvas of [this.photo, this.mask, this.result]) {
        canvas.width = width;
        canvas.height = height;
      }
      this.sheet.style.width = `${width}px`;
      this.sheet.style.height = `${height}px`;
    }
    this.photo.getContext("2d").drawImage(bitmap, 0, 0);
    this.sheet.hidden = false;
    this.redraw();
  }

  redraw() {
    const context = this.mask.getContext("2d");
    context.globalCompositeOperation = "source-over";
    context.clearRect(0, 0, this.mask.width, this.mask.height);
    let since = 0;
    for (let i = 0; i < this.log.length; i++) if (this.log[i].kind === "photo") since = i + 1;
    for (const operation of this.log.slice(since)) this.apply(context, operation);
    this.drawOutline();
  }

  apply(context, operation) {
    if (operation.kind === "clear") {
      context.clearRect(0, 0, this.mask.width, this.mask.height);
    } else if (operation.kind === "file") {
      context.globalCompositeOperation = "source-over";
      context.clearRect(0, 0, this.mask.width, this.mask.height);
      context.drawImage(operation.canvas, 0, 0);
    } else if (operation.kind === "select") {
      context.globalCompositeOperation = "source-over";
      context.drawImage(operation.canvas, 0, 0);
    } else {
      const points = operation.points;
      for (let i = 0; i < points.length; i++) this.segment(context, operation, points[Math.max(0, i - 1)], points[i]);
    }
  }

  segment(context, stroke, from, to) {
    context.globalCompositeOperation = stroke.kind === "eraser" ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = HOLE_COLOUR;
    context.lineWidth = stroke.width;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    if (from.x === to.x && from.y === to.y) {
      context.arc(to.x, to.y, stroke.width / 2, 0, 2 * Math.PI);
      context.fill();
    } else {
      context.moveTo(from.x, from.y);
      context.lineTo(to.x, to.y);
      context.stroke();
    }
    context.globalCompositeOperation = "source-over";
  }

  // The outline: the mask grown by 2 screen pixels less the mask, filled with dashes. Drawn
  // at the screen's resolution when zoomed out (cheap on large photos), the photo's otherwise.
  drawOutline() {
    if (!this.hasPhoto) return;
    const scale = Math.min(1, this.view.zoom);
    const width = Math.max(1, Math.round(this.mask.width * scale));
    const height = Math.max(1, Math.round(this.mask.height * scale));
    this.outlineScale = scale;
    this.outline.width = width;
    this.outline.height = height;
    const context = this.outline.getContext("2d");
    let mask = this.mask;
    if (scale < 1) {  // shrink the mask once, not once per offset
      mask = document.createElement("canvas");
      mask.width = width;
      mask.height = height;
      mask.getContext("2d").drawImage(this.mask, 0, 0, width, height);
    }
    const reach = scale < 1 ? 2 : Math.max(1, Math.round(2 / this.view.zoom));
    for (let dx = -reach; dx <= reach; dx++) {
      for (let dy = -reach; dy <= reach; dy++) {
        if (dx * dx + dy * dy <= reach * reach) context.drawImage(mask, dx, dy);
      }
    }
    context.globalCompositeOperation = "destination-out";
    context.drawImage(mask, 0, 0);
    context.globalCompositeOperation = "source-in";
    context.fillStyle = antsPattern(context);
    context.fillRect(0, 0, width, height);
    context.globalCompositeOperation = "source-over";
  }

  commit(operation) {
    this.log.push(operation);
    this.undone = [];
    this.drawOutline();
    this.changed();
  }

  undo() {
    if (!this.log.length) return;
    const operation = this.log.pop();
    this.undone.push(operation);
    if (operation.kind === "photo") this.render(); else this.redraw();
    this.changed();
  }

  redo() {
    if (!this.undone.length) return;
    const operation = this.undone.pop();
    this.log.push(operation);
    if (operation.kind === "photo") this.render(); else this.redraw();
    this.changed();
  }

  clear() {
    if (this.hasPhoto && this.holePixels()) {
      this.commit({ kind: "clear" });
      this.redraw();
    }
  }

  // A mask image (white or painted alpha = hole), stretched to the photo if its size differs.
  loadMaskFile(bitmap) {
    const { canvas, holes } = holeCanvas(bitmap, this.mask.width, this.mask.height);
    this.commit({ kind: "file", canvas });
    this.redraw();
    return holes;
  }

  // A selection from the server (white = the object), added to the mask. `request` is what
  // was asked (kept so that growing it again replaces this step instead of adding one).
  addSelection(bitmap, request) {
    const { canvas, holes } = holeCanvas(bitmap, this.mask.width, this.mask.height);
    this.setCompare(null);
    this.commit({ kind: "select", canvas, request });
    this.redraw();
    return holes;
  }

  lastSelection() {
    const last = this.log[this.log.length - 1];
    return last && last.kind === "select" ? last : null;
  }

  // The last step, a selection, redone with another answer (a new grow).
  replaceSelection(bitmap, request) {
    const last = this.lastSelection();
    if (!last) return 0;
    const { canvas, holes } = holeCanvas(bitmap, this.mask.width, this.mask.height);
    last.canvas = canvas;
    last.request = request;
    this.redraw();
    this.changed();
    return holes;
  }

  holePixels() {
    const { width, height } = this.mask;
    const data = this.mask.getContext("2d").getImageData(0, 0, width, height).data;
    let holes = 0;
    for (let i = 3; i < data.length; i += 4) holes += data[i] > 0;
    return holes;
  }

  maskBlob() {
    return new Promise((resolve) => this.mask.toBlob(resolve, "image/png"));
  }

  // --- the view ---------------------------------------------------------------------------

  applyView() {
    const { zoom, x, y } = this.view;
    this.sheet.style.transform = `translate(${x}px, ${y}px) scale(${zoom})`;
    this.sheet.classList.toggle("pixelated", zoom >= 3);
    this.placeDivider();
    if (Math.min(1, zoom) !== this.outlineScale) {
      clearTimeout(this.outlineTimer);  // redrawn once the zoom settles
      this.outlineTimer = setTimeout(() => this.drawOutline(), 120);
    }
    this.changed();
  }

  fit() {
    if (!this.hasPhoto) return;
    const box = this.stage.getBoundingClientRect();
    const zoom = Math.min(8, (box.width - 24) / this.photo.width, (box.height - 24) / this.photo.height);
    this.view.zoom = Math.max(MIN_ZOOM, zoom);
    this.view.x = (box.width - this.photo.width * this.view.zoom) / 2;
    this.view.y = (box.height - this.photo.height * this.view.zoom) / 2;
    this.applyView();
  }

  // Zoom by `factor`, keeping the point under (clientX, clientY) (default: the centre) fixed.
  zoomBy(factor, clientX, clientY) {
    if (!this.hasPhoto) return;
    const box = this.stage.getBoundingClientRect();
    const px = (clientX ?? box.left + box.width / 2) - box.left;
    const py = (clientY ?? box.top + box.height / 2) - box.top;
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.zoom * factor));
    this.view.x = px - ((px - this.view.x) * zoom) / this.view.zoom;
    this.view.y = py - ((py - this.view.y) * zoom) / this.view.zoom;
    this.view.zoom = zoom;
    this.applyView();
  }

  toPhoto(event) {
    const box = this.stage.getBoundingClientRect();
    return {
      x: (event.clientX - box.left - this.view.x) / this.view.zoom,
      y: (event.clientY - box.top - this.view.y) / this.view.zoom,
    };
  }

  // --- pointer input ----------------------------------------------------------------------

  setTool(tool) {
    this.tool = tool;
    this.updateCursor();
    this.changed();
  }

  panning(event) {
    return this.tool === "pan" || this.spaceHeld || event.button === 1;
  }

  listen() {
    const stage = this.stage;
    stage.addEventListener("pointerdown", (event) => this.down(event));
    stage.addEventListener("pointermove", (event) => this.move(event));
    stage.addEventListener("pointerup", (event) => this.up(event));
    stage.addEventListener("pointercancel", (event) => this.up(event, true));
    stage.addEventListener("pointerleave", () => { this.cursor.hidden = true; });
    stage.addEventListener("wheel", (event) => {
      event.preventDefault();
      this.zoomBy(Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)), event.clientX, event.clientY);
    }, { passive: false });
    window.addEventListener("resize", () => this.fit());
  }

  // Two fingers: whatever one finger started is dropped, and they pinch to zoom and pan.
  startPinch() {
    if (this.stroke) {
      this.stroke = null;
      this.redraw();
    }
    this.selecting = null;
    this.marquee.hidden = true;
    this.drag = null;
    const [a, b] = [...this.pointers.values()];
    this.pinch = {
      distance: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)),
      middle: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 },
      view: { ...this.view },
    };
  }

  movePinch() {
    const [a, b] = [...this.pointers.values()];
    const box = this.stage.getBoundingClientRect();
    const start = this.pinch;
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM,
      (start.view.zoom * Math.hypot(a.x - b.x, a.y - b.y)) / start.distance));
    const middle = { x: (a.x + b.x) / 2 - box.left, y: (a.y + b.y) / 2 - box.top };
    const from = { x: start.middle.x - box.left, y: start.middle.y - box.top };
    // The photo point under the fingers' first middle stays under their middle now.
    this.view.x = middle.x - ((from.x - start.view.x) * zoom) / start.view.zoom;
    this.view.y = middle.y - ((from.y - start.view.y) * zoom) / start.view.zoom;
    this.view.zoom = zoom;
    this.applyView();
  }

  down(event) {
    if (!this.hasPhoto || (event.button !== 0 && event.button !== 1)) return;
    event.preventDefault();
    this.stage.setPointerCapture(event.pointerId);
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (event.pointerType === "touch" && this.pointers.size === 2) return this.startPinch();
    if (this.pointers.size > 1 || this.pinch) return;
    if (this.panning(event)) {
      this.drag = { x: event.clientX - this.view.x, y: event.clientY - this.view.y };
      this.stage.classList.add("panning");
      return;
    }
    if (this.compare !== null) this.setCompare(null);  // edit what you see
    const point = this.toPhoto(event);
    if (this.tool === "select") {
      this.selecting = { from: point, screen: { x: event.clientX, y: event.clientY }, to: point };
      return;
    }
    this.stroke = { kind: this.tool, width: this.size / this.view.zoom, points: [point] };
    this.segment(this.mask.getContext("2d"), this.stroke, point, point);
  }

  move(event) {
    this.placeCursor(event);
    if (this.pointers.has(event.pointerId)) {
      this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    }
    if (this.pinch) {
      if (this.pointers.size >= 2) this.movePinch();
    } else if (this.drag) {
      this.view.x = event.clientX - this.drag.x;
      this.view.y = event.clientY - this.drag.y;
      this.applyView();
    } else if (this.selecting) {
      this.selecting.to = this.toPhoto(event);
      this.placeMarquee(event);
    } else if (this.stroke) {
      const point = this.toPhoto(event);
      const points = this.stroke.points;
      this.segment(this.mask.getContext("2d"), this.stroke, points[points.length - 1], point);
      points.push(point);
    }
  }

  up(event, cancelled = false) {
    this.pointers.delete(event.pointerId);
    if (this.pinch) {
      if (!this.pointers.size) this.pinch = null;  // every finger up: the next touch paints
      return;
    }
    if (this.drag) {
      this.drag = null;
      this.stage.classList.remove("panning");
    }
    if (this.selecting) {
      const { from, screen } = this.selecting;
      const to = this.toPhoto(event);
      this.selecting = null;
      this.marquee.hidden = true;
      const moved = Math.hypot(event.clientX - screen.x, event.clientY - screen.y);
      if (!cancelled && this.onSelect) {
        this.onSelect(moved < CLICK_PX
          ? { point: [from.x, from.y] }
          : { box: [from.x, from.y, to.x, to.y] });
      }
    }
    if (this.stroke) {
      const stroke = this.stroke;
      this.stroke = null;
      this.commit(stroke);
    }
  }

  placeMarquee(event) {
    const box = this.stage.getBoundingClientRect();
    const { x, y } = this.selecting.screen;
    const style = this.marquee.style;
    style.left = `${Math.min(x, event.clientX) - box.left}px`;
    style.top = `${Math.min(y, event.clientY) - box.top}px`;
    style.width = `${Math.abs(event.clientX - x)}px`;
    style.height = `${Math.abs(event.clientY - y)}px`;
    this.marquee.hidden = false;
  }

  placeCursor(event) {
    const box = this.stage.getBoundingClientRect();
    this.cursor.style.left = `${event.clientX - box.left}px`;
    this.cursor.style.top = `${event.clientY - box.top}px`;
    this.cursor.hidden = !this.hasPhoto || event.pointerType === "touch" || !this.paints();
  }

  paints() {
    return (this.tool === "brush" || this.tool === "eraser") && !this.spaceHeld;
  }

  updateCursor() {
    this.cursor.style.width = this.cursor.style.height = `${this.size}px`;
    this.cursor.classList.toggle("eraser", this.tool === "eraser");
    const pan = this.tool === "pan" || this.spaceHeld;
    this.stage.classList.toggle("pan", pan);
    this.stage.classList.toggle("paint", this.paints() && this.hasPhoto);
    this.stage.classList.toggle("select", this.tool === "select" && !pan);
    if (!this.paints()) this.cursor.hidden = true;
  }

  setSize(size) {
    this.size = Math.round(Math.min(300, Math.max(4, size)));
    this.updateCursor();
    this.changed();
  }

  changed() {
    this.onChange && this.onChange(this);
  }
}
