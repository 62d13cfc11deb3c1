"""The web page end to end in headless Chromium (Debian's chromium + chromium-driver, through
selenium): `python -m eval.serve`, open a photo, paint a stroke with the mouse, run the fast
choice at small scales, download the result; it differs from the photo inside the stroke and
equals it outside.

Skipped when Chromium, its driver or selenium is missing, unless NPSYNTH_REQUIRE_BROWSER=1
(as `.ci/run` sets): then it fails. NPSYNTH_SCREENSHOT=PATH saves a screenshot of the page
with the result (README's docs/images/serve_page.png).
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
# The stroke, in fractions of the photo's width and height: across the top of the cup.
STROKE = [(0.27, 0.05), (0.56, 0.05), (0.56, 0.13), (0.27, 0.13), (0.27, 0.19), (0.56, 0.19)]
SCALES = "64,128"
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


def test_paint_run_and_download_in_a_real_browser(browser, page_url, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver, by_id = browser, lambda name: browser.find_element("id", name)
    photo = np.round(sample_photo("coffee", 256) * 255).astype(np.uint8)  # scikit-image's
    photo_path, bad_path = tmp_path / "coffee.png", tmp_path / "notes.png"
    Image.fromarray(photo).save(photo_path)
    bad_path.write_bytes(b"this is a text file, not a photo")
    driver.get(page_url)
    wait_until(lambda: by_id("scales").get_attribute("value") == "128,256,512", 30, "the page")

    by_id("file").send_keys(str(bad_path))  # a bad file: a clear message, nothing opened
    wait_until(lambda: "error" in message(driver)[1], 30, "the error message")
    assert "JPEG, PNG or WebP" in message(driver)[0] and by_id("run").get_attribute("disabled")

    by_id("file").send_keys(str(photo_path))
    wait_until(lambda: "Paint over" in message(driver)[0], 60, "the photo to open")
    assert "256x256" in message(driver)[0]
    by_id("run").click()  # nothing painted yet
    assert "mask is empty" in message(driver)[0] and "error" in message(driver)[1]

    stage = by_id("stage")
    actions = ActionChains(driver)
    actions.send_keys("]]]]").perform()  # brush larger: 40 -> 83 px on screen
    sheet = driver.execute_script(
        "const r = document.getElementById('sheet').getBoundingClientRect();"
        "const s = document.getElementById('stage').getBoundingClientRect();"
        "return [r.left - s.left, r.top - s.top, r.width, r.height, s.width, s.height];"
    )
    left, top, width, height, stage_w, stage_h = sheet
    points = [
        (left + fx * width - stage_w / 2, top + fy * height - stage_h / 2) for fx, fy in STROKE
    ]
    stroke = ActionChains(driver).move_to_element_with_offset(stage, *map(round, points[0]))
    stroke.click_and_hold()
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for t in np.linspace(0, 1, 6)[1:]:  # several moves per segment, like a hand
            stroke.move_to_element_with_offset(
                stage, round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0))
            )
    stroke.release().perform()
    holes = driver.execute_script("return npsynthEditor.holePixels()")
    assert 0.05 * 256 * 256 < holes < 0.3 * 256 * 256

    actions.key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()  # undo
    assert driver.execute_script("return npsynthEditor.holePixels()") == 0
    actions.key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("z").key_up(Keys.SHIFT)
    actions.key_up(Keys.CONTROL).perform()  # redo
    assert driver.execute_script("return npsynthEditor.holePixels()") == holes
    hole = canvas_alpha(driver, "mask") > 0  # what the page sends as the mask

    scales = by_id("scales")
    scales.clear()
    scales.send_keys(SCALES)
    wait_until(lambda: by_id("estimate").text.startswith("About"), 30, "the estimate")
    by_id("run").click()
    wait_until(
        lambda: by_id("progress-text").text or by_id("result-box").is_displayed(), 30, "progress"
    )
    wait_until(lambda: by_id("result-box").is_displayed(), JOB_S, "the result")
    assert "Done in" in message(driver)[0], message(driver)
    if os.environ.get("NPSYNTH_SCREENSHOT"):
        driver.save_screenshot(os.environ["NPSYNTH_SCREENSHOT"])

    assert by_id("toggle").text == "Show before"
    by_id("toggle").click()  # before / after
    assert not by_id("result").is_displayed() and by_id("toggle").text == "Show after"
    by_id("download").click()
    saved = driver.downloads / "coffee_filled.png"
    wait_until(
        lambda: saved.exists() and not list(driver.downloads.glob("*.crdownload")), 30, "download"
    )

    filled = np.asarray(Image.open(saved).convert("RGB"))
    assert filled.shape == photo.shape
    np.testing.assert_array_equal(filled[~hole], photo[~hole])  # outside the stroke: the photo
    changed = np.abs(filled.astype(int) - photo).max(axis=-1) > 0
    assert changed[hole].mean() > 0.5  # inside: filled anew
    assert np.abs(filled[hole].astype(int) - photo[hole]).mean() > 5

    by_id("keep").click()  # keep editing: the result becomes the photo, the mask is cleared
    wait_until(lambda: "coffee_filled.png" in message(driver)[0], 60, "keep editing")
    assert driver.execute_script("return npsynthEditor.holePixels()") == 0
    assert not by_id("result-box").is_displayed()

    mask = np.zeros((256, 256), np.uint8)
    mask[100:120, 30:80] = 255  # white = hole, as a mask file from another tool
    Image.fromarray(mask).save(tmp_path / "mask.png")
    by_id("mask-file").send_keys(str(tmp_path / "mask.png"))
    wait_until(lambda: "Mask mask.png" in message(driver)[0], 30, "the mask file")
    assert driver.execute_script("return npsynthEditor.holePixels()") == 20 * 50
    by_id("clear").click()
    assert driver.execute_script("return npsynthEditor.holePixels()") == 0

    for event, name in (("drop", "dropped.png"), ("paste", "clip.png")):  # drop and paste
        driver.execute_script(DISPATCH_FILE, event, name)
        wait_until(lambda name=name: f"{name}: 40x30" in message(driver)[0], 30, event)
    shutil.rmtree(driver.downloads)


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
