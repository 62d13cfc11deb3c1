"""npsynth.training.report: notes, metrics.jsonl, windowed means, steps/s and loss.png, on
tiny hand-made records whose expected values are worked out by hand (or with plain NumPy)."""

from __future__ import annotations

import datetime
import json
import math
import re
import types

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from npsynth.training import report
from npsynth.training.workdir import LOG_FILE, METRICS_FILE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PANEL_HEIGHT = 150  # plot_curves draws one 150-pixel panel per key
BLUE, RED = (0x1F, 0x77, 0xB4), (0xD6, 0x27, 0x28)  # the dark lines of panels 0 and 1
LIGHT_BLUE = (0xB1, 0xCF, 0xE5)  # BLUE mixed 65 % with white (worked out in test_tint)
# Well inside a 640-wide panel's frame (x 70..625, y 22..126): rows and columns of the plot.
INSIDE = (slice(30, 120), slice(75, 600))


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


# ----------------------------------------------------------------------------------------------
# read_metrics


def test_read_metrics_skips_a_half_written_last_line(tmp_path):
    path = tmp_path / METRICS_FILE
    path.write_text('{"step": 10, "l2": 0.5}\n{"step": 20, "l2": 0.25, "g": 3}\n{"step": 30, "l')
    assert report.read_metrics(path) == [
        {"step": 10, "l2": 0.5},
        {"step": 20, "l2": 0.25, "g": 3},
    ]


def test_read_metrics_of_missing_or_empty_files_is_empty(tmp_path):
    assert report.read_metrics(tmp_path / "nothing.jsonl") == []
    (tmp_path / METRICS_FILE).write_text("")
    assert report.read_metrics(tmp_path / METRICS_FILE) == []


def test_read_metrics_takes_str_paths_and_a_last_line_without_newline(tmp_path):
    path = tmp_path / METRICS_FILE
    path.write_text('{"step": 1, "l2": 2.0}\n{"step": 2, "l2": 1.0}')  # complete, no "\n"
    assert report.read_metrics(str(path)) == [{"step": 1, "l2": 2.0}, {"step": 2, "l2": 1.0}]


# ----------------------------------------------------------------------------------------------
# mean_metrics


def test_mean_metrics_of_python_floats():
    history = [{"l2": 1.0, "g": 2.0}, {"l2": 2.0, "g": 4.0}, {"l2": 6.0, "g": 0.0}]
    means = report.mean_metrics(history)
    assert means == {"l2": 3.0, "g": 2.0}  # (1 + 2 + 6) / 3 and (2 + 4 + 0) / 3
    assert all(type(v) is float for v in means.values())
    json.dumps(means)  # what Reporter.metrics writes must serialise


def test_mean_metrics_fetches_device_scalars():
    history = [
        {"l2": jnp.float32(0.5), "n": jnp.int32(1)},
        {"l2": jnp.float32(0.25), "n": jnp.int32(2)},
        {"l2": jnp.float32(0.75), "n": jnp.int32(6)},
    ]
    means = report.mean_metrics(history)
    assert means == {"l2": 0.5, "n": 3.0}  # (0.5 + 0.25 + 0.75) / 3, (1 + 2 + 6) / 3
    assert all(type(v) is float for v in means.values())


def test_mean_metrics_of_one_record_is_that_record_as_floats():
    assert report.mean_metrics([{"a": 3, "b": jnp.float32(-1.5)}]) == {"a": 3.0, "b": -1.5}


# ----------------------------------------------------------------------------------------------
# windowed_means


def test_windowed_means_by_hand():
    records = [
        {"step": 25, "l2": 1.0},
        {"step": 50, "l2": 2.0},
        {"step": 100, "l2": 6.0},  # on the edge: (0, 100] holds it
        {"step": 150, "g_loss": 9.0},  # no l2: (100, 200] has no row
        {"step": 320, "l2": 4.0},  # nothing in (200, 300]: no row
        {"step": 390, "l2": 8.0},
    ]
    assert report.windowed_means(records, "l2", 100) == [
        (1, 100, 3, pytest.approx(3.0)),  # (1 + 2 + 6) / 3
        (301, 390, 2, pytest.approx(6.0)),  # (4 + 8) / 2; last step is the last record's
    ]
    assert report.windowed_means(records, "g_loss", 100) == [(101, 150, 1, 9.0)]


