// The page: open a photo, paint, pick fast or best, run, watch progress, get the result.

import * as api from "./api.js";
import { Editor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const ACCEPTED = ["image/jpeg", "image/png", "image/webp"];
const state = {
  info: null,       // /api/info
  photo: null,      // { id, name, width, height }
  job: null,        // { id, stop, started, estimate }
  result: null,     // { blob, url }
  busy: false,      // a photo is being opened or a job submitted
};

const editor = new Editor($("stage"), updateControls);
window.npsynthEditor = editor;  // for the browser test and the console

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

async function openPhoto(blob, name) {
  if (!blob || state.busy) return;
  if (state.job) return say("A job is running: wait for it, or cancel it, before opening another photo.", "error");
  state.busy = true;
  updateControls();
  say(`Opening ${name}…`);
  try {
    checkFile(blob, "photo");
    const [bitmap, upload] = await Promise.all([decode(blob, "photo"), api.uploadPhoto(blob)]);
    if (bitmap.width !== upload.width || bitmap.height !== upload.height) {
      throw new Error(`the browser shows this photo at ${bitmap.width}x${bitmap.height} but the server ` +
        `reads ${upload.width}x${upload.height} (EXIF orientation?); save it as a PNG and open that`);
    }
    state.photo = { id: upload.id, name, width: upload.width, height: upload.height };
    clearResult();
    editor.setPhoto(bitmap);
    $("hint").hidden = true;
    say(`${name}: ${upload.width}x${upload.height}. Paint over what should disappear.`);
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
  if (!state.photo) return say("Open the photo first, then its mask.", "error");
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

// --- method, scales, estimate ---------------------------------------------------------------

function choice() {
  return document.querySelector("input[name=choice]:checked").value;
}

// The method and settings of the checked choice, as /api/info gives them.
function choiceDefaults() {
  return state.info ? state.info.choices[choice()] : null;
}

function scales() {
  const text = $("scales").value.trim();
  if (!/^\d+(\s*,\s*\d+)*$/.test(text)) throw new Error("scales: whole numbers of pixels separated by commas, e.g. 128,256,512");
  return text.split(",").map((s) => Number(s.trim()));
}

function jobSettings() {
  const defaults = choiceDefaults();
  if (!defaults) throw new Error("the page is still loading its settings");
  const settings = { preset: defaults.preset, method: defaults.method, scales: scales() };
  if (defaults.levels) settings.levels = defaults.levels;
  if (settings.method === "optimize") {
    const iterations = Number($("iterations").value);
    if (!Number.isInteger(iterations) || iterations < 1) throw new Error("iterations: a whole number, at least 1");
    settings.iterations = iterations;
  }
  return settings;
}

function choiceChanged() {
  const defaults = choiceDefaults();
  if (defaults) {
    $("scales").value = defaults.scales.join(",");
    if (defaults.iterations) $("iterations").value = defaults.iterations;
  }
  $("iterations-box").hidden = !defaults || defaults.method !== "optimize";
  refreshEstimate();
}

let estimateTurn = 0;
async function refreshEstimate() {
  const turn = ++estimateTurn;
  const line = $("estimate");
  $("scales").classList.remove("invalid");
  if (!state.photo) return;
  try {
    const estimate = await api.getEstimate({ image: state.photo.id, ...jobSettings() });
    if (turn !== estimateTurn) return;
    const basis = estimate.basis === "measured" ? "from the last job on this machine" : "a first guess: no job has run here yet";
    line.textContent = `About ${seconds(estimate.seconds)} (${basis}).`;
    line.classList.remove("message", "error");
  } catch (error) {
    if (turn !== estimateTurn) return;
    $("scales").classList.add("invalid");
    line.textContent = error.message;
    line.classList.add("message", "error");
  }
}

// --- running a job --------------------------------------------------------------------------

async function run() {
  if (!state.photo || state.job || state.busy) return;
  let settings;
  try {
    settings = jobSettings();
  } catch (error) {
    return say(error.message, "error");
  }
  if (!editor.holePixels()) return say("The mask is empty: paint over what should disappear first.", "error");
  state.busy = true;
  updateControls();
  try {
    const mask = await api.uploadMask(await editor.maskBlob());
    const job = await api.submitJob({ image: state.photo.id, mask: mask.id, ...settings });
    state.job = { id: job.id, started: performance.now(), estimate: null };
    state.job.stop = api.watchJob(job.id, handlers);
    showProgress(0, "Queued…");
    say("");
  } catch (error) {
    say(error.message, "error");
  } finally {
    state.busy = false;
    updateControls();
  }
}

const handlers = {
  queued({ position, estimate }) {
    state.job.estimate = estimate.seconds;
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
    showProgress((p.level + within) / p.levels, `Scale ${p.level + 1} of ${p.levels}${size}: ${what}${steps}${loss}`);
  },
  async done({ seconds: took }) {
    const id = state.job.id;
    finishJob();
    try {
      const blob = await api.fetchResult(id);
      showResult(blob, await decode(blob, "result"));
      say(`Done in ${seconds(took)}. Compare with A, download, or keep editing.`, "ok");
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
  $("progress-box").hidden = false;
  $("progress").value = Math.min(1, Math.max(0, fraction));
  const elapsed = state.job ? (performance.now() - state.job.started) / 1000 : 0;
  const left = state.job && state.job.estimate ? `, about ${seconds(Math.max(0, state.job.estimate - elapsed))} left` : "";
  $("progress-text").textContent = `${text} (${seconds(elapsed)}${left})`;
}

function finishJob() {
  if (state.job) state.job.stop();
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
  state.result = { blob, url: URL.createObjectURL(blob) };
  editor.showResult(bitmap);
  $("download").href = state.result.url;
  $("download").download = `${baseName(state.photo.name)}_filled.png`;
  updateControls();
}

function clearResult() {
  if (state.result) URL.revokeObjectURL(state.result.url);
  state.result = null;
  editor.hideResult();
}

function keepEditing() {
  if (!state.result) return;
  const blob = state.result.blob;
  openPhoto(blob, `${baseName(state.photo.name)}_filled.png`);
}

// --- controls -------------------------------------------------------------------------------

function updateControls() {
  const ready = Boolean(state.photo) && !state.busy;
  $("run").disabled = !ready || Boolean(state.job);
  $("cancel").hidden = !state.job;
  $("undo").disabled = !editor.log.length;
  $("redo").disabled = !editor.undone.length;
  $("clear").disabled = !editor.log.length;
  $("result-box").hidden = !state.result;
  $("toggle").textContent = editor.showingResult ? "Show before" : "Show after";
  $("zoom-value").textContent = `${Math.round(editor.view.zoom * 100)}%`;
  $("size").value = editor.size;
  $("size-value").textContent = editor.size;
  for (const button of document.querySelectorAll(".tool")) {
    button.classList.toggle("active", button.dataset.tool === editor.tool);
  }
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
  $("undo").addEventListener("click", () => editor.undo());
  $("redo").addEventListener("click", () => editor.redo());
  $("clear").addEventListener("click", () => editor.clear());
  $("zoom-in").addEventListener("click", () => editor.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => editor.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => editor.fit());
  for (const radio of document.querySelectorAll("input[name=choice]")) radio.addEventListener("change", choiceChanged);
  $("scales").addEventListener("input", refreshEstimate);
  $("iterations").addEventListener("input", refreshEstimate);
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", cancel);
  $("toggle").addEventListener("click", () => editor.setShowingResult(!editor.showingResult));
  $("keep").addEventListener("click", keepEditing);

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
  if (target.matches && target.matches("input[type=text], input[type=number]")) return;
  const control = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  const actions = {
    b: () => editor.setTool("brush"),
    e: () => editor.setTool("eraser"),
    h: () => editor.setTool("pan"),
    "[": () => editor.setSize(editor.size / 1.2),
    "]": () => editor.setSize(editor.size * 1.2),
    "+": () => editor.zoomBy(1.25),
    "=": () => editor.zoomBy(1.25),
    "-": () => editor.zoomBy(0.8),
    f: () => editor.fit(),
    a: () => editor.setShowingResult(!editor.showingResult),
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
    if (target.tagName === "BUTTON" && key === "enter") return;  // let the button click
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
