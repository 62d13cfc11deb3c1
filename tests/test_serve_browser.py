"""The web page end to end in headless Chromium (Debian's chromium + chromium-driver, through
selenium): `python -m eval.serve`, open a photo with a known object (a blue disc), select it with
a click and with a box, paint a stroke with the mouse, run the fast choice at small scales,
download the result: the disc is gone and every other pixel is the photo's. Before/after shows
the clean original; the mask is drawn so it can be seen and alone. The layouts at three window
sizes (a phone among them, painted on with a finger and pinched) are saved as screenshots under
the test's tmp folder and measured.

Skipped when Chromium, its driver or selenium is missing, unless NPSYNTH_REQUIRE_BROWSER=1
(as `.ci/run` sets): then it fails. NPSYNTH_SCREENSHOT=PATH saves a screenshot of the page
with the result (README's docs/images/serve_page.jpg, converted from the PNG; docs/serve.md).
"""

from __future__ import annotations

import base64
import io
import itertools
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, sample_photo

CHROMIUM = os.environ.get("NPSYNTH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NPSYNTH_CHROMEDRIVER", "/usr/bin/chromedriver")
REQUIRED = os.environ.get("NPSYNTH_REQUIRE_BROWSER") == "1"
# The flags this project's machines need (no sandbox as root, no GPU, nothing from outside).
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,800",
)  # fmt: skip
SCALES = "64,128"
# The known object: a blue disc on the coffee photo (centre x, y and radius in photo pixels).
DISC = (52, 205, 30)
DISC_RGB = (30, 90, 230)
SERVER_START_S, JOB_S = 180, 300


def need(ok: bool, why: str) -> None:
    """Skip without `ok`, or fail when the browser test is required (CI)."""
    if not ok:
        if REQUIRED:
            pytest.fail(f"{why}; NPSYNTH_REQUIRE_BROWSER=1 says the browser test must run")
        pytest.skip(why)


@pytest.fixture(scope="module")
def webdriver_module():
    try:
        from selenium import webdriver
    except ImportError:
        need(False, "selenium is not installed (pip install -e '.[test]')")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        need(Path(path).exists(), f"{path} not found (apt-get install -y {package})")
    return webdriver


@pytest.fixture(scope="module")
def page_url(webdriver_module):
    """`python -m eval.serve` on a free port; its address, once it says it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eval.serve", "--port", "0"], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + SERVER_START_S
    try:
        while not (found := re.search(r"open (http://\S+)", "".join(seen))):
            assert process.poll() is None, "the server stopped:\n" + "".join(seen)
            assert time.monotonic() < deadline, "the server did not start:\n" + "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser(webdriver_module, tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver_module.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={tmp_path / 'profile'}",):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for errors
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver_module.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    yield driver
    try:  # no script error on the page (answers of 4xx, for bad files, are expected)
        console = [entry["message"] for entry in driver.get_log("browser")]
        errors = [line for line in console if "Uncaught" in line or "TypeError" in line]
        assert not errors, errors
    finally:
        driver.quit()


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def message(driver) -> tuple[str, str]:
    box = driver.find_element("id", "message")
    return box.text, box.get_attribute("class")


def canvas_alpha(driver, canvas_id: str) -> np.ndarray:
    url = driver.execute_script(f"return document.getElementById('{canvas_id}').toDataURL()")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))[..., 3]


def disc(size: int, radius: float) -> np.ndarray:
    """bool [size, size]: the test object's pixels, its radius grown to `radius`."""
    x, y, _ = DISC
    ys, xs = np.mgrid[:size, :size]
    return (xs - x) ** 2 + (ys - y) ** 2 <= radius**2


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def photo_with_disc() -> np.ndarray:
    """scikit-image's coffee at 256 px with the blue disc on the saucer and the table."""
    photo = np.round(sample_photo("coffee", 256) * 255).astype(np.uint8)  # scikit-image's
    photo[disc(256, DISC[2])] = DISC_RGB
    return photo


def sheet_box(driver) -> dict:
    """The photo's rectangle on screen (CSS pixels) and the stage's."""
    return driver.execute_script(
        "const r = document.getElementById('sheet').getBoundingClientRect();"
        "const s = document.getElementById('stage').getBoundingClientRect();"
        "return {left: r.left, top: r.top, width: r.width, height: r.height,"
        " stage: [s.left, s.top, s.width, s.height]};"
    )