def test_windowed_means_with_window_one_gives_each_record():
    records = [{"step": 1, "l2": 0.5}, {"step": 2, "l2": 0.25}, {"step": 4, "l2": 2.0}]
    assert report.windowed_means(records, "l2", 1) == [
        (1, 1, 1, 0.5), (2, 2, 1, 0.25), (4, 4, 1, 2.0)
    ]  # fmt: skip


def test_windowed_means_of_nothing_is_empty():
    assert report.windowed_means([], "l2", 100) == []
    assert report.windowed_means([{"step": 10, "g": 1.0}], "l2", 100) == []


def test_windowed_means_matches_a_numpy_grouping():
    rng = np.random.default_rng(0)
    steps = np.sort(rng.choice(np.arange(1, 1001), size=60, replace=False))
    values = rng.normal(size=60)
    records = [{"step": int(s), "l2": float(v)} for s, v in zip(steps, values)]
    records.insert(7, {"step": 500, "other": 1.0})  # no l2: ignored
    window = 64
    # Independently: step s lies in window (a, a + W] with a = W * ((s - 1) // W).
    group = (steps - 1) // window
    expected = []
    for g in np.unique(group):
        inside = group == g
        expected.append(
            (int(g) * window + 1, int(steps[inside].max()), int(inside.sum()),
             pytest.approx(float(values[inside].mean()), rel=1e-12))
        )  # fmt: skip
    assert report.windowed_means(records, "l2", window) == expected


# ----------------------------------------------------------------------------------------------
# RateMeter


class FakeClock:
    """Stands in for time.perf_counter: returns the times it is given, in order."""

    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_rate_meter_steps_per_second(monkeypatch):
    clock = FakeClock(10.0, 12.0, 12.5, 20.0, 23.0)
    monkeypatch.setattr(report, "time", types.SimpleNamespace(perf_counter=clock))
    meter = report.RateMeter(5)  # t = 10
    assert (meter.step, meter.time) == (5, 10.0)
    assert meter.rate(15) == pytest.approx(5.0)  # 10 steps in 2 s
    assert (meter.step, meter.time) == (15, 12.0)
    assert meter.rate(18) == pytest.approx(6.0)  # 3 steps in 0.5 s, since the last call
    meter.reset(100)  # t = 20
    assert (meter.step, meter.time) == (100, 20.0)
    assert meter.rate(130) == pytest.approx(10.0)  # 30 steps in 3 s
    assert clock.times == []


def test_rate_meter_with_no_time_elapsed_stays_finite(monkeypatch):
    clock = FakeClock(7.0, 7.0)
    monkeypatch.setattr(report, "time", types.SimpleNamespace(perf_counter=clock))
    meter = report.RateMeter(0)
    value = meter.rate(3)
    assert math.isfinite(value) and value == pytest.approx(3 / 1e-9)


# ----------------------------------------------------------------------------------------------
# Reporter


def test_reporter_notes_go_to_stdout_and_log(tmp_path, capsys):
    reporter = report.Reporter(tmp_path, total=10, progress=False)
    before = datetime.datetime.now().replace(microsecond=0)
    reporter.note("starting: 1 device")
    reporter.note("first step done")
    after = datetime.datetime.now()
    reporter.close()
    assert capsys.readouterr().out == "starting: 1 device\nfirst step done\n"
    lines = (tmp_path / LOG_FILE).read_text().splitlines()
    assert len(lines) == 2
    for line, message in zip(lines, ["starting: 1 device", "first step done"]):
        match = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.*)", line)
        assert match and match.group(2) == message
        stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
        assert before <= stamp <= after


