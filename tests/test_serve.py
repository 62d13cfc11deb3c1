"""npsynth.serve: the web page's API through Starlette's test client (uploads, jobs, progress,
cancel, bad uploads, limits, Host check), with a stand-in inpaint and one real translate run."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import re
import threading
import time
from types import SimpleNamespace

import jax
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the serve extra is not installed")
from starlette.testclient import TestClient

from eval import serve as serve_cli
from npsynth import api, presets, pyramid
from npsynth.config.inpaint import OptimizeConfig, TranslateConfig, config_for
from npsynth.serve import app as app_module
from npsynth.serve.app import allowed_hosts, create_app, refusal
from npsynth.serve.estimate import (
    TimeModel,
    compile_seconds,
    default_rates,
    job_work,
    level_plan,
    work_units,
)

DEFAULT_RATES = default_rates()
from npsynth.serve.jobs import JobQueue
from npsynth.serve.server import bind, page_url
from npsynth.serve.uploads import Limits

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
HOSTS = allowed_hosts("127.0.0.1", PORT)
TINY = {"scales": [32, 64], "content": "harmonic"}
TINY_WORK = (24 * 32 + 48 * 64) / 1e6  # megapixels of a 48 x 64 photo at scales 32, 64


def encode(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo_pixels(height: int = 48, width: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((height, width, 3)) * 255).astype(np.uint8)


def painted_mask(height: int = 48, width: int = 64, box=(10, 30, 20, 40)) -> np.ndarray:
    """An RGBA mask as the page sends it: opaque where painted, transparent elsewhere."""
    rgba = np.zeros((height, width, 4), np.uint8)
    top, bottom, left, right = box
    rgba[top:bottom, left:right] = (255, 40, 90, 255)
    return rgba


def make_progress(**values) -> pyramid.Progress:
    """A `pyramid.Progress` with the given fields (the rest None, or 0 s)."""
    defaults = {f.name: None for f in dataclasses.fields(pyramid.Progress)} | {"seconds": 0.0}
    return pyramid.Progress(**(defaults | values))


def invert_hole(image, mask, *, config, progress):
    """A stand-in inpaint: reports every level of `config.scales`, inverts the hole."""
    for level, scale in enumerate(config.scales):
        common = {"level": level, "levels": len(config.scales), "size": (scale, scale)}
        progress(make_progress(**common, iteration=0, iterations=3, loss=None, done=False))
        progress(make_progress(**common, iteration=3, iterations=3, loss=1.5, done=True))
    return SimpleNamespace(image=np.where(mask > 0, 1.0 - image, image))


class Blocking:
    """A stand-in inpaint that reports progress until cancelled or released."""

    def __init__(self):
        self.started, self.release, self.calls = threading.Event(), threading.Event(), 0

    def __call__(self, image, mask, *, config, progress):
        self.calls += 1
        self.started.set()
        for step in range(2000):  # bounded: at most 20 s
            progress(make_progress(level=0, levels=1, size=(8, 8), iteration=step,
                                   iterations=2000, loss=None, done=False))  # fmt: skip
            if self.release.is_set():
                break
            time.sleep(0.01)
        return SimpleNamespace(image=image)


@pytest.fixture
def serve_with():
    """serve_with(inpaint, **options) -> a TestClient of a fresh app; closed afterwards."""
    with contextlib.ExitStack() as stack:

        def make(inpaint, *, limits=None, max_waiting=8):
            app = create_app(JobQueue(inpaint, max_waiting=max_waiting), hosts=HOSTS, limits=limits)
            return stack.enter_context(TestClient(app, base_url=BASE))

        yield make


def upload(client, pixels=None, mask=None) -> tuple[str, str]:
    photo = client.post("/api/images", content=encode(photo_pixels() if pixels is None else pixels))
    assert photo.status_code == 200, photo.text
    hole = client.post("/api/masks", content=encode(painted_mask() if mask is None else mask))
    assert hole.status_code == 200, hole.text
    return photo.json()["id"], hole.json()["id"]


def events(client, job_id: str, headers=None) -> list[tuple[int, str, dict]]:
    """Every Server-Sent Event of a job, to its last: (id, event, data)."""
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    found = re.findall(r"id: (\d+)\nevent: (\w+)\ndata: (.*)\n\n", text)
    return [(int(i), name, json.loads(data)) for i, name, data in found]


def run_job(client, **fields) -> tuple[str, list]:
    image, mask = upload(client)
    response = client.post("/api/jobs", json={"image": image, "mask": mask} | fields)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    return job_id, events(client, job_id)


def test_only_requests_naming_this_server_pass():
    assert allowed_hosts("127.0.0.1", 8765) == ["127.0.0.1:8765", "localhost:8765"]
    assert allowed_hosts("::1", 9000) == ["[::1]:9000", "localhost:9000"]
    assert allowed_hosts("192.0.2.7", 80) == ["192.0.2.7:80", "192.0.2.7"]
    assert refusal("127.0.0.1:8765", None, HOSTS) is None
    assert refusal("LOCALHOST:8765", "http://localhost:8765", HOSTS) is None
    assert "Host" in refusal("attacker.example:8765", None, HOSTS)  # DNS rebinding
    assert "Host" in refusal("127.0.0.1:8766", None, HOSTS)
    assert "Host" in refusal(None, None, HOSTS)
    assert "from" in refusal("127.0.0.1:8765", "http://attacker.example", HOSTS)
    assert "from" in refusal("127.0.0.1:8765", "null", HOSTS)


def test_requests_with_a_foreign_host_or_origin_are_refused(serve_with):
    client = serve_with(invert_hole)
    assert client.get("/api/info").status_code == 200
    refused = client.get("/api/info", headers={"host": f"rebind.example:{PORT}"})
    assert refused.status_code == 403 and "not this server" in refused.text
    assert client.get("/", headers={"host": "testserver"}).status_code == 403
    cross_site = client.post(
        "/api/images", content=encode(photo_pixels()), headers={"origin": "http://evil.example"}
    )
    assert cross_site.status_code == 403
    same_site = client.post("/api/images", content=encode(photo_pixels()), headers={"origin": BASE})
    assert same_site.status_code == 200


def test_page_and_every_asset_it_names_are_served_locally(serve_with):
    client = serve_with(invert_hole)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/js/main.js" in assets and "/static/style.css" in assets
    for path in sorted(app_module.STATIC.rglob("*")):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"(?:src|href|url|import)[^\n]*https?://", text), path  # no CDN
            for module in re.findall(r'from "\./([\w.]+)"', text):
                assert (path.parent / module).is_file(), module
            url = "/static/" + path.relative_to(app_module.STATIC).as_posix()
            assert client.get(url).status_code == 200, url


def test_info_gives_each_choice_its_method_and_defaults(serve_with):
    info = serve_with(invert_hole).get("/api/info").json()
    choices = info["choices"]
    best = {"preset": "default", "method": "optimize", "scales": list(OptimizeConfig().scales),
            "levels": None, "iterations": OptimizeConfig().iterations}  # fmt: skip
    summary = {name: choices[name].pop("summary") for name in choices}
    assert summary["fast"] == presets.PRESETS["fast"].summary
    assert choices["best"] == best
    # optimize, first level only
    assert choices["fast"] == best | {"preset": "fast", "levels": 1}
    translate = {"preset": "translate", "method": "translate",
                 "scales": list(TranslateConfig().scales), "levels": None}  # fmt: skip
    assert choices["translate"] == translate
    assert set(info["methods"]) == {"optimize", "translate"}
    assert info["limits"]["max_bytes"] == Limits().max_bytes


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("JPEG", {"quality": 95}), ("WEBP", {})])
def test_photos_in_each_accepted_format_are_decoded(serve_with, fmt, options):
    client = serve_with(invert_hole)
    answer = client.post("/api/images", content=encode(photo_pixels(30, 50), fmt, **options))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["width"], answer.json()["height"]) == (50, 30)


def test_exif_orientation_is_applied_as_browsers_do(serve_with):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated a quarter turn (portrait)
    data = encode(photo_pixels(30, 50), "JPEG", exif=exif.tobytes())
    answer = serve_with(invert_hole).post("/api/images", content=data).json()
    assert (answer["width"], answer["height"]) == (30, 50)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"this is not a picture at all", "is not a JPEG, PNG or WebP image"),
        (encode(photo_pixels())[:200], "not a complete"),  # truncated PNG
        (encode(photo_pixels(), "GIF"), "is not a JPEG, PNG or WebP image"),  # other decoders off
        (encode(photo_pixels(), "BMP"), "is not a JPEG, PNG or WebP image"),
    ],
)
def test_bad_uploads_get_a_clear_message_and_the_server_stays_up(serve_with, data, words):
    client = serve_with(invert_hole)
    for route in ("/api/images", "/api/masks"):
        answer = client.post(route, content=data)
        assert answer.status_code == 400 and words in answer.json()["error"]
    assert client.post("/api/images", content=encode(photo_pixels())).status_code == 200


def test_uploads_over_the_byte_or_pixel_limit_are_refused(serve_with):
    client = serve_with(invert_hole, limits=Limits(max_bytes=20_000, max_pixels=3000))
    big = client.post("/api/images", content=b"\0" * 20_001)
    assert big.status_code == 413 and "at most 20 KiB per file" in big.json()["error"]
    wide = client.post("/api/images", content=encode(np.zeros((50, 61, 3), np.uint8)))
    assert wide.status_code == 413 and "megapixels" in wide.json()["error"]
    assert client.post("/api/images", content=encode(np.zeros((50, 60, 3), np.uint8))).is_success


def test_a_body_without_length_is_refused_once_past_the_limit_not_read_whole():
    """Guards the request body reader's per-chunk limit: a body sent without Content-Length
    is refused as soon as it passes the limit, not read whole first."""
    jobs = JobQueue(invert_hole)
    app = create_app(jobs, hosts=HOSTS, limits=Limits(max_bytes=1000))
    received, sent = [], []

    async def receive():  # an endless upload in 100-byte chunks (up to 1000 of them)
        received.append(100)
        return {"type": "http.request", "body": b"\0" * 100, "more_body": len(received) < 1000}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/images", "raw_path": b"/api/images", "root_path": "",
        "query_string": b"", "headers": [(b"host", f"127.0.0.1:{PORT}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", PORT),
    }  # fmt: skip
    try:
        asyncio.run(app(scope, receive, send))
    finally:
        jobs.close()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and "at most 1 KiB per file" in json.loads(body)["error"]
    assert len(received) == 11  # 1100 bytes: the first chunk past the limit, and no more


def test_masks_are_read_from_painted_alpha_or_white(serve_with):
    client = serve_with(invert_hole)
    painted = client.post("/api/masks", content=encode(painted_mask())).json()
    assert painted["hole_pixels"] == 20 * 20
    white = np.zeros((48, 64), np.uint8)
    white[5:10, 5:15] = 255
    white[20:30, 20:30] = 100  # below the threshold: known
    assert client.post("/api/masks", content=encode(white)).json()["hole_pixels"] == 50


@pytest.mark.parametrize(
    "mask, words",
    [
        (np.zeros((48, 64, 4), np.uint8), "empty"),
        (painted_mask(box=(0, 48, 0, 64)), "whole photo"),
        (painted_mask(40, 64), "paint the mask on this photo"),
    ],
)
def test_unusable_masks_are_refused_before_any_job(serve_with, mask, words):
    calls = []
    client = serve_with(lambda *a, **k: calls.append(1))
    image, hole = upload(client, mask=mask)
    answer = client.post("/api/jobs", json={"image": image, "mask": hole, "method": "translate"})
    assert answer.status_code == 400 and words in answer.json()["error"]
    assert not calls


@pytest.mark.parametrize(
    "fields, status, words",
    [
        ({"method": "paint"}, 400, "method must be"),
        ({}, 400, "method must be"),
        ({"preset": "quick"}, 400, "preset must be one of default, fast"),
        ({"preset": "translate", "iterations": 5}, 400, "iterations is a setting of method"),
        ({"method": "translate", "scales": [64, 32]}, 400, "increasing"),
        ({"method": "translate", "scales": "/etc/passwd"}, 400, "list of whole numbers"),
        ({"method": "translate", "scales": [8192]}, 400, "at most"),
        ({"method": "translate", "iterations": 5}, 400, "iterations is a setting of method"),
        (
            {"method": "optimize", "iterations": 10**6},
            400,
            "iterations must be a whole number from 1 to 1000",
        ),
        (
            {"method": "optimize", "levels": 0},
            400,
            "levels must be a whole number from 1 to 6, got 0",
        ),
        ({"method": "optimize", "levels": "1"}, 400, "levels must be a whole number"),
        (
            {"method": "optimize", "levels": 99},
            400,
            "levels must be a whole number from 1 to 6, got 99",
        ),
        ({"method": "translate", "image": "nope"}, 404, "no photo with this id"),
    ],
)
def test_bad_job_requests_are_refused_with_a_message(serve_with, fields, status, words):
    client = serve_with(invert_hole)
    image, mask = upload(client)
    answer = client.post("/api/jobs", json={"image": image, "mask": mask} | fields)
    assert answer.status_code == status and words in answer.json()["error"], answer.text
    assert client.post("/api/jobs", content=b"{not json").status_code == 400


def test_a_job_streams_its_levels_and_its_result_is_the_filled_photo(serve_with):
    seen = []
    client = serve_with(lambda *args, **kwargs: seen.append(kwargs) or invert_hole(*args, **kwargs))
    job_id, stream = run_job(client, method="translate", **TINY)
    names = [name for _, name, _ in stream]
    assert names == ["queued", "started"] + ["progress"] * 4 + ["done"]
    assert [i for i, _, _ in stream] == list(range(7))
    levels = [(d["level"], d["levels"], d["size"], d["done"]) for _, n, d in stream[2:6]]
    assert levels == [(0, 2, [32, 32], False), (0, 2, [32, 32], True),
                      (1, 2, [64, 64], False), (1, 2, [64, 64], True)]  # fmt: skip
    assert stream[3][2]["loss"] == 1.5 and stream[3][2]["iteration"] == 3
    assert seen[0]["config"] == config_for("translate", scales=(32, 64), content="harmonic")
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "done"
    assert events(client, job_id, headers={"last-event-id": "4"}) == stream[5:]  # resumes

    result = client.get(f"/api/jobs/{job_id}/result.png")
    assert result.headers["content-type"] == "image/png"
    filled = np.asarray(Image.open(io.BytesIO(result.content)))
    hole = painted_mask()[..., 3] > 0
    np.testing.assert_array_equal(filled[~hole], photo_pixels()[~hole])
    np.testing.assert_array_equal(filled[hole], 255 - photo_pixels()[hole])

    _, stream = run_job(client, method="optimize", iterations=3, **TINY)
    assert stream[-1][1] == "done"
    assert seen[1]["config"] == config_for(
        "optimize", scales=(32, 64), content="harmonic", iterations=3
    )


def test_cancel_stops_a_running_job_and_frees_the_worker(serve_with):
    blocking = Blocking()
    client = serve_with(blocking)
    image, mask = upload(client)
    job = client.post("/api/jobs", json={"image": image, "mask": mask, "method": "translate"})
    job_id = job.json()["id"]
    assert blocking.started.wait(10)
    assert client.get("/api/info").status_code == 200  # the page is not blocked meanwhile
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "running"
    assert client.get(f"/api/jobs/{job_id}/result.png").status_code == 409
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    stream = events(client, job_id)
    assert stream[-1][1] == "cancelled" and "progress" in [n for _, n, _ in stream]
    assert client.get(f"/api/jobs/{job_id}/result.png").status_code == 409

    blocking.release.set()
    after = client.post("/api/jobs", json={"image": image, "mask": mask, "method": "translate"})
    assert events(client, after.json()["id"])[-1][1] == "done"
    assert blocking.calls == 2


def test_jobs_run_one_at_a_time_and_a_waiting_job_can_be_cancelled(serve_with):
    blocking = Blocking()
    client = serve_with(blocking, max_waiting=1)
    image, mask = upload(client)
    body = {"image": image, "mask": mask, "method": "translate"}
    first = client.post("/api/jobs", json=body).json()["id"]
    assert blocking.started.wait(10)
    second = client.post("/api/jobs", json=body).json()["id"]
    full = client.post("/api/jobs", json=body)
    assert full.status_code == 503 and "waiting" in full.json()["error"]
    assert client.get(f"/api/jobs/{second}").json()["status"] == "queued"

    client.post(f"/api/jobs/{second}/cancel")
    assert client.get(f"/api/jobs/{second}").json()["status"] == "cancelled"
    waited = events(client, second)
    assert [n for _, n, _ in waited] == ["queued", "cancelled"]
    assert waited[0][2]["position"] == 1  # one job ahead of it
    blocking.release.set()
    assert events(client, first)[-1][1] == "done"
    third = client.post("/api/jobs", json=body).json()["id"]
    assert events(client, third)[-1][1] == "done"
    assert blocking.calls == 2  # the first and the third: the cancelled job never ran


@pytest.mark.parametrize(
    "error, words",
    [(ValueError("the hole is too large"), "the hole is too large"),
     (RuntimeError("boom"), "internal error: RuntimeError: boom")],
)  # fmt: skip
def test_a_failed_job_reports_why_and_frees_the_worker(serve_with, error, words):
    calls = []

    def failing_once(image, mask, *, config, progress):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return invert_hole(image, mask, config=config, progress=progress)

    client = serve_with(failing_once)
    job_id, stream = run_job(client, method="translate", **TINY)
    assert stream[-1][1] == "failed" and stream[-1][2]["message"] == words
    assert client.get(f"/api/jobs/{job_id}").json()["message"] == words
    assert run_job(client, method="translate", **TINY)[1][-1][1] == "done"


def test_unknown_jobs_are_404(serve_with):
    client = serve_with(invert_hole)
    for path in ("/api/jobs/abc", "/api/jobs/abc/events", "/api/jobs/abc/result.png"):
        assert client.get(path).status_code == 404
    assert client.post("/api/jobs/abc/cancel").status_code == 404


def test_a_job_takes_a_preset_and_the_pages_settings_on_top():
    paper = app_module.job_config({"preset": "paper", "iterations": 3, "scales": [32, 64]})
    assert paper == presets.config("paper", iterations=3, scales=(32, 64))
    assert paper.texture.nn_update == "every_eval"  # the preset's settings the page lacks
    both = app_module.job_config({"preset": "tiny", "method": "translate"})
    assert both == presets.config("tiny", method="translate")
    assert app_module.job_config({"method": "translate"}) == TranslateConfig()


def test_work_is_megapixels_times_iterations_per_level():
    assert level_plan((48, 64), (32, 64)) == [(24, 32), (48, 64)]
    assert level_plan((1000, 2000), (128, 256)) == [(128, 128), (256, 256)]  # window >= 256
    sizes = [(24, 32), (48, 64)]
    assert work_units(TranslateConfig(scales=(32, 64)), sizes) == pytest.approx(TINY_WORK)
    optimize = OptimizeConfig(scales=(32, 64), iterations=(10, 3))
    assert work_units(optimize, sizes) == pytest.approx((24 * 32 * 10 + 48 * 64 * 3) / 1e6)
    skipped = OptimizeConfig(scales=(16, 32, 64), iterations=(7, 10, 3))  # 16 px level skipped
    assert level_plan((48, 64), skipped.scales) == sizes
    assert work_units(skipped, sizes) == pytest.approx(work_units(optimize, sizes))
    first = OptimizeConfig(scales=(32, 64), iterations=(10, 3), levels=1)  # the fast choice
    assert work_units(first, sizes) == pytest.approx(24 * 32 * 10 / 1e6)
    first_skipped = OptimizeConfig(scales=(16, 32, 64), iterations=(7, 10, 3), levels=1)
    assert work_units(first_skipped, sizes) == pytest.approx(24 * 32 * 10 / 1e6)


def test_estimate_uses_the_default_rate_then_the_last_job():
    model = TimeModel()
    config = TranslateConfig(scales=(256, 512))
    first = model.estimate(config, (512, 512))
    assert first["basis"] == "default"
    assert first["seconds"] == pytest.approx(DEFAULT_RATES["translate"] * (256**2 + 512**2) / 1e6)
    model.record(config, (512, 512), 2.0)
    assert model.estimate(config, (512, 512)) == {"seconds": 2.0, "basis": "measured"}
    small = model.estimate(config, (256, 256))["seconds"]  # levels 128 and 256 px
    assert small == pytest.approx(2.0 * (128**2 + 256**2) / (256**2 + 512**2))
    assert model.estimate(OptimizeConfig(), (512, 512))["basis"] == "default"
    fast, best = OptimizeConfig(levels=1), OptimizeConfig()  # rates of their own
    assert model.estimate(fast, (512, 512)) == {
        "seconds": pytest.approx(DEFAULT_RATES["optimize levels=1"] * 128**2 * 15 / 1e6),
        "basis": "default",
    }
    model.record(best, (512, 512), 100.0)
    assert model.estimate(best, (512, 512)) == {"seconds": 100.0, "basis": "measured"}
    assert model.estimate(fast, (512, 512))["basis"] == "default"


def test_work_counts_the_window_vgg_sees_around_the_hole():
    # relu4_1 sees 30 px before and 37 after: the window reaches 67 px past the hole.
    config = OptimizeConfig(iterations=(10, 5, 3))  # 128, 256, 512 px
    sizes = [(128, 128), (256, 256), (512, 512)]
    # A centred hole of a quarter of the level: its side is half the level's, plus 2 x 67.
    expected = [128 * 128 * 10, 256 * 256 * 5, (256 + 134) ** 2 * 3]  # capped at the level
    assert work_units(config, sizes, 0.25) == pytest.approx(sum(expected) / 1e6)
    assert work_units(config, sizes) == pytest.approx((128**2 * 10 + 256**2 * 5 + 512**2 * 3) / 1e6)
    # A 100 x 100 hole in a 1000 x 2000 photo: a 300 x 300 window around it (context 1),
    # worked at 128 and 256 px; the hole is a ninth of it, a third of each side.
    best = OptimizeConfig(scales=(128, 256), iterations=(10, 5))
    hole = np.zeros((1000, 2000), bool)
    hole[500:600, 1000:1100] = True
    expected = 128 * 128 * 10 + (256 / 3 + 134) ** 2 * 5
    assert job_work(best, hole.shape, hole) == pytest.approx(expected / 1e6)
    assert job_work(best, hole.shape, None) == pytest.approx((128**2 * 10 + 256**2 * 5) / 1e6)


def test_the_rate_leaves_out_compilation():
    model = TimeModel()
    config = OptimizeConfig(scales=(128, 256), iterations=(10, 5))
    hole = np.zeros((256, 256), bool)
    hole[100:150, 100:150] = True
    assert model.estimate(config, hole.shape, hole)["seconds"] == pytest.approx(
        DEFAULT_RATES["optimize"] * job_work(config, hole.shape, hole)
    )
    model.record(config, hole.shape, 30.0, hole, compiling=20.0)
    assert model.estimate(config, hole.shape, hole) == {"seconds": 10.0, "basis": "measured"}
    before = compile_seconds()
    jax.jit(lambda x: x * 3 + 1)(np.arange(7.0)).block_until_ready()  # a new program
    assert compile_seconds() > before


# Jobs timed one after another in one process on this project's 2-core CPU machine (shared
# with other sessions' test runs at the time, load average 9-11) by
# `python -m eval.bench progress --timings` (issue 41): photo (height, width), hole box (top,
# bottom, left, right), preset, scales, seconds, of which compiling.
RECORDED_JOBS = [
    ((512, 512), (192, 320, 192, 320), "fast", (128, 256, 512), 40.32, 7.95),
    ((512, 512), (128, 384, 160, 400), "fast", (128, 256, 512), 19.73, 0.67),
    ((768, 1024), (300, 450, 400, 600), "fast", (128, 256, 512), 64.54, 34.85),
    ((256, 256), (64, 192, 64, 192), "default", (64, 128, 256), 246.21, 52.87),
    ((256, 256), (32, 112, 120, 220), "default", (64, 128, 256), 185.12, 55.84),
]


def recorded_job(index):
    size, (top, bottom, left, right), preset, scales, seconds, compiling = RECORDED_JOBS[index]
    hole = np.zeros(size, bool)
    hole[top:bottom, left:right] = True
    return presets.config(preset, scales=scales), hole, seconds, compiling


def test_the_second_job_on_a_photo_is_estimated_within_a_quarter_of_its_time():
    # Best at 64, 128, 256 px, then a smaller hole in the same photo: its 256 px level works
    # in a smaller window (and compiles for it again). Counting the hole and leaving out the
    # first job's compilation gives 158 s for 185 s; the whole levels with the first job's
    # compilation gave 246 s (+33 %).
    model = TimeModel()
    config, hole, seconds, compiling = recorded_job(3)
    model.record(config, hole.shape, seconds, hole, compiling)
    config, hole, seconds, _ = recorded_job(4)
    estimate = model.estimate(config, hole.shape, hole)["seconds"]
    assert abs(estimate - seconds) <= 0.25 * seconds
    # Not checked: the fast choice's pair (jobs 0 and 1, the same work) ran at 1.8 and 1.0 s
    # per iteration on the loaded machine, so 32 s was estimated for 20 s (+64 %); job 2, a
    # new photo size, compiled for 35 of its 65 s.


def test_estimate_route_answers_for_an_uploaded_photo(serve_with):
    client = serve_with(invert_hole)
    image, _ = upload(client)
    query = {"image": image, "method": "translate", "scales": "32,64"}
    answer = client.get("/api/estimate", params=query).json()
    assert answer["basis"] == "default"
    assert answer["seconds"] == pytest.approx(DEFAULT_RATES["translate"] * TINY_WORK)
    bad = client.get("/api/estimate", params=query | {"scales": "64,x"})
    assert bad.status_code == 400 and "separated by commas" in bad.json()["error"]
    run_job(client, method="translate", **TINY)
    assert client.get("/api/estimate", params=query).json()["basis"] == "measured"


def test_the_estimate_route_counts_the_painted_mask(serve_with):
    # A 32 px hole in a 512 px photo at 256, 512 px: VGG-19 sees the hole's 16 and 32 px plus
    # 67 px on each side. Without the mask, a quarter of the photo is taken as hole (its
    # 128 and 256 px, at most the level).
    client = serve_with(invert_hole)
    image, mask = upload(
        client, photo_pixels(512, 512), painted_mask(512, 512, (240, 272, 240, 272))
    )
    query = {"image": image, "method": "optimize", "scales": "256,512"}
    rate = DEFAULT_RATES["optimize"]
    answer = client.get("/api/estimate", params=query | {"mask": mask}).json()
    assert answer["seconds"] == pytest.approx(rate * (150**2 + 166**2) * 15 / 1e6)
    answer = client.get("/api/estimate", params=query).json()
    assert answer["seconds"] == pytest.approx(rate * (256**2 + 390**2) * 15 / 1e6)
    _, other = upload(client, photo_pixels(), painted_mask())  # the mask of another photo
    assert client.get("/api/estimate", params=query | {"mask": other}).status_code == 400


def test_command_line_flags_and_the_address():
    args = serve_cli.parse_args(["--port", "8123", "--open"])
    assert (args.port, args.open, args.host) == (8123, True, "127.0.0.1")
    with pytest.raises(SystemExit):
        serve_cli.parse_args(["--port", "70000"])
    assert page_url("127.0.0.1", 8123) == "http://127.0.0.1:8123/"
    assert page_url("::1", 8123) == "http://[::1]:8123/"
    with bind("127.0.0.1", 0) as sock:
        assert sock.getsockname()[1] > 0
        with pytest.raises(OSError, match="pick another --port"):
            bind("127.0.0.1", sock.getsockname()[1])


def test_a_real_translate_job_fills_only_the_hole(serve_with, photo):
    pixels = np.round(photo * 255).astype(np.uint8)  # 64 x 64
    mask = painted_mask(64, 64, box=(20, 40, 24, 44))
    client = serve_with(api.inpaint)
    image, hole_id = upload(client, pixels, mask)
    body = {"image": image, "mask": hole_id, "method": "translate"} | TINY
    job_id = client.post("/api/jobs", json=body).json()["id"]
    stream = events(client, job_id)
    assert stream[-1][1] == "done", stream[-1]
    progress = [d for _, n, d in stream if n == "progress"]
    levels = {(d["level"], d["levels"], tuple(d["size"])) for d in progress}
    assert levels == {(0, 2, (32, 32)), (1, 2, (64, 64))} and progress[-1]["done"]
    result = client.get(f"/api/jobs/{job_id}/result.png")
    filled = np.asarray(Image.open(io.BytesIO(result.content)))
    hole = mask[..., 3] > 0
    np.testing.assert_array_equal(filled[~hole], pixels[~hole])
    assert np.abs(filled[hole].astype(int) - pixels[hole]).mean() > 2


def test_a_real_fast_job_works_at_the_first_level_only(serve_with, photo):
    pixels = np.round(photo * 255).astype(np.uint8)  # 64 x 64
    mask = painted_mask(64, 64, box=(20, 40, 24, 44))
    client = serve_with(api.inpaint)
    image, hole_id = upload(client, pixels, mask)
    body = {"image": image, "mask": hole_id, "method": "optimize", "levels": 1, "iterations": 3}
    job_id = client.post("/api/jobs", json=body | TINY).json()["id"]
    stream = events(client, job_id)
    assert stream[-1][1] == "done", stream[-1]
    progress = [d for _, n, d in stream if n == "progress"]
    assert {(d["level"], d["levels"], tuple(d["size"])) for d in progress} == {(0, 1, (32, 32))}
    result = client.get(f"/api/jobs/{job_id}/result.png")
    filled = np.asarray(Image.open(io.BytesIO(result.content)))
    hole = mask[..., 3] > 0
    np.testing.assert_array_equal(filled[~hole], pixels[~hole])
    assert np.abs(filled[hole].astype(int) - pixels[hole]).mean() > 2


def test_a_deeply_nested_job_request_is_a_400(serve_with):
    client = serve_with(invert_hole)
    nested = b"[" * 100_000 + b"]" * 100_000  # json's parser recurses once per level
    answer = client.post("/api/jobs", content=nested)
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "the job request is nested too deeply: send a flat JSON object"
    )


@pytest.mark.parametrize(
    "host, words",
    [
        ("999.1.1.1", "'999.1.1.1' is not a valid IP address or host name; pick another --host"),
        ("192.0.2.1", "'192.0.2.1' is not an address of this machine; pick another --host"),
    ],
)
def test_an_invalid_host_is_named_as_the_host(host, words, capsys):
    with pytest.raises(OSError, match="pick another --host") as caught:
        bind(host, 0)
    assert str(caught.value) == f"cannot listen on {host}:0: {words}"
    with pytest.raises(SystemExit) as exited:
        serve_cli.main(["--host", host])
    assert str(exited.value) == f"python -m eval.serve: cannot listen on {host}:0: {words}"


@pytest.mark.parametrize("host", ["", "  "])
def test_an_empty_host_is_refused_never_every_interface(host, capsys):
    words = (
        f"--host is empty ({host!r}), which would listen on every interface; give an address: "
        "127.0.0.1 (this machine only), or 0.0.0.0 to mean every interface"
    )
    with pytest.raises(ValueError) as caught:
        bind(host, 0)
    assert str(caught.value) == words
    with pytest.raises(SystemExit) as exited:
        serve_cli.main(["--host", host, "--port", "0"])
    assert str(exited.value) == f"python -m eval.serve: {words}"
    assert capsys.readouterr().out == ""  # no "open http://:PORT/"
