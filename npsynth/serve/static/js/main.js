// The page: open a photo, paint or select, pick fast or best, run, watch progress, get the result.

import * as api from "./api.js";
import { Editor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const ACCEPTED = ["image/jpeg", "image/png", "image/webp"];
const MAX_SCALES = 6, MAX_SCALE = 4096;  // as the server checks them (npsynth/serve/app.py)
const ESTIMATE_DELAY_MS = 400;  // typing: ask for an estimate once the keys rest this long
const state = {
  info: null,       // /api/info
  job: null,        // { id, stop, started, estimate, plan, fraction, text, timer }
  result: null,     // { blob, url }
  busy: false,      // a photo is being opened or a job submitted
  selecting: false, // a selection is being worked out
};

const editor = new Editor($("stage"), updateControls, select);
window.npsynthEditor = editor;  // for the browser test and the console

// The photo the editor shows now (after undo and redo too): { id, name, width, height }.
const photo = () => editor.photoMeta();

// --- messages -------------------------------------------------------------------------------

function say(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
}

const seconds = (s) => (s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} min`);

// --- opening photos and masks ---------------------------------------------------------------

function checkFile(file, what) {
  if (file.type && !ACCEPTED.includes(file.type)) {
    throw new Error(`${file.name || "this file"} is ${file.type}: open a JPEG, PNG or WebP ${what}`);
  }
  const limit = state.info && state.info.limits.max_bytes;
  if (limit && file.size > limit) {
    throw new Error(`${file.name || "this file"} is ${(file.size / 2 ** 20).toFixed(1)} MiB; ` +
      `this server takes at most ${Math.round(limit / 2 ** 20)} MiB`);
  }
}

async function decode(blob, what) {
  try {
    return await createImageBitmap(blob);
  } catch {
    throw new Error(`cannot open ${blob.name || `the ${what}`}: it is not a JPEG, PNG or WebP image the browser can read`);
  }
}

// Upload and decode a photo: { bitmap, meta }.
async function readPhoto(blob, name) {
  checkFile(blob, "photo");
  const [bitmap, upload] = await Promise.all([decode(blob, "photo"), api.uploadPhoto(blob)]);
  if (bitmap.width !== upload.width || bitmap.height !== upload.height) {
    throw new Error(`the browser shows this photo at ${bitmap.width}x${bitmap.height} but the server ` +
      `reads ${upload.width}x${upload.height} (EXIF orientation?); save it as a PNG and open that`);
  }
  return { bitmap, meta: { id: upload.id, name, width: upload.width, height: upload.height } };
}

async function openPhoto(blob, name) {
  if (!blob || state.busy) return;
  if (state.job) return say("A job is running: wait for it, or cancel it, before opening another photo.", "error");
  state.busy = true;
  updateControls();
  say(`Opening ${name}…`);
  try {
    const { bitmap, meta } = await readPhoto(blob, name);
    clearResult();
    editor.setPhoto(bitmap, meta);
    $("hint").hidden = true;
    say(`${name}: ${meta.width}x${meta.height}. Paint over what should disappear, or select it (S).`);
    refreshEstimate();
  } catch (error) {
    say(error.message, "error");
  } finally {
    state.busy = false;
    updateControls();
  }
}

async function openMask(file) {
  if (!file) return;
  if (!photo()) return say("Open the photo first, then its mask.", "error");
  try {
    checkFile(file, "mask");
    const holes = editor.loadMaskFile(await decode(file, "mask"));
    say(holes ? `Mask ${file.name}: ${holes} pixels to fill.` : `Mask ${file.name} is empty (no white or painted pixel).`,
      holes ? "info" : "error");
  } catch (error) {
    say(error.message, "error");
  }
}

const baseName = (name) => (name || "photo").replace(/\.[^.]*$/, "").replace(/_filled$/, "");

// --- selecting an object --------------------------------------------------------------------

// A box or a click from the editor: the server proposes the object's mask (GrabCut, seeded by
// the box or click and what is painted already), which joins the mask as one undoable step.
async function select(where) {
  if (!photo() || state.selecting) return;
  state.selecting = true;
  updateControls();
  say("Selecting…");
  try {
    const request = { image: photo().id, ...where };
    if (editor.holePixels()) request.mask = (await api.uploadMask(await editor.maskBlob())).id;
    const bitmap = await askSelection(request);
    const holes = editor.addSelection(bitmap, request);
    say(`Selected ${holes} pixels: refine with the brush and eraser, grow it with the slider.`);
  } catch (error) {
    say(`Cannot select: ${error.message}`, "error");
  } finally {
    state.selecting = false;
    updateControls();
  }
}

async function askSelection(request) {
  const blob = await api.selectObject({ ...request, grow: Number($("grow").value) });
  return decode(blob, "selection");
}

// The grow slider let go: the last step, when it is a selection, is worked out again.
async function regrow() {
  const last = editor.lastSelection();
  if (!last || state.selecting) return;
  state.selecting = true;
  try {
    const holes = editor.replaceSelection(await askSelection(last.request), last.request);
    say(`Selected ${holes} pixels (grown by ${$("grow").value} px).`);
  } catch (error) {
    say(`Cannot select: ${error.message}`, "error");
  } finally {
    state.selecting = false;
    updateControls();
  }
}

// --- method, scales, estimate ---------------------------------------------------------------

function choice() {
  return document.querySelector("input[name=choice]:checked").value;
}

// The method and settings of the checked choice, as /api/info gives them.
function choiceDefaults() {
  return state.info ? state.info.choices[choice()] : null;
}

// The scales the fast choice uses: it works at the first and pastes up to the last (the
// scales between them change nothing), so only those two are shown.
function shownScales(defaults) {
  const all = defaults.scales;
  return defaults.levels === 1 && all.length > 2 ? [all[0], all[all.length - 1]] : all;
}

// The scales typed, or an Error that says what is wrong (the server's rules, checked here
// so that a half-typed value never becomes a failing request).
function scales() {
  const text = $("scales").value.trim();
  if (!/^\d+(\s*,\s*\d+)*$/.test(text)) throw new Error("scales: whole numbers of pixels separated by commas, e.g. 128,256,512");
  const values = text.split(",").map((s) => Number(s.trim()));
  if (values.length > MAX_SCALES || values.some((s) => s < 1 || s > MAX_SCALE)) {
    throw new Error(`scales: at most ${MAX_SCALES} of them, each 1 to ${MAX_SCALE} px`);
  }
  return values;
}

function iterations() {
  const value = Number($("iterations").value);
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new Error("iterations: a whole number, 1 to 1000");
  return value;
}

function jobSettings() {
  const defaults = choiceDefaults();
  if (!defaults) throw new Error("the page is still loading its settings");
  const settings = { preset: defaults.preset, method: defaults.method, scales: scales() };
  if (defaults.levels) settings.levels = defaults.levels;
  if (settings.method === "optimize") settings.iterations = iterations();
  return settings;
}

function choiceChanged() {
  const defaults = choiceDefaults();
  if (defaults) {
    $("scales").value = shownScales(defaults).join(",");
    if (defaults.iterations) $("iterations").value = defaults.iterations;
  }
  const fast = Boolean(defaults && defaults.levels === 1);
  $("scales-note").hidden = !fast;
  $("iterations-box").hidden = !defaults || defaults.method !== "optimize";
  $("iterations-label").textContent = fast ? "Iterations (first scale)" : "Iterations per scale";
  markFields(false);
  refreshEstimate();
}

// Red fields and the reason, only once a value is done with (change, blur), never while typed.
function markFields(show) {
  let problem = null;
  for (const [id, check] of [["scales", scales], ["iterations", iterations]]) {
    let wrong = false;
    try { check(); } catch (error) { wrong = true; problem = problem || error.message; }
    $(id).classList.toggle("invalid", show && wrong);
  }
  if (show && problem) showEstimate(problem, true);
  return !problem;
}

function showEstimate(text, error = false) {
  const line = $("estimate");
  line.textContent = text;
  line.classList.toggle("error", error);
}

let estimateTurn = 0, estimateTimer = null;

// Typing: the estimate follows once the keys rest, and only for a value that could be sent.
function typed() {
  clearTimeout(estimateTimer);
  for (const id of ["scales", "iterations"]) $(id).classList.remove("invalid");
  let ready = true;
  try { jobSettings(); } catch { ready = false; }
  if (ready) estimateTimer = setTimeout(refreshEstimate, ESTIMATE_DELAY_MS);
}

function settled() {
  clearTimeout(estimateTimer);
  if (markFields(true)) refreshEstimate();
}

async function refreshEstimate() {
  const turn = ++estimateTurn;
  if (!photo()) return;
  let settings;
  try {
    settings = jobSettings();
  } catch {
    return;  // said on change/blur (markFields)
  }
  try {
    // With a painted mask the estimate counts its hole; without, a quarter of the window.
    const mask = editor.holePixels() ? (await api.uploadMask(await editor.maskBlob())).id : null;
    if (turn !== estimateTurn) return;
    const estimate = await api.getEstimate({ image: photo().id, mask, ...settings });
    if (turn !== estimateTurn) return;
    const basis = estimate.basis === "measured" ? "from the last job on this machine" : "a first guess: no job has run here yet";
    showEstimate(`About ${seconds(estimate.seconds)} (${basis}).`);
  } catch (error) {
    if (turn === estimateTurn) showEstimate(error.message, true);
  }
}

// --- running a job --------------------------------------------------------------------------

async function run() {
  if (!photo() || state.job || state.busy) return;
  let settings;
  try {
    settings = jobSettings();
  } catch (error) {
    markFields(true);
    return say(error.message, "error");
  }
  if (!editor.holePixels()) return say("The mask is empty: paint over what should disappear, or select it, first.", "error");
  state.busy = true;
  editor.setCompare(null);  // the photo and the mask being filled, not the last result
  updateControls();
  try {
    const mask = await api.uploadMask(await editor.maskBlob());
    const job = await api.submitJob({ image: photo().id, mask: mask.id, ...settings });
    state.job = { id: job.id, started: performance.now(), estimate: null, plan: null, fraction: 0, text: "Queued…" };
    state.job.stop = api.watchJob(job.id, handlers);
    state.job.timer = setInterval(renderProgress, 1000);  // the times tick between events
    showProgress(0, "Queued…");
    say("");
  } catch (error) {
    say(error.message, "error");
  } finally {
    state.busy = false;
    updateControls();
  }
}

// The share of the job done at level `level` with `within` (0..1) of it done: levels weigh
// what the server's plan expects them to cost (pixels x iterations), else the same.
function jobFraction(level, levels, within) {
  const plan = state.job.plan;
  if (!plan || plan.length !== levels) return (level + within) / levels;
  const before = plan.slice(0, level).reduce((sum, step) => sum + step.weight, 0);
  return before + plan[level].weight * within;
}

const handlers = {
  queued({ position, estimate, plan }) {
    state.job.estimate = estimate.seconds;
    state.job.plan = plan || null;
    showProgress(0, position ? `Waiting for ${position} job(s) ahead…` : "Starting…");
  },
  started() {
    state.job.started = performance.now();
    showProgress(0, "Starting (the first run compiles for a while)…");
  },
  progress(p) {
    const within = p.done ? 1 : p.iterations ? p.iteration / p.iterations : 0;
    const size = p.size ? ` at ${p.size[1]}x${p.size[0]} px` : "";
    const steps = p.iterations ? `, iteration ${p.iteration} of ${p.iterations}` : "";
    const loss = p.loss != null ? `, loss ${p.loss.toPrecision(4)}` : "";
    const what = p.done ? "done" : "working";
    showProgress(jobFraction(p.level, p.levels, within), `Scale ${p.level + 1} of ${p.levels}${size}: ${what}${steps}${loss}`);
  },
  async done({ seconds: took }) {
    const id = state.job.id;
    finishJob();
    try {
      const blob = await api.fetchResult(id);
      showResult(blob, await decode(blob, "result"));
      say(`Done in ${seconds(took)}. Compare with A or the slider, download, or keep editing.`, "ok");
      refreshEstimate();
    } catch (error) {
      say(error.message, "error");
    }
  },
  failed({ message }) {
    finishJob();
    say(`The job failed: ${message}`, "error");
  },
  cancelled() {
    finishJob();
    say("Cancelled.");
  },
  lost() {
    finishJob();
    say("Lost the connection to the server; is `python -m eval.serve` still running?", "error");
  },
};

function showProgress(fraction, text) {
  if (!state.job) return;
  state.job.fraction = Math.min(1, Math.max(0, fraction));
  state.job.text = text;
  renderProgress();
}

// The bar, the last event's text and the times, recomputed every second. Time left: the
// estimate less the time so far until a tenth is done, then the pace so far.
function renderProgress() {
  const job = state.job;
  if (!job) return;
  $("progress-box").hidden = false;
  $("progress").value = job.fraction;
  const elapsed = (performance.now() - job.started) / 1000;
  let left = null;
  if (job.fraction >= 0.1) left = (elapsed * (1 - job.fraction)) / job.fraction;
  else if (job.estimate) left = Math.max(0, job.estimate - elapsed);
  const leftText = left === null ? "" : `, about ${seconds(left)} left`;
  $("progress-text").textContent = `${job.text} (${seconds(elapsed)}${leftText})`;
}

function finishJob() {
  if (state.job) {
    state.job.stop();
    clearInterval(state.job.timer);
  }
  state.job = null;
  $("progress-box").hidden = true;
  updateControls();
}

async function cancel() {
  if (!state.job) return;
  say("Cancelling…");
  try {
    await api.cancelJob(state.job.id);
  } catch (error) {
    say(error.message, "error");
  }
}

// --- the result -----------------------------------------------------------------------------

function showResult(blob, bitmap) {
  clearResult();
  state.result = { blob, url: URL.createObjectURL(blob), name: `${baseName(photo().name)}_filled.png` };
  editor.showResult(bitmap);
  $("download").download = state.result.name;
  updateControls();
}

function clearResult() {
  if (state.result) URL.revokeObjectURL(state.result.url);
  state.result = null;
  editor.hideResult();
}

// The result becomes the photo, with an empty mask; Undo goes back to the photo before it.
async function keepEditing() {
  if (!state.result || state.job || state.busy) return;
  const { blob, name } = state.result;
  state.busy = true;
  updateControls();
  try {
    const { bitmap, meta } = await readPhoto(blob, name);
    clearResult();
    editor.keepPhoto(bitmap, meta);
    say(`${name}: ${meta.width}x${meta.height}, the result as the new photo (Undo goes back).`);
    refreshEstimate();
  } catch (error) {
    say(error.message, "error");
  } finally {
    state.busy = false;
    updateControls();
  }
}

// --- controls -------------------------------------------------------------------------------

function updateControls() {
  const ready = Boolean(photo()) && !state.busy;
  const running = Boolean(state.job);
  $("run").disabled = !ready || running;
  $("cancel").hidden = !running;
  $("undo").disabled = !editor.log.length;
  $("redo").disabled = !editor.undone.length;
  $("clear").disabled = !editor.log.length;
  $("mask-only").setAttribute("aria-pressed", String(editor.maskOnly));
  $("mask-only").classList.toggle("active", editor.maskOnly);
  $("result-box").hidden = !state.result;
  // While a job runs, the last result is not this job's: nothing offers it as if it were.
  const usable = Boolean(state.result) && !running && !state.busy;
  for (const id of ["toggle", "keep", "compare"]) $(id).disabled = !usable;
  const download = $("download");
  download.classList.toggle("disabled", !usable);
  download.setAttribute("aria-disabled", String(!usable));
  if (usable) download.href = state.result.url; else download.removeAttribute("href");
  $("toggle").textContent = editor.showingResult ? "Show before" : "Show after";
  $("compare").value = editor.compare === null ? 0 : Math.round(editor.compare * 100);
  $("zoom-value").textContent = `${Math.round(editor.view.zoom * 100)}%`;
  $("size").value = editor.size;
  $("size-value").textContent = editor.size;
  $("grow-value").textContent = $("grow").value;
  $("stage").classList.toggle("waiting", state.selecting);
  for (const button of document.querySelectorAll(".tool")) {
    button.classList.toggle("active", button.dataset.tool === editor.tool);
  }
}

function toggleCompare() {
  if (state.result && !state.job) editor.setShowingResult(!editor.showingResult);
}

function wire() {
  $("file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) openPhoto(file, file.name);
  });
  $("mask-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    openMask(file);
  });
  for (const button of document.querySelectorAll(".tool")) {
    button.addEventListener("click", () => editor.setTool(button.dataset.tool));
  }
  $("size").addEventListener("input", (event) => editor.setSize(Number(event.target.value)));
  $("grow").addEventListener("input", updateControls);
  $("grow").addEventListener("change", regrow);
  $("undo").addEventListener("click", () => editor.undo());
  $("redo").addEventListener("click", () => editor.redo());
  $("clear").addEventListener("click", () => editor.clear());
  $("mask-only").addEventListener("click", () => editor.setMaskOnly(!editor.maskOnly));
  $("zoom-in").addEventListener("click", () => editor.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => editor.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => editor.fit());
  for (const radio of document.querySelectorAll("input[name=choice]")) radio.addEventListener("change", choiceChanged);
  for (const id of ["scales", "iterations"]) {
    $(id).addEventListener("input", typed);
    $(id).addEventListener("change", settled);  // also on leaving the field after a change
  }
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  $("toggle").addEventListener("click", toggleCompare);
  $("compare").addEventListener("input", (event) => editor.setCompare(Number(event.target.value) / 100));
  $("keep").addEventListener("click", keepEditing);
  $("download").addEventListener("click", (event) => {
    if (!$("download").getAttribute("href")) event.preventDefault();
  });

  const stage = $("stage");
  stage.addEventListener("dragover", (event) => { event.preventDefault(); stage.classList.add("dragging"); });
  stage.addEventListener("dragleave", () => stage.classList.remove("dragging"));
  stage.addEventListener("drop", (event) => {
    event.preventDefault();
    stage.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) openPhoto(file, file.name);
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => event.preventDefault());
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.kind === "file");
    const file = item && item.getAsFile();
    if (file) openPhoto(file, file.name && file.name !== "image.png" ? file.name : "pasted.png");
  });
  document.addEventListener("keydown", keyDown);
  document.addEventListener("keyup", (event) => {
    if (event.code === "Space") { editor.spaceHeld = false; editor.updateCursor(); }
  });
}

function keyDown(event) {
  const target = event.target;
  const control = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (target.matches && target.matches("input[type=text], input[type=number]")) {
    if (key === "enter" && !control) {  // a value typed: check it, then run
      event.preventDefault();
      if (markFields(true)) run();
    }
    return;
  }
  const actions = {
    b: () => editor.setTool("brush"),
    e: () => editor.setTool("eraser"),
    s: () => editor.setTool("select"),
    h: () => editor.setTool("pan"),
    m: () => editor.setMaskOnly(!editor.maskOnly),
    "[": () => editor.setSize(editor.size / 1.2),
    "]": () => editor.setSize(editor.size * 1.2),
    "+": () => editor.zoomBy(1.25),
    "=": () => editor.zoomBy(1.25),
    "-": () => editor.zoomBy(0.8),
    f: () => editor.fit(),
    a: toggleCompare,
    enter: run,
    escape: cancel,
  };
  if (control && key === "z") {
    event.preventDefault();
    return event.shiftKey ? editor.redo() : editor.undo();
  }
  if (control && key === "y") {
    event.preventDefault();
    return editor.redo();
  }
  if (event.code === "Space" && !control) {
    event.preventDefault();
    editor.spaceHeld = true;
    editor.updateCursor();
    return;
  }
  if (!control && !event.altKey && actions[key]) {
    // Enter runs wherever the focus is: after a click on a button it must not press it again.
    event.preventDefault();
    actions[key]();
  }
}

async function start() {
  wire();
  editor.setSize(40);
  updateControls();
  try {
    state.info = await api.getInfo();
    choiceChanged();
  } catch (error) {
    say(error.message, "error");
  }
}

start();