def test_reporter_appends_metrics_one_json_line_each(tmp_path):
    reporter = report.Reporter(tmp_path, total=10, progress=False)
    assert reporter.metrics_path == tmp_path / METRICS_FILE
    reporter.metrics({"step": 5, "l2": 0.5})
    reporter.metrics({"step": 10, "l2": 0.25, "steps_per_s": 12.0})
    reporter.close()
    lines = (tmp_path / METRICS_FILE).read_text().split("\n")
    assert lines[-1] == ""  # every record ends with a newline
    assert [json.loads(line) for line in lines[:-1]] == [
        {"step": 5, "l2": 0.5},
        {"step": 10, "l2": 0.25, "steps_per_s": 12.0},
    ]


def test_truncate_metrics_keeps_steps_up_to_the_checkpoint(tmp_path):
    path = tmp_path / METRICS_FILE
    kept = [{"step": 10, "l2": 1.0}, {"l2": 7.0}, {"step": 20, "l2": 2.0}]  # no step: step 0
    dropped = [{"step": 30, "l2": 3.0}, {"step": 40, "l2": 4.0}]
    write_lines(path, [json.dumps(r) for r in kept + dropped])
    path.write_text(path.read_text() + '{"step": 50, "l2"')  # killed mid-line
    reporter = report.Reporter(tmp_path, total=100, progress=False)
    reporter.truncate_metrics(20)
    assert path.read_text() == "".join(json.dumps(r) + "\n" for r in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == [METRICS_FILE]  # no temp file left
    # A resumed run appends after whole lines: its records read back intact.
    reporter.metrics({"step": 30, "l2": 0.5})
    reporter.close()
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        *kept, {"step": 30, "l2": 0.5}
    ]  # fmt: skip


def test_truncate_metrics_without_a_file_writes_none(tmp_path):
    reporter = report.Reporter(tmp_path, total=10, progress=False)
    reporter.truncate_metrics(0)
    reporter.close()
    assert list(tmp_path.iterdir()) == []


def test_reporter_progress_counts_steps_and_shows_postfix(tmp_path, capsys):
    reporter = report.Reporter(tmp_path, total=100, initial=40, progress=True)
    assert (reporter.bar.total, reporter.bar.n, reporter.bar.disable) == (100, 40, False)
    reporter.progress(1)
    reporter.progress(4)
    assert reporter.bar.n == 45
    assert reporter.bar.postfix is None  # nothing set yet
    reporter.progress(0, {"l2": 0.123456, "g_loss": 12.0, "big": 1234567.0})
    assert reporter.bar.n == 45
    assert reporter.bar.postfix == "l2=0.1235, g_loss=12, big=1.235e+06"  # 4 significant digits
    reporter.progress(1, {})  # an empty postfix leaves the last one
    assert reporter.bar.postfix == "l2=0.1235, g_loss=12, big=1.235e+06"
    reporter.close()
    assert reporter.bar.disable  # closed
    captured = capsys.readouterr()
    assert "46/100" in captured.err and captured.out == ""  # the bar is on stderr
    assert list(tmp_path.iterdir()) == []  # the bar writes no file


def test_reporter_without_progress_prints_no_bar(tmp_path, capsys):
    reporter = report.Reporter(tmp_path, total=100, initial=3, progress=False)
    assert reporter.bar.disable
    reporter.progress(5, {"l2": 1.0})
    reporter.close()
    assert capsys.readouterr().err == ""


def test_reporter_is_quiet_off_process_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "is_main_process", lambda: False)
    (tmp_path / METRICS_FILE).write_text('{"step": 5}\n{"step": 9}\n')
    reporter = report.Reporter(tmp_path, total=10, progress=True)
    assert not reporter.enabled and reporter.bar.disable
    reporter.note("hello")
    reporter.metrics({"step": 10, "l2": 1.0})
    reporter.truncate_metrics(5)  # left alone: process 0 owns the file
    reporter.progress(3, {"l2": 1.0})
    reporter.close()
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == [METRICS_FILE]
    assert (tmp_path / METRICS_FILE).read_text() == '{"step": 5}\n{"step": 9}\n'


# ----------------------------------------------------------------------------------------------
# plot_curves and its helpers


def colour_mask(pixels: np.ndarray, colour) -> np.ndarray:
    return np.all(pixels == np.array(colour, np.uint8), axis=-1)