def on_screen(driver, x: float, y: float, size: int = 256) -> tuple[float, float]:
    """Where photo pixel (x, y) of a `size` px wide photo is, in CSS pixels of the window."""
    box = sheet_box(driver)
    scale = box["width"] / size
    return box["left"] + (x + 0.5) * scale, box["top"] + (y + 0.5) * scale


def stage_offset(driver, x: float, y: float) -> tuple[int, int]:
    """Photo pixel (x, y) as an offset from the stage's centre (selenium's pointer origin)."""
    sx, sy = on_screen(driver, x, y)
    left, top, width, height = sheet_box(driver)["stage"]
    return round(sx - left - width / 2), round(sy - top - height / 2)


def screen_colour(driver, x: float, y: float) -> np.ndarray:
    """The colour the window shows at photo pixel (x, y): the mean of 5 x 5 screen pixels."""
    shot = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB"))
    ratio = shot.shape[1] / driver.execute_script("return window.innerWidth")
    sx, sy = (round(v * ratio) for v in on_screen(driver, x, y))
    return shot[sy - 2 : sy + 3, sx - 2 : sx + 3].reshape(-1, 3).mean(axis=0)


def blue(colours: np.ndarray) -> np.ndarray:
    """Which of the RGB colours [..., 3] are the disc's blue (blue well above red and green)."""
    colours = np.asarray(colours, float)
    return colours[..., 2] - colours[..., :2].max(axis=-1) > 60


def hole_pixels(driver) -> int:
    return driver.execute_script("return npsynthEditor.holePixels()")


def set_range(driver, element_id: str, value: int, event: str) -> None:
    """Move a slider as a hand would: its value, then its `event` (input or change)."""
    driver.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
        "e.dispatchEvent(new Event(arguments[2], {bubbles: true}));",
        element_id, value, event,
    )  # fmt: skip


def drag(driver, points) -> None:
    """Press at the first photo point, move through the others, release (the mouse)."""
    from selenium.webdriver.common.action_chains import ActionChains

    stage = driver.find_element("id", "stage")
    offsets = [stage_offset(driver, x, y) for x, y in points]
    chain = ActionChains(driver).move_to_element_with_offset(stage, *offsets[0]).click_and_hold()
    for (x0, y0), (x1, y1) in itertools.pairwise(offsets):
        for t in np.linspace(0, 1, 6)[1:]:  # several moves per segment, like a hand
            chain.move_to_element_with_offset(
                stage, round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0))
            )
    chain.release().perform()


# Count the page's estimate requests (window.estimates) from now on.
COUNT_ESTIMATES = """
if (!window.estimates) {
  const fetch = window.fetch;
  window.fetch = (url, ...rest) => {
    if (String(url).startsWith("/api/estimate")) window.estimates += 1;
    return fetch(url, ...rest);
  };
}
window.estimates = 0;
"""


