// The server's API (npsynth/serve/app.py): every call returns parsed JSON or throws an Error
// whose message is the server's own explanation.

async function answer(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    const reason = body && body.error ? body.error : (text || response.statusText);
    throw new Error(reason);
  }
  return body;
}

export async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error("cannot reach the npsynth server: is `python -m eval.serve` still running?");
  }
  return answer(response);
}

export const getInfo = () => call("/api/info");

export const uploadPhoto = (blob) =>
  call("/api/images", { method: "POST", body: blob, headers: { "content-type": blob.type || "application/octet-stream" } });

export const uploadMask = (blob) =>
  call("/api/masks", { method: "POST", body: blob, headers: { "content-type": "image/png" } });

// The object a box or a click selects: { image, box: [x0, y0, x1, y1] | point: [x, y],
// mask (the painted mask's upload id, optional), grow } -> a PNG blob, white = the object.
export async function selectObject(request) {
  let response;
  try {
    response = await fetch("/api/select", {
      method: "POST", body: JSON.stringify(request), headers: { "content-type": "application/json" },
    });
  } catch {
    throw new Error("cannot reach the npsynth server: is `python -m eval.serve` still running?");
  }
  if (!response.ok) await answer(response);
  return response.blob();
}

export function getEstimate({ image, mask, preset, method, scales, iterations, levels }) {
  const query = new URLSearchParams({ image, method, scales: scales.join(",") });
  if (mask) query.set("mask", mask);
  if (preset) query.set("preset", preset);
  if (iterations) query.set("iterations", iterations);
  if (levels) query.set("levels", levels);
  return call(`/api/estimate?${query}`);
}

export const submitJob = (request) =>
  call("/api/jobs", { method: "POST", body: JSON.stringify(request), headers: { "content-type": "application/json" } });

export const cancelJob = (id) => call(`/api/jobs/${id}/cancel`, { method: "POST" });

export async function fetchResult(id) {
  const response = await fetch(`/api/jobs/${id}/result.png`);
  if (!response.ok) await answer(response);
  return response.blob();
}

// Follow a job's Server-Sent Events; `on` maps event names (queued, started, progress, done,
// failed, cancelled, lost) to handlers. Returns a function that stops listening.
export function watchJob(id, on) {
  const source = new EventSource(`/api/jobs/${id}/events`);
  let over = false;
  const stop = () => { over = true; source.close(); };
  for (const name of ["queued", "started", "progress"]) {
    source.addEventListener(name, (event) => on[name] && on[name](JSON.parse(event.data)));
  }
  for (const name of ["done", "failed", "cancelled"]) {
    source.addEventListener(name, (event) => { stop(); on[name] && on[name](JSON.parse(event.data)); });
  }
  source.onerror = () => {
    // EventSource reconnects by itself (resuming after the last event); give up only when closed.
    if (!over && source.readyState === EventSource.CLOSED) { stop(); on.lost && on.lost(); }
  };
  return stop;
}