def plot(tmp_path, records, keys, name="loss.png", **kwargs) -> np.ndarray:
    path = tmp_path / name
    report.plot_curves(records, keys, path, **kwargs)
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def test_plot_curves_writes_a_png_through_atomic_write(tmp_path, monkeypatch):
    calls = []
    real_atomic_write = report.atomic_write

    def spy(path, content):
        calls.append((path, content))
        return real_atomic_write(path, content)

    monkeypatch.setattr(report, "atomic_write", spy)
    target = tmp_path / "run" / "loss.png"  # the folder is made
    target.parent.mkdir()
    target.write_bytes(b"an older plot")  # replaced whole
    records = [{"step": 10, "l2": 1.0, "g": 5.0}, {"step": 20, "l2": 3.0, "g": 4.0}]
    report.plot_curves(records, ["l2", "g"], target)
    assert len(calls) == 1 and calls[0][0] == target
    assert isinstance(calls[0][1], bytes) and calls[0][1].startswith(PNG_SIGNATURE)
    assert target.read_bytes() == calls[0][1]
    assert [p.name for p in target.parent.iterdir()] == ["loss.png"]  # no temp file left
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (640, 2 * PANEL_HEIGHT)


def test_plot_curves_draws_a_rising_curve_in_its_panel(tmp_path):
    pixels = plot(tmp_path, [{"step": 10, "l2": 1.0}, {"step": 20, "l2": 3.0}], ["l2"], width=320)
    assert pixels.shape == (PANEL_HEIGHT, 320, 3)
    ys, xs = np.nonzero(colour_mask(pixels, BLUE))
    assert xs.size > 100  # a line across the panel
    assert xs.max() - xs.min() > 200
    # Higher values are drawn higher up: the left end is lower than the right end.
    assert ys[xs == xs.min()].mean() > ys[xs == xs.max()].mean() + 50


def test_plot_curves_gives_no_panel_to_keys_no_record_has(tmp_path):
    records = [{"step": 1, "l2": 2.0, "d_loss": 0.1}, {"step": 2, "l2": 1.0, "d_loss": 0.3},
               {"step": 3, "l2": 0.5}]  # fmt: skip
    pixels = plot(tmp_path, records, ["l2", "g_loss", "d_loss"])
    assert pixels.shape == (2 * PANEL_HEIGHT, 640, 3)  # l2 and d_loss; no g_loss
    top, bottom = pixels[:PANEL_HEIGHT], pixels[PANEL_HEIGHT:]
    assert colour_mask(top, BLUE).any() and not colour_mask(top, RED).any()
    assert colour_mask(bottom, RED).any() and not colour_mask(bottom, BLUE).any()


@pytest.mark.parametrize(
    "records", [[], [{"step": 5, "steps_per_s": 3.0}]], ids=["no records", "no plotted key"]
)
def test_plot_curves_without_data_keeps_every_panel_empty(tmp_path, records):
    pixels = plot(tmp_path, records, ["l2", "g_loss"])
    assert pixels.shape == (2 * PANEL_HEIGHT, 640, 3)
    for panel in (pixels[:PANEL_HEIGHT], pixels[PANEL_HEIGHT:]):
        assert not colour_mask(panel, BLUE).any() and not colour_mask(panel, RED).any()
        # Inside the frame only "no data yet", in grey (anti-aliased: never darker than
        # PIL's "gray", 128, and never coloured).
        inside = panel[INSIDE].reshape(-1, 3).astype(int)
        ink = inside[(inside != 255).any(axis=1)]
        assert len(ink) > 20
        assert (ink[:, 0] == ink[:, 1]).all() and (ink[:, 1] == ink[:, 2]).all()
        assert ink.min() >= 128