def test_select_run_compare_and_download_in_a_real_browser(browser, page_url, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver, by_id = browser, lambda name: browser.find_element("id", name)
    photo = photo_with_disc()
    photo_path, bad_path = tmp_path / "coffee.png", tmp_path / "notes.png"
    Image.fromarray(photo).save(photo_path)
    bad_path.write_bytes(b"this is a text file, not a photo")
    driver.get(page_url)
    # The fast choice shows the two scales it uses: it works at the first, pastes up to the last.
    wait_until(lambda: by_id("scales").get_attribute("value") == "128,512", 30, "the page")
    assert by_id("scales-note").is_displayed()
    assert by_id("iterations-label").text == "Iterations (first scale)"
    driver.find_element("css selector", "input[value=translate]").click()
    assert not by_id("iterations-box").is_displayed() and not by_id("scales-note").is_displayed()
    assert by_id("scales").get_attribute("value") == "256,512"
    driver.find_element("css selector", "input[value=fast]").click()

    by_id("file").send_keys(str(bad_path))  # a bad file: a clear message, nothing opened
    wait_until(lambda: "error" in message(driver)[1], 30, "the error message")
    assert "JPEG, PNG or WebP" in message(driver)[0] and by_id("run").get_attribute("disabled")

    by_id("file").send_keys(str(photo_path))
    wait_until(lambda: "Paint over" in message(driver)[0], 60, "the photo to open")
    assert "256x256" in message(driver)[0]
    by_id("run").click()  # nothing painted yet
    assert "mask is empty" in message(driver)[0] and "error" in message(driver)[1]

    # The mask can be seen: the hole inverts the photo's colours, an outline runs around it.
    grow = int(by_id("grow").get_attribute("value"))
    by_id("tool-select").click()
    stage = by_id("stage")
    x, y, radius = DISC
    ActionChains(driver).move_to_element_with_offset(
        stage, *stage_offset(driver, x + 3, y - 2)
    ).click().perform()  # a click on the disc
    wait_until(lambda: "Selected" in message(driver)[0], 30, "the click's selection")
    assert iou(canvas_alpha(driver, "mask") > 0, disc(256, radius + grow)) >= 0.85
    shown = screen_colour(driver, x, y)
    assert np.abs(shown - (255 - np.array(DISC_RGB))).max() < 30, shown  # inverted
    assert (canvas_alpha(driver, "outline") > 0).sum() > 2 * np.pi * radius  # the outline
    driver.save_screenshot(str(tmp_path / "selected_by_click.png"))

    set_range(driver, "grow", 10, "change")  # grow the selection: the same step, redone
    wait_until(lambda: "grown by 10 px" in message(driver)[0], 30, "the grown selection")
    assert iou(canvas_alpha(driver, "mask") > 0, disc(256, radius + 10)) >= 0.85
    by_id("undo").click()
    assert hole_pixels(driver) == 0 and by_id("undo").get_attribute("disabled")

    drag(driver, [(x - radius - 12, y - radius - 12), (x + radius + 12, y + radius + 12)])  # box
    wait_until(lambda: "Selected" in message(driver)[0], 30, "the box's selection")
    selected = canvas_alpha(driver, "mask") > 0
    assert iou(selected, disc(256, radius + 10)) >= 0.85

    by_id("tool-eraser").click()  # the eraser refines a selection, undone as one stroke
    drag(driver, [(x - radius, y), (x + radius, y)])
    assert 0 < hole_pixels(driver) < selected.sum() - 500
    by_id("undo").click()
    assert hole_pixels(driver) == selected.sum()

    by_id("mask-only").click()  # the mask alone: white on black
    assert (
        driver.execute_script(
            "return getComputedStyle(document.getElementById('photo')).visibility"
        )
        == "hidden"
    )
    assert screen_colour(driver, x, y).min() > 240 and screen_colour(driver, 200, 40).max() < 15
    driver.save_screenshot(str(tmp_path / "mask_only.png"))
    by_id("mask-only").click()

    by_id("tool-brush").click()  # the brush adds to the selection; undo and redo whole strokes
    ActionChains(driver).send_keys("]]]]").perform()  # brush larger: 40 -> 83 px on screen
    drag(driver, [(70, 12), (140, 12), (140, 30)])
    holes = hole_pixels(driver)
    assert holes > selected.sum() + 500
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
    assert hole_pixels(driver) == selected.sum()
    chain = ActionChains(driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("z")
    chain.key_up(Keys.SHIFT).key_up(Keys.CONTROL).perform()  # redo
    assert hole_pixels(driver) == holes
    hole = canvas_alpha(driver, "mask") > 0  # what the page sends as the mask

    # The scales field: no red and no request while typed; the estimate once the keys rest.
    scales = by_id("scales")
    scales.clear()
    driver.execute_script(COUNT_ESTIMATES)
    scales.send_keys("64,")  # half typed: not a value yet
    time.sleep(0.8)
    assert "invalid" not in scales.get_attribute("class")
    assert driver.execute_script("return window.estimates") == 0
    scales.send_keys("12x")
    scales.send_keys(Keys.TAB)  # left with a bad value: now it is red, and says why
    wait_until(lambda: "invalid" in scales.get_attribute("class"), 5, "the red field")
    assert "whole numbers" in by_id("estimate").text
    assert driver.execute_script("return window.estimates") == 0
    scales.clear()
    scales.send_keys(SCALES)
    wait_until(lambda: by_id("estimate").text.startswith("About"), 30, "the estimate")
    assert driver.execute_script("return window.estimates") == 1
    assert "invalid" not in scales.get_attribute("class")

    # Enter after a click on a button runs the job; it does not press the button again.
    by_id("zoom-in").click()
    zoom = by_id("zoom-value").text
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    wait_until(lambda: by_id("progress-text").text, 30, "progress")
    assert by_id("zoom-value").text == zoom
    by_id("zoom-fit").click()
    # The times tick every second between progress events (the first run compiles for long).
    before, running = by_id("progress-text").text, by_id("cancel").is_displayed()
    time.sleep(2.0)
    if running and by_id("cancel").is_displayed():
        assert by_id("progress-text").text != before
    print("ticking checked:", running, before, "->", by_id("progress-text").text)
    wait_until(lambda: by_id("result-box").is_displayed(), JOB_S, "the result")
    assert "Done in" in message(driver)[0], message(driver)
    if os.environ.get("NPSYNTH_SCREENSHOT"):
        driver.save_screenshot(os.environ["NPSYNTH_SCREENSHOT"])

    # Before/after: the slider all the way shows the clean original (no mask), then the result.
    assert not blue(screen_colour(driver, x, y))
    driver.save_screenshot(str(tmp_path / "after.png"))
    set_range(driver, "compare", 60, "input")
    driver.save_screenshot(str(tmp_path / "split.png"))
    set_range(driver, "compare", 100, "input")
    assert blue(screen_colour(driver, x, y))
    assert not by_id("result").is_displayed() and not by_id("mask").is_displayed()
    set_range(driver, "compare", 0, "input")
    assert by_id("toggle").text == "Show before"
    by_id("toggle").click()  # the button (or A) does the same
    assert not by_id("result").is_displayed() and by_id("toggle").text == "Show after"
    assert blue(screen_colour(driver, x, y))
    by_id("toggle").click()

    by_id("download").click()
    saved = driver.downloads / "coffee_filled.png"
    wait_until(
        lambda: saved.exists() and not list(driver.downloads.glob("*.crdownload")), 30, "download"
    )
    filled = np.asarray(Image.open(saved).convert("RGB"))
    assert filled.shape == photo.shape
    np.testing.assert_array_equal(filled[~hole], photo[~hole])  # outside the hole: the photo
    object_pixels = disc(256, radius)
    assert blue(filled[object_pixels]).mean() < 0.02  # the disc is gone
    changed = np.abs(filled.astype(int) - photo).max(axis=-1) > 0
    assert changed[hole].mean() > 0.5

    # Run again: while it works, the last result can be neither downloaded nor kept.
    by_id("run").click()
    assert by_id("download").get_attribute("aria-disabled") == "true"
    assert by_id("keep").get_attribute("disabled") and by_id("toggle").get_attribute("disabled")
    assert not by_id("download").get_attribute("href")
    wait_until(lambda: not by_id("keep").get_attribute("disabled"), JOB_S, "the second result")

    # Keep editing: the result becomes the photo, the mask empty; Undo brings both back.
    by_id("keep").click()
    wait_until(lambda: "coffee_filled.png" in message(driver)[0], 60, "keep editing")
    assert hole_pixels(driver) == 0 and not by_id("result-box").is_displayed()
    photo_blue = (  # the blue of the photo canvas's pixel at (x, y)
        "return npsynthEditor.photo.getContext('2d')"
        ".getImageData(arguments[0], arguments[1], 1, 1).data[2]"
    )
    assert driver.execute_script(photo_blue, x, y) < 150
    by_id("undo").click()
    assert hole_pixels(driver) == holes and driver.execute_script(photo_blue, x, y) > 200
    by_id("redo").click()
    assert hole_pixels(driver) == 0 and driver.execute_script(photo_blue, x, y) < 150

    mask = np.zeros((256, 256), np.uint8)
    mask[100:120, 30:80] = 255  # white = hole, as a mask file from another tool
    Image.fromarray(mask).save(tmp_path / "mask.png")
    by_id("mask-file").send_keys(str(tmp_path / "mask.png"))
    wait_until(lambda: "Mask mask.png" in message(driver)[0], 30, "the mask file")
    assert hole_pixels(driver) == 20 * 50
    by_id("clear").click()
    assert hole_pixels(driver) == 0

    for event, name in (("drop", "dropped.png"), ("paste", "clip.png")):  # drop and paste
        driver.execute_script(DISPATCH_FILE, event, name)
        wait_until(lambda name=name: f"{name}: 40x30" in message(driver)[0], 30, event)
    shutil.rmtree(driver.downloads)


# Window sizes the layout is checked at: a laptop, a desktop, a phone (390 x 844, touch).
LAYOUTS = [(1366, 768, False), (1920, 1080, False), (390, 844, True)]


def touch(driver, kind: str, points) -> None:
    """A touch event (touchStart, touchMove, touchEnd) with fingers at window points."""
    touches = [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]
    driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})


