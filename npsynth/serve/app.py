"""The web page's server: a Starlette app over the job queue and the upload store.

Routes (JSON unless said otherwise; errors are `{"error": message}`):

  GET  /                         the page (npsynth/serve/static/index.html)
  GET  /static/...               its scripts and styles, all shipped in the package
  GET  /api/info                 the page's choices (fast, best, translate: presets), upload limits
  POST /api/images               body: a JPEG/PNG/WebP photo -> {"id", "width", "height"}
  POST /api/masks                body: a mask image (alpha or white = hole) -> {"id", ...}
  POST /api/select               {"image", "box" | "point", "mask", "grow"} -> the selection
                                 (a PNG mask, white = hole; npsynth/serve/segment.py)
  GET  /api/estimate             ?image=ID&preset=...&method=...&scales=128,256[&levels=1&mask=ID] -> {"seconds", ...}
  POST /api/jobs                 {"image", "mask", "preset", "method", "scales", ...} -> {"id"}
  GET  /api/jobs/ID              the job's state
  GET  /api/jobs/ID/events       Server-Sent Events: queued, started, progress, done | failed
                                 | cancelled (resumes after the `Last-Event-ID` header)
  POST /api/jobs/ID/cancel       cancel it
  GET  /api/jobs/ID/result.png   the filled photo

Every request must name this server in its Host header (and in Origin when it has one):
that refuses DNS-rebinding pages and other sites' forms (`LocalOnly`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from npsynth import presets
from npsynth.config.checks import check_count
from npsynth.methods import METHODS
from npsynth.serve.jobs import JobQueue, JobRequest, QueueFull
from npsynth.serve.segment import select_object
from npsynth.serve.uploads import (
    Limits,
    UploadError,
    UploadStore,
    check_length,
    check_pair,
    decode_image,
    decode_mask,
    encode_png,
)

STATIC = Path(__file__).parent / "static"
# Fields of a job request besides image and mask, and the most a page may ask for.
JOB_FIELDS = ("scales", "iterations", "content", "levels")
MAX_SCALES, MAX_SCALE, MAX_ITERATIONS = 6, 4096, 1000
# The page's choices and the preset each runs (`npsynth.presets.PRESETS`).
CHOICES = {"fast": "fast", "best": "default", "translate": "translate"}
# Every response: assets only from this server (the page works offline, no CDN), no framing.
CSP = (
    b"default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
POLL_SECONDS, HEARTBEAT_SECONDS = 0.1, 15.0


def allowed_hosts(host: str, port: int) -> list[str]:
    """The Host header values naming a server at `host`:`port` (loopback: also localhost)."""
    name = f"[{host}]" if ":" in host else host
    names = [name] + (["localhost"] if host in ("127.0.0.1", "::1") else [])
    return [f"{n}:{port}" for n in names] + (names if port == 80 else [])


def refusal(host: str | None, origin: str | None, allowed: Sequence[str]) -> str | None:
    """Why a request with these headers is refused, or None when it names this server."""
    if host is None or host.strip().lower() not in allowed:
        return f"refused: Host {host!r} is not this server ({', '.join(allowed)})"
    if origin is not None and origin.strip().lower() not in {f"http://{h}" for h in allowed}:
        return f"refused: requests from {origin!r} are not served"
    return None


class LocalOnly:
    """ASGI middleware: refuse requests that do not name this server; add security headers."""

    def __init__(self, app, allowed: Sequence[str]):
        self.app = app
        self.allowed = [h.lower() for h in allowed]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        reason = refusal(headers.get("host"), headers.get("origin"), self.allowed)
        if reason is not None:
            return await PlainTextResponse(reason, status_code=403)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def job_config(body: dict):
    """The method config of a job request (a preset and/or a method, and settings), or a
    ValueError that says what is wrong."""
    preset, method = body.get("preset"), body.get("method")
    if preset is not None and preset not in presets.PRESETS:
        raise ValueError(f"preset must be one of {', '.join(presets.PRESETS)}, got {preset!r}")
    if method is not None and method not in METHODS or preset is None and method is None:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    fields = {name: body[name] for name in JOB_FIELDS if body.get(name) is not None}
    scales = fields.get("scales", ())
    if not isinstance(scales, (list, tuple)) or not all(isinstance(s, int) for s in scales):
        raise ValueError("scales must be a list of whole numbers of pixels, e.g. 128, 256")
    if len(scales) > MAX_SCALES or any(s > MAX_SCALE for s in scales):
        raise ValueError(f"at most {MAX_SCALES} scales of at most {MAX_SCALE} px each")
    check_count("iterations", fields.get("iterations", 1), high=MAX_ITERATIONS)
    check_count("levels", fields.get("levels", 1), high=MAX_SCALES)
    return presets.config(preset or "default", method=method, **fields)


def choice_info() -> dict:
    """Each of the page's choices: its preset, method and the settings the page shows."""
    info = {}
    for name, preset in CHOICES.items():
        config = presets.config(preset)
        info[name] = {
            "preset": preset, "method": config.method, "summary": presets.PRESETS[preset].summary,
            "scales": list(config.scales), "levels": config.levels,
        }  # fmt: skip
        if hasattr(config, "iterations"):
            info[name]["iterations"] = config.iterations
    return info


def method_info() -> dict:
    """Every registered method (`npsynth.methods.METHODS`) and its one-line summary."""
    return {name: method.summary for name, method in METHODS.items()}