def test_plot_curves_skips_missing_and_non_finite_values(tmp_path):
    path = tmp_path / METRICS_FILE
    finite = [{"step": 1, "l2": 4.0}, {"step": 2, "l2": 2.0}, {"step": 4, "l2": 1.0}]
    noisy = [finite[0], {"step": 2, "l2": float("nan")}, finite[1], {"step": 3},
             {"step": 3, "l2": float("inf")}, {"l2": 9.0}, finite[2]]  # fmt: skip
    write_lines(path, [json.dumps(r) for r in noisy])  # NaN and Infinity round-trip in JSON
    records = report.read_metrics(path)
    assert len(records) == len(noisy) and math.isnan(records[1]["l2"])
    pixels = plot(tmp_path, records, ["l2"], name="noisy.png")
    assert colour_mask(pixels, BLUE).any()
    # The skipped records change nothing: the same picture as the finite records alone.
    assert np.array_equal(pixels, plot(tmp_path, finite, ["l2"], name="finite.png"))


def test_plot_curves_draws_one_record_as_a_dot(tmp_path):
    pixels = plot(tmp_path, [{"step": 7, "l2": 0.3}], ["l2"])
    ys, xs = np.nonzero(colour_mask(pixels, BLUE))
    assert 1 <= xs.size <= 25  # a dot of radius 2
    assert xs.max() - xs.min() <= 4 and ys.max() - ys.min() <= 4


@pytest.mark.parametrize("value", [0.0, 2.5, -3.0])
def test_plot_curves_of_a_constant_draws_a_flat_line(tmp_path, value):
    records = [{"step": s, "l2": value} for s in (10, 20, 30)]
    ys, xs = np.nonzero(colour_mask(plot(tmp_path, records, ["l2"]), BLUE))
    assert xs.max() - xs.min() > 400  # across the panel
    assert ys.max() - ys.min() <= 3  # and flat
    # Mid-panel (the frame spans y 22..126), not squashed against its top or bottom edge.
    assert 50 < ys.mean() < 100


def test_plot_curves_shows_raw_values_light_under_the_running_mean(tmp_path):
    records = [{"step": s, "l2": float(s % 2)} for s in range(1, 61)]  # 0, 1, 0, 1, ...
    pixels = plot(tmp_path, records, ["l2"])
    light_ys, _ = np.nonzero(colour_mask(pixels, LIGHT_BLUE))
    dark_ys, _ = np.nonzero(colour_mask(pixels, BLUE))
    assert light_ys.size and dark_ys.size
    # The raw zig-zag spans the panel; its running mean over 60 // 20 = 3 records only
    # swings between 1/3 and 2/3, a third as far.
    light_span, dark_span = np.ptp(light_ys), np.ptp(dark_ys)
    assert light_span > 80 and dark_span < 0.5 * light_span


def test_running_mean_by_hand():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(report.running_mean(values, 2), [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(report.running_mean(values, 3), [2.0, 3.0, 4.0])
    np.testing.assert_allclose(report.running_mean(values, 1), values)
    np.testing.assert_allclose(report.running_mean(values, 5), [3.0])
    assert report.running_mean([1, 2], 2).dtype == np.float64  # lists of ints too


def test_running_mean_matches_numpy_convolve():
    values = np.random.default_rng(1).normal(size=37)
    for window in (1, 4, 10, 37):
        expected = np.convolve(values, np.ones(window) / window, mode="valid")
        got = report.running_mean(values, window)
        assert got.shape == (37 - window + 1,)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_tint():
    # #1f77b4 = (31, 119, 180); c + (255 - c) * 0.65 = 176.6, 207.4, 228.75 -> b1 cf e5
    assert report.tint("#1f77b4") == "#b1cfe5"
    # #d62728 = (214, 39, 40) -> 240.65, 179.4, 179.75 -> f1 b3 b4
    assert report.tint("#d62728") == "#f1b3b4"
    assert report.tint("#1f77b4", 0.0) == "#1f77b4"
    assert report.tint("#1f77b4", 1.0) == "#ffffff"
    assert report.tint("#ffffff") == "#ffffff"
    assert report.tint("#000000", 0.2) == "#333333"  # 255 * 0.2 = 51 = 0x33


def test_public_names_are_all_tested():
    public = {
        name for name, value in vars(report).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == report.__name__
    }  # fmt: skip
    assert public == {
        "Reporter", "read_metrics", "mean_metrics", "windowed_means", "RateMeter",
        "plot_curves", "running_mean", "tint",
    }  # fmt: skip