def test_layouts_at_three_sizes_and_touch(browser, page_url, tmp_path):
    driver, by_id = browser, lambda name: browser.find_element("id", name)
    landscape = np.round(sample_photo("astronaut") * 255).astype(np.uint8)[::2, ::2][:192]
    Image.fromarray(landscape).save(tmp_path / "wide.png")  # 256 x 192
    driver.get(page_url)
    wait_until(lambda: by_id("scales").get_attribute("value"), 30, "the page")
    by_id("file").send_keys(str(tmp_path / "wide.png"))
    wait_until(lambda: "Paint over" in message(driver)[0], 60, "the photo to open")

    for width, height, phone in LAYOUTS:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone,
        })  # fmt: skip
        driver.execute_cdp_cmd(
            "Emulation.setTouchEmulationEnabled", {"enabled": phone, "maxTouchPoints": 5}
        )
        driver.execute_script("npsynthEditor.fit()")
        shot = tmp_path / f"layout_{width}x{height}.png"
        driver.save_screenshot(str(shot))
        assert Image.open(shot).size == (width, height)
        box = sheet_box(driver)
        panel = driver.execute_script(
            "const r = document.querySelector('.panel').getBoundingClientRect();"
            "return [r.left, r.top, r.right, r.bottom];"
        )
        stage_left, stage_top, stage_width, stage_height = box["stage"]
        assert box["width"] >= 300, (width, height, box)  # the photo, fit to the stage
        assert panel[3] <= height + 1 and box["top"] + box["height"] <= height
        if phone:  # the panel below the photo, not beside it
            assert panel[1] >= stage_top + stage_height - 1 and stage_width >= width - 1
        else:
            assert panel[0] >= stage_left + stage_width - 1

    # The phone: one finger paints; two fingers pinch to zoom and paint nothing.
    assert hole_pixels(driver) == 0
    left, top = box["left"], box["top"]
    stroke = [(left + 40 + 10 * i, top + 60) for i in range(8)]
    touch(driver, "touchStart", stroke[:1])
    for point in stroke[1:]:
        touch(driver, "touchMove", [point])
    touch(driver, "touchEnd", [])
    painted = hole_pixels(driver)
    assert painted > 500
    zoom = driver.execute_script("return npsynthEditor.view.zoom")
    centre = (left + box["width"] / 2, top + box["height"] / 2)
    touch(driver, "touchStart", [(centre[0] - 40, centre[1])])
    touch(driver, "touchStart", [(centre[0] - 40, centre[1]), (centre[0] + 40, centre[1])])
    for spread in (60, 80, 100):
        touch(
            driver, "touchMove", [(centre[0] - spread, centre[1]), (centre[0] + spread, centre[1])]
        )
    touch(driver, "touchEnd", [])
    assert driver.execute_script("return npsynthEditor.view.zoom") == pytest.approx(
        2.5 * zoom, rel=0.05
    )
    assert hole_pixels(driver) == painted
    driver.save_screenshot(str(tmp_path / "layout_390x844_pinched.png"))

    # 1366 x 768 with the keyboard help open and a long message: nothing overlaps.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": False,
    })  # fmt: skip
    driver.execute_script(
        "document.querySelector('.help').open = true;"
        "document.getElementById('message').textContent = 'A long status line. '.repeat(12);"
    )
    text_bottom, help_top = driver.execute_script(
        "const text = document.createRange();"  # the text as drawn, even where it overflows
        "text.selectNodeContents(document.getElementById('message'));"
        "return [text.getBoundingClientRect().bottom,"
        " document.querySelector('.help summary').getBoundingClientRect().top];"
    )
    assert text_bottom <= help_top + 1, (text_bottom, help_top)
    driver.save_screenshot(str(tmp_path / "layout_1366x768_help.png"))


# Dispatch a drop or paste event carrying a 40 x 30 PNG named arguments[1].
DISPATCH_FILE = """
const [kind, name] = arguments;
const canvas = Object.assign(document.createElement("canvas"), {width: 40, height: 30});
canvas.getContext("2d").fillRect(0, 0, 20, 30);
canvas.toBlob((blob) => {
  const data = new DataTransfer();
  data.items.add(new File([blob], name, {type: "image/png"}));
  const event = kind === "drop"
    ? new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true})
    : new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
  (kind === "drop" ? document.getElementById("stage") : document).dispatchEvent(event);
}, "image/png");
"""
