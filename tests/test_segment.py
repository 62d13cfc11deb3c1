"""npsynth.serve.segment: a box or a click selects a known object in a synthetic photo."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")  # the serve extra's opencv-python-headless

from npsynth.serve.segment import grow_mask, select_object


def textured_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A brownish-grey background of blotches, stripes and noise: uint8 [H, W, 3]."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(60, 200, (height // 16 + 2, width // 16 + 2, 3))
    rows = np.arange(height) * (coarse.shape[0] - 1) / height
    cols = np.arange(width) * (coarse.shape[1] - 1) / width
    blotches = coarse[rows.astype(int)][:, cols.astype(int)]
    stripes = 25 * np.sin(np.arange(width) / 3.0)[None, :, None]
    noise = rng.normal(0, 12, (height, width, 3))
    photo = blotches * np.array([1.0, 0.85, 0.7]) + stripes + noise
    return np.clip(photo, 0, 255).astype(np.uint8)


def disc(height: int, width: int, centre: tuple[float, float], radius: float) -> np.ndarray:
    """bool [H, W]: the pixels whose centres lie within `radius` of `centre` = (x, y)."""
    ys, xs = np.mgrid[:height, :width]
    return (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= radius**2


def with_object(photo: np.ndarray, inside: np.ndarray, colour, seed: int = 1) -> np.ndarray:
    """`photo` with the pixels of `inside` painted `colour`, plus a little noise."""
    rng = np.random.default_rng(seed)
    painted = photo.astype(float)
    painted[inside] = np.asarray(colour) + rng.normal(0, 8, (int(inside.sum()), 3))
    return np.clip(painted, 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def scene():
    """A 240 x 320 photo with a blue disc of radius 50 centred at (200, 110)."""
    truth = disc(240, 320, (200, 110), 50)
    return with_object(textured_photo(240, 320), truth, (30, 70, 220)), truth


def test_a_box_around_the_disc_selects_it(scene):
    photo, truth = scene
    selected = select_object(photo, box=(135, 45, 265, 175))
    assert selected.dtype == bool and selected.shape == truth.shape
    assert iou(selected, truth) >= 0.9


def test_a_box_drawn_from_any_corner_is_the_same_box(scene):
    photo, _ = scene
    np.testing.assert_array_equal(
        select_object(photo, box=(265, 175, 135, 45)), select_object(photo, box=(135, 45, 265, 175))
    )


def test_a_click_on_the_disc_selects_it(scene):
    photo, truth = scene
    assert iou(select_object(photo, point=(205, 100)), truth) >= 0.9


def test_a_large_photo_is_cut_small_and_scaled_back():
    # 1800 x 1200 (2.2 megapixels): worked at about WORK_PIXELS, answered at full size.
    truth = disc(1200, 1800, (700, 500), 260)
    photo = with_object(textured_photo(1200, 1800, seed=2), truth, (230, 40, 40))
    assert iou(select_object(photo, box=(400, 200, 1000, 800)), truth) >= 0.9
    assert iou(select_object(photo, point=(720, 480)), truth) >= 0.9


def test_painted_strokes_join_the_selection():
    # A disc half blue, half yellow: a click on the blue half takes the blue half only; with a
    # stroke painted on the yellow half, the whole disc.
    truth = disc(240, 320, (160, 120), 60)
    blue = truth & (np.arange(320)[None, :] < 160)
    photo = with_object(textured_photo(240, 320, seed=3), blue, (30, 70, 220))
    photo = with_object(photo, truth & ~blue, (240, 220, 30), seed=4)
    alone = select_object(photo, point=(130, 120))
    assert iou(alone, blue) >= 0.85
    stroke = np.zeros_like(truth)
    stroke[110:130, 170:200] = True
    assert iou(select_object(photo, point=(130, 120), painted=stroke), truth) >= 0.9


def test_grow_takes_every_pixel_within_the_distance():
    rng = np.random.default_rng(5)
    mask = rng.random((40, 50)) > 0.97
    ys, xs = np.mgrid[:40, :50]
    sy, sx = np.nonzero(mask)
    distance = np.sqrt((ys[..., None] - sy) ** 2 + (xs[..., None] - sx) ** 2).min(axis=-1)
    for pixels in (1, 3, 6):
        np.testing.assert_array_equal(grow_mask(mask, pixels), distance <= pixels)
    np.testing.assert_array_equal(grow_mask(mask, 0), mask)


def test_grow_widens_the_selected_disc(scene):
    photo, _ = scene
    grown = select_object(photo, box=(135, 45, 265, 175), grow=8)
    assert iou(grown, disc(240, 320, (200, 110), 58)) >= 0.9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "one of them"),
        ({"box": (0, 0, 10, 10), "point": (5, 5)}, "one of them"),
        ({"box": (400, 0, 500, 100)}, "outside"),
        ({"box": (10, 10, 10.5, 80)}, "too small"),
        ({"point": (-1, 5)}, "outside"),
        ({"point": (5, 5), "grow": -1}, "grow"),
        ({"point": (5, 5), "painted": np.zeros((3, 3), bool)}, "painted"),
    ],
)
def test_bad_requests_say_what_is_wrong(scene, kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_object(scene[0], **kwargs)


def test_the_select_route_answers_the_selection_as_a_png(scene):
    # POST /api/select: the photo's upload id, a box or a point, the painted mask's id, grow.
    import io

    pytest.importorskip("starlette", reason="the serve extra is not installed")
    from PIL import Image
    from starlette.testclient import TestClient

    from npsynth.serve.app import allowed_hosts, create_app
    from npsynth.serve.jobs import JobQueue

    photo, truth = scene
    jobs = JobQueue(lambda *args, **kwargs: None)
    app = create_app(jobs, hosts=allowed_hosts("127.0.0.1", 8765))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        buffer = io.BytesIO()
        Image.fromarray(photo).save(buffer, format="PNG")
        image = client.post("/api/images", content=buffer.getvalue()).json()["id"]
        stroke = np.zeros(truth.shape, np.uint8)
        stroke[100:110, 190:210] = 255
        buffer = io.BytesIO()
        Image.fromarray(stroke).save(buffer, format="PNG")
        mask = client.post("/api/masks", content=buffer.getvalue()).json()["id"]

        answer = client.post("/api/select", json={"image": image, "point": [205, 100], "grow": 4})
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        selected = np.asarray(Image.open(io.BytesIO(answer.content))) > 127
        np.testing.assert_array_equal(selected, select_object(photo, point=(205, 100), grow=4))
        answer = client.post(
            "/api/select", json={"image": image, "box": [135, 45, 265, 175], "mask": mask}
        )
        selected = np.asarray(Image.open(io.BytesIO(answer.content))) > 127
        assert iou(selected, truth) >= 0.9

        for body, status in (
            ({"image": image}, 400),
            ({"image": image, "point": [900, 5]}, 400),
            ({"image": image, "point": ["x", 5]}, 400),
            ({"image": "nope", "point": [5, 5]}, 404),
            ({"image": image, "point": [5, 5], "mask": "nope"}, 404),
        ):
            answer = client.post("/api/select", json=body)
            assert answer.status_code == status and answer.json()["error"], body
    jobs.close()