def parse_scales(text: str) -> list[int]:
    """'128,256' -> [128, 256], or a ValueError."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"scales must be whole numbers separated by commas, got {text!r}")


def sse(event: dict) -> str:
    """One Server-Sent Event."""
    return f"id: {event['id']}\nevent: {event['event']}\ndata: {json.dumps(event['data'])}\n\n"


def create_app(
    jobs: JobQueue,
    *,
    hosts: Sequence[str],
    limits: Limits | None = None,
    uploads: UploadStore | None = None,
) -> Starlette:
    """The page's app. `hosts`: the Host header values it answers (`allowed_hosts`)."""
    limits = limits if limits is not None else Limits()
    uploads = uploads if uploads is not None else UploadStore()

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit():
            check_length(int(declared), limits)
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            check_length(total, limits)
            chunks.append(chunk)
        return b"".join(chunks)

    def find_job(request: Request):
        job = jobs.get(request.path_params["job_id"])
        if job is None:
            raise HTTPException(404, "no such job (finished long ago, or the server restarted)")
        return job

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def info(request: Request):
        return JSONResponse({
            "choices": choice_info(), "methods": method_info(),
            "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels},
        })  # fmt: skip

    async def add_image(request: Request):
        image = await run_in_threadpool(decode_image, await read_body(request), limits)
        upload_id = uploads.add("photo", image)
        return JSONResponse({"id": upload_id, "width": image.shape[1], "height": image.shape[0]})

    async def add_mask(request: Request):
        hole = await run_in_threadpool(decode_mask, await read_body(request), limits)
        upload_id = uploads.add("mask", hole)
        return JSONResponse({
            "id": upload_id, "width": hole.shape[1], "height": hole.shape[0],
            "hole_pixels": int(hole.sum()),
        })  # fmt: skip

    async def select(request: Request):
        try:
            body = json.loads(await read_body(request))
        except (ValueError, RecursionError):
            raise HTTPException(400, "the selection request must be a flat JSON object")
        if not isinstance(body, dict):
            raise HTTPException(400, "the selection request must be a JSON object")
        image = uploads.get("photo", str(body.get("image")))
        painted = uploads.get("mask", str(body["mask"])) if body.get("mask") else None
        if painted is not None:
            check_pair(image, painted)
        try:
            where = {k: [float(v) for v in body[k]] for k in ("box", "point") if body.get(k)}
            grow = int(body.get("grow") or 0)
            selected = await run_in_threadpool(
                select_object, image, painted=painted, grow=grow, **where
            )
        except (TypeError, ValueError) as error:
            raise HTTPException(400, str(error))
        except ImportError:
            raise HTTPException(501, "selecting needs OpenCV: pip install -e '.[serve]'")
        png = await run_in_threadpool(encode_png, selected.astype(np.uint8) * 255)
        return Response(png, media_type="image/png")

    async def estimate(request: Request):
        query = request.query_params
        image = uploads.get("photo", query.get("image", ""))
        try:
            config = job_config({
                "preset": query.get("preset"), "method": query.get("method"), "scales": parse_scales(query.get("scales", "")),
                "iterations": int(query["iterations"]) if query.get("iterations") else None,
                "levels": int(query["levels"]) if query.get("levels") else None,
            })  # fmt: skip
            hole = uploads.get("mask", query["mask"]) if query.get("mask") else None
            if hole is not None:  # the painted mask: the estimate counts its hole
                check_pair(image, hole)
            return JSONResponse(jobs.time_model.estimate(config, image.shape[:2], hole))
        except ValueError as error:
            raise HTTPException(400, str(error))

    async def submit(request: Request):
        try:
            body = json.loads(await read_body(request))
        except ValueError:
            raise HTTPException(400, "the job request must be a JSON object")
        except RecursionError:  # json's parser recurses once per level of nesting
            raise HTTPException(
                400, "the job request is nested too deeply: send a flat JSON object"
            )
        if not isinstance(body, dict):
            raise HTTPException(400, "the job request must be a JSON object")
        image = uploads.get("photo", str(body.get("image")))
        hole = uploads.get("mask", str(body.get("mask")))
        check_pair(image, hole)
        try:
            config = job_config(body)
            job = jobs.submit(JobRequest(image, hole, config))
        except ValueError as error:
            raise HTTPException(400, str(error))
        except QueueFull as error:
            raise HTTPException(503, str(error))
        return JSONResponse(job.summary(), status_code=202)

    async def job_state(request: Request):
        return JSONResponse(find_job(request).summary())

    async def events(request: Request):
        job = find_job(request)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream():
            index, beat = start, time.monotonic()
            while True:
                finished = job.finished  # read first: then every event up to the last is in
                for event in job.events_since(index):
                    index += 1
                    yield sse(event)
                if finished:
                    return
                if time.monotonic() - beat > HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    yield ": still running\n\n"
                await asyncio.sleep(POLL_SECONDS)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
        )

    async def cancel(request: Request):
        job = find_job(request)
        jobs.cancel(job)
        return JSONResponse(job.summary())

    async def result(request: Request):
        job = find_job(request)
        if job.result_png is None:
            raise HTTPException(409, f"the job has no result (it is {job.status})")
        return Response(job.result_png, media_type="image/png")

    async def http_error(request: Request, error: HTTPException):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    async def upload_error(request: Request, error: UploadError):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    routes = [
        Route("/", index),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/info", info),
        Route("/api/images", add_image, methods=["POST"]),
        Route("/api/masks", add_mask, methods=["POST"]),
        Route("/api/select", select, methods=["POST"]),
        Route("/api/estimate", estimate),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_state),
        Route("/api/jobs/{job_id}/events", events),
        Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job_id}/result.png", result),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await run_in_threadpool(jobs.close)  # cancel what runs, stop the worker

    return Starlette(
        routes=routes,
        middleware=[Middleware(LocalOnly, allowed=hosts)],
        exception_handlers={HTTPException: http_error, UploadError: upload_error},
        lifespan=lifespan,
    )
