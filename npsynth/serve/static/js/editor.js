// The photo stage: zoom and pan, the mask brush and eraser, undo and redo, before/after.
//
// The mask is a canvas at the photo's own resolution: painted pixels are opaque (hole), the
// rest transparent (known). It is exported as that RGBA PNG; the server takes alpha > 0 as
// hole. Every edit is an operation in a log (a stroke, a clear, a mask file); undo and redo
// replay the log, so no snapshot of a large photo is ever kept.

const HOLE_COLOUR = "rgb(255, 40, 90)";
const MIN_ZOOM = 0.02, MAX_ZOOM = 32;

export class Editor {
  constructor(stage, onChange) {
    this.stage = stage;
    this.onChange = onChange;  // called after every edit and view change
    this.sheet = stage.querySelector("#sheet");
    this.photo = stage.querySelector("#photo");
    this.mask = stage.querySelector("#mask");
    this.result = stage.querySelector("#result");
    this.cursor = stage.querySelector("#cursor");
    this.view = { zoom: 1, x: 0, y: 0 };
    this.tool = "brush";
    this.size = 40;  // brush diameter in screen pixels
    this.log = [];
    this.undone = [];
    this.stroke = null;
    this.drag = null;
    this.spaceHeld = false;
    this.showingResult = false;
    this.hasPhoto = false;
    this.listen();
  }

  // --- photo and result -------------------------------------------------------------------

  setPhoto(bitmap) {
    const { width, height } = bitmap;
    for (const canvas of [this.photo, this.mask, this.result]) {
      canvas.width = width;
      canvas.height = height;
    }
    this.photo.getContext("2d").drawImage(bitmap, 0, 0);
    this.sheet.style.width = `${width}px`;
    this.sheet.style.height = `${height}px`;
    this.sheet.hidden = false;
    this.hasPhoto = true;
    this.log = [];
    this.undone = [];
    this.hideResult();
    this.redraw();
    this.fit();
  }

  showResult(bitmap) {
    this.result.getContext("2d").drawImage(bitmap, 0, 0, this.result.width, this.result.height);
    this.hasResult = true;
    this.setShowingResult(true);
  }

  hideResult() {
    this.hasResult = false;
    this.setShowingResult(false);
  }

  setShowingResult(show) {
    this.showingResult = Boolean(show && this.hasResult);
    this.result.hidden = !this.showingResult;
    this.mask.hidden = this.showingResult;
    this.changed();
  }

  // --- the mask ---------------------------------------------------------------------------

  redraw() {
    const context = this.mask.getContext("2d");
    context.globalCompositeOperation = "source-over";
    context.clearRect(0, 0, this.mask.width, this.mask.height);
    for (const operation of this.log) this.apply(context, operation);
  }

  apply(context, operation) {
    if (operation.kind === "clear") {
      context.clearRect(0, 0, this.mask.width, this.mask.height);
    } else if (operation.kind === "file") {
      context.globalCompositeOperation = "source-over";
      context.clearRect(0, 0, this.mask.width, this.mask.height);
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

  commit(operation) {
    this.log.push(operation);
    this.undone = [];
    this.changed();
  }

  undo() {
    if (!this.log.length) return;
    this.undone.push(this.log.pop());
    this.redraw();
    this.changed();
  }

  redo() {
    if (!this.undone.length) return;
    this.log.push(this.undone.pop());
    this.redraw();
    this.changed();
  }

  clear() {
    if (this.hasPhoto && this.log.length) {
      this.commit({ kind: "clear" });
      this.redraw();
    }
  }

  // A mask image (white or painted alpha = hole), stretched to the photo if its size differs.
  loadMaskFile(bitmap) {
    const { width, height } = this.mask;
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
      data[i] = 255; data[i + 1] = 40; data[i + 2] = 90; data[i + 3] = hole ? 255 : 0;
      holes += hole;
    }
    context.putImageData(pixels, 0, 0);
    this.commit({ kind: "file", canvas });
    this.redraw();
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
    stage.addEventListener("pointercancel", (event) => this.up(event));
    stage.addEventListener("pointerleave", () => { this.cursor.hidden = true; });
    stage.addEventListener("wheel", (event) => {
      event.preventDefault();
      this.zoomBy(Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)), event.clientX, event.clientY);
    }, { passive: false });
    window.addEventListener("resize", () => this.fit());
  }

  down(event) {
    if (!this.hasPhoto || (event.button !== 0 && event.button !== 1)) return;
    event.preventDefault();
    this.stage.setPointerCapture(event.pointerId);
    if (this.panning(event)) {
      this.drag = { x: event.clientX - this.view.x, y: event.clientY - this.view.y };
      this.stage.classList.add("panning");
      return;
    }
    if (this.showingResult) this.setShowingResult(false);  // paint on what you see
    const point = this.toPhoto(event);
    this.stroke = { kind: this.tool, width: this.size / this.view.zoom, points: [point] };
    this.segment(this.mask.getContext("2d"), this.stroke, point, point);
  }

  move(event) {
    this.placeCursor(event);
    if (this.drag) {
      this.view.x = event.clientX - this.drag.x;
      this.view.y = event.clientY - this.drag.y;
      this.applyView();
    } else if (this.stroke) {
      const point = this.toPhoto(event);
      const points = this.stroke.points;
      this.segment(this.mask.getContext("2d"), this.stroke, points[points.length - 1], point);
      points.push(point);
    }
  }

  up() {
    if (this.drag) {
      this.drag = null;
      this.stage.classList.remove("panning");
    }
    if (this.stroke) {
      const stroke = this.stroke;
      this.stroke = null;
      this.commit(stroke);
    }
  }

  placeCursor(event) {
    const box = this.stage.getBoundingClientRect();
    this.cursor.style.left = `${event.clientX - box.left}px`;
    this.cursor.style.top = `${event.clientY - box.top}px`;
    this.cursor.hidden = !this.hasPhoto || this.tool === "pan" || this.spaceHeld;
  }

  updateCursor() {
    this.cursor.style.width = this.cursor.style.height = `${this.size}px`;
    this.cursor.classList.toggle("eraser", this.tool === "eraser");
    const pan = this.tool === "pan" || this.spaceHeld;
    this.stage.classList.toggle("pan", pan);
    this.stage.classList.toggle("paint", !pan && this.hasPhoto);
    if (pan) this.cursor.hidden = true;
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
