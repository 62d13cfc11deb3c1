"""The job queue of the web page: one inpainting at a time, in a worker thread.

A job goes queued -> running -> done | failed | cancelled; a queued job can also be
cancelled before it starts. Every change is an event in the job's list (`Job.events_since`),
which the page receives as Server-Sent Events. A running job is cancelled through its
progress callback: `npsynth.inpaint` calls it at the start and end of every level and after
every L-BFGS iteration (`optimize`), and the callback raises `Cancelled`, which stops the run
there and frees the worker.
Results are PNG bytes kept in memory; only the last `keep` finished jobs are kept.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np

from npsynth import api, hub
from npsynth.config.inpaint import PyramidConfig
from npsynth.serve.estimate import TimeModel, compile_seconds, hole_plan
from npsynth.serve.uploads import encode_png

log = logging.getLogger(__name__)

FINAL = ("done", "failed", "cancelled")
# The fields of `npsynth.pyramid.Progress` passed on to the page.
PROGRESS_FIELDS = ("level", "levels", "size", "iteration", "iterations", "loss", "done")
# (image float [H, W, 3], mask float [H, W, 1], *, config, progress) -> result with `.image`.
InpaintFn = Callable[..., object]


class Cancelled(Exception):
    """Raised from the progress callback to stop a job the page cancelled."""


class QueueFull(Exception):
    """Too many jobs are waiting."""


@dataclasses.dataclass(frozen=True)
class JobRequest:
    """What to inpaint and how."""

    image: np.ndarray  # uint8 [H, W, 3] RGB
    hole: np.ndarray  # bool [H, W], True = hole
    config: PyramidConfig


def job_plan(config: PyramidConfig, hole: np.ndarray) -> list[dict]:
    """The levels a job works at, each with its share of the work, for the page's progress bar.

    Each level: its (height, width) in the window around this hole (`pyramid.context_window`),
    its iterations (where the method has them) and `weight`, its share of the method's cost
    model (`npsynth.methods.Method.work`): the share of the run's time it is expected to take.
    """
    from npsynth.methods import METHODS

    sizes, fraction = hole_plan(config, hole)
    work = METHODS[config.method].work(config, sizes, fraction)
    iterations = (
        config.per_scale_iterations()[len(config.scales) - len(sizes) :]
        if hasattr(config, "per_scale_iterations")
        else [1] * len(sizes)
    )
    return [
        {"size": [int(h), int(w)], "iterations": int(n), "weight": cost / sum(work)}
        for (h, w), n, cost in zip(sizes, iterations, work)
    ]


def progress_event(progress) -> dict:
    """The page's view of a `npsynth.pyramid.Progress`: plain JSON values."""
    values = {name: getattr(progress, name, None) for name in PROGRESS_FIELDS}
    if values["size"] is not None:
        values["size"] = [int(n) for n in values["size"]]
    loss = values["loss"]
    values["loss"] = float(loss) if loss is not None and math.isfinite(float(loss)) else None
    values["done"] = bool(values["done"])
    return values


class Job:
    """One inpainting request and what has happened to it (thread-safe)."""

    def __init__(self, request: JobRequest):
        self.id = uuid.uuid4().hex
        self.request = request
        self.status = "queued"
        self.message = ""
        self.result_png: bytes | None = None
        self.seconds: float | None = None
        self.cancel_requested = threading.Event()
        self._events: list[dict] = []
        self._lock = threading.Lock()

    def add_event(self, kind: str, **data) -> None:
        """Append an event; a final one also sets the status."""
        with self._lock:
            if kind in FINAL:
                self.status = kind
            elif kind == "started":
                self.status = "running"
            self._events.append({"id": len(self._events), "event": kind, "data": data})

    def events_since(self, index: int) -> list[dict]:
        """The events numbered `index` and later."""
        with self._lock:
            return self._events[index:]

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def summary(self) -> dict:
        """The job's state as JSON values."""
        with self._lock:
            return {
                "id": self.id,
                "status": self.status,
                "message": self.message,
                "seconds": self.seconds,
                "method": self.request.config.method,
                "scales": list(self.request.config.scales),
                "events": len(self._events),
            }


class JobQueue:
    """Runs jobs one at a time in a worker thread, in the order they came."""

    def __init__(
        self,
        inpaint: InpaintFn = api.inpaint,
        *,
        time_model: TimeModel | None = None,
        max_waiting: int = 8,
        keep: int = 16,
    ):
        self.inpaint = inpaint
        self.time_model = time_model or TimeModel()
        self.max_waiting = max_waiting
        self.keep = keep
        self._jobs: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self._waiting: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="npsynth-serve-worker", daemon=True)
        self._thread.start()

    def submit(self, request: JobRequest) -> Job:
        """Queue `request`; raises QueueFull when `max_waiting` jobs are waiting already."""
        job = Job(request)
        with self._lock:
            ahead = [j for j in self._jobs.values() if not j.finished]
            if sum(j.status == "queued" for j in ahead) >= self.max_waiting:
                raise QueueFull(f"{self.max_waiting} jobs are waiting already; try again later")
            self._jobs[job.id] = job
            self._forget_old()
        estimate = self.time_model.estimate(request.config, request.hole.shape, request.hole)
        plan = job_plan(request.config, request.hole)
        job.add_event("queued", position=len(ahead), estimate=estimate, plan=plan)
        self._waiting.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Cancel `job`: at once when it waits, at its next progress call when it runs."""
        job.cancel_requested.set()
        with self._lock:
            if job.status == "queued":
                job.add_event("cancelled", message="cancelled before it started")

    def close(self, timeout: float = 10.0) -> None:
        """Cancel every job and stop the worker (waits up to `timeout` s for a running job)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if not job.finished:
                self.cancel(job)
        self._waiting.put(None)
        self._thread.join(timeout)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished]
        for job_id in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job_id]

    def _work(self) -> None:
        while (job := self._waiting.get()) is not None:
            with self._lock:
                if job.cancel_requested.is_set():
                    continue  # cancelled while it waited; its event is out already
                job.add_event("started")
            self._run(job)

    def _run(self, job: Job) -> None:
        request = job.request

        def on_progress(progress) -> None:
            if job.cancel_requested.is_set():
                raise Cancelled
            job.add_event("progress", **progress_event(progress))

        start, compiled = time.perf_counter(), compile_seconds()
        try:
            result = self.inpaint(
                request.image.astype(np.float32) / 255.0,
                request.hole[..., None].astype(np.float32),
                config=request.config,
                progress=on_progress,
            )
            if job.cancel_requested.is_set():
                raise Cancelled
            png = encode_png(result.image)
        except Cancelled:
            job.add_event("cancelled", message="cancelled")
            return
        except (ValueError, FileNotFoundError) as error:
            job.message = str(error)
            job.add_event("failed", message=job.message)
            return
        except Exception as error:  # a job must never take the worker down
            log.exception("job %s failed", job.id)
            job.message = f"internal error: {type(error).__name__}: {error}"
            job.add_event("failed", message=job.message)
            return
        job.seconds = time.perf_counter() - start
        job.result_png = png
        compiling = compile_seconds() - compiled
        self.time_model.record(
            request.config, request.hole.shape, job.seconds, request.hole, compiling
        )
        job.add_event("done", seconds=job.seconds, compiling=compiling)


def load_networks() -> None:
    """Load every network the page's methods use, once per process (`npsynth.hub` keeps them)."""
    hub.default_vgg()
    for kind in ("content_net", "feature2image", "image2feature"):
        for path in hub.candidates(kind):
            hub.load(kind, path)
