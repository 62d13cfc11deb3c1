"""npsynth.studies.study and eval/study.py: a blind study's sheets reveal no side, sides
are balanced, the key decodes each sheet, a hand-made answer file scores right, bad answer
files are refused; the page serves pairs and stores answers (Starlette's test client)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from eval import study as study_cli
from npsynth.io import save_image
from npsynth.studies import study

RED, BLUE = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
NAMES = ["cat.png", "dog.jpg", "eel.png", "fox.png", "gnu.png"]


@pytest.fixture
def folders(tmp_path):
    """Five 20 x 24 photos, box masks, A's fills all red and B's all blue."""
    rng = np.random.default_rng(0)
    for i, name in enumerate(NAMES):
        photo = rng.random((20, 24, 3)).astype(np.float32) * 0.5 + 0.25
        save_image(tmp_path / "photos" / name, photo)
        mask = np.zeros((20, 24, 1), np.float32)
        mask[5 + i % 3 : 12, 6:15] = 1
        save_image(tmp_path / "masks" / f"m{i}.png", mask)
        out = name if name.endswith(".png") else name + ".png"  # eval.inpaint's output name
        save_image(tmp_path / "a" / out, np.broadcast_to(RED, (20, 24, 3)))
        save_image(tmp_path / "b" / out, np.broadcast_to(BLUE, (20, 24, 3)))
    return tmp_path


def make(folders, *extra) -> int:
    return study_cli.main([
        "make", "--a", str(folders / "a"), "--b", str(folders / "b"),
        "--photos", str(folders / "photos"), "--masks", str(folders / "masks"),
        "--out", str(folders / "study"), "--crop-margin", "2", *extra,
    ])  # fmt: skip


def test_assign_sides_balanced():
    for count in (0, 1, 2, 7, 10, 11):
        counts = {int(study.assign_sides(count, np.random.default_rng(s)).sum()) for s in range(20)}
        assert counts <= {count // 2, (count + 1) // 2}
        if count % 2 == 0:
            assert counts == {count // 2}
        elif count > 1:
            assert counts == {count // 2, count // 2 + 1}  # the odd one out drawn at random


def test_sheet_and_crop():
    photo = np.full((10, 12, 3), 0.2, np.float32)
    mask = np.zeros((10, 12, 1), np.float32)
    mask[4:6, 5:7] = 1
    assert study.hole_box(mask, 1) == (3, 7, 4, 8)
    assert study.hole_box(mask, 9) == (0, 10, 0, 12)  # clipped to the image
    shown = study.outlined_hole(photo, mask, thickness=1)
    assert np.all(shown[4:6, 5:7] == study.GREY)  # the truth in the hole is never shown
    assert tuple(shown[3, 5]) == study.OUTLINE and tuple(shown[0, 0]) == (0.2,) * 3
    sheet = study.pair_sheet(photo, mask, np.zeros_like(photo), np.ones_like(photo), margin=1)
    assert sheet.shape == (4, 3 * 4 + 2 * study.GAP, 3)
    assert np.all(sheet[:, 4 + study.GAP : 8 + study.GAP] == 0)
    assert np.all(sheet[:, -4:] == 1)


def test_make_reveals_no_side_and_key_decodes(folders):
    assert make(folders, "--seed", "3") == 0
    out = folders / "study"
    sheets = sorted((out / "sheets").iterdir())
    assert [p.name for p in sheets] == [f"pair_00{i}.png" for i in range(1, 6)]
    key = json.loads((out / "key.json").read_text())
    assert sorted(p["photo"] for p in key["pairs"].values()) == sorted(NAMES)
    assert key["methods"] == {"A": str(folders / "a"), "B": str(folders / "b")}
    assert sorted(p["A"] for p in key["pairs"].values()).count("L") in (2, 3)
    for path in sheets:
        raw = path.read_bytes()
        for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
            assert chunk not in raw
        with Image.open(path) as image:
            assert image.info == {} or set(image.info) <= {"dpi"}
            pixels = np.asarray(image.convert("RGB"), np.float32) / 255
        width = (pixels.shape[1] - 2 * study.GAP) // 3
        left, right = pixels[:, width + study.GAP], pixels[:, -1]
        a_colour = RED if key["pairs"][path.stem]["A"] == "L" else BLUE
        assert np.allclose(left, a_colour) and np.allclose(right, RED if a_colour == BLUE else BLUE)
    for name in ("README.md", "answers_template.csv"):
        text = (out / name).read_text()
        assert not any(word in text for word in ["cat", "dog", str(folders / "a"), "red", "blue"])
    assert "L" in (out / "README.md").read_text()
    assert (out / "answers_template.csv").read_text().splitlines()[:2] == [
        "pair,answer",
        "pair_001,",
    ]
    assert make(folders) == 2  # a study is never overwritten


def test_make_limit_keeps_first_photos(folders):
    assert make(folders, "--seed", "1", "--limit", "4") == 0
    first = json.loads((folders / "study" / "key.json").read_text())["pairs"]
    assert len(first) == 4
    assert {p["photo"] for p in first.values()} == set(NAMES[:4])


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = (z / (1 + z**2 / n)) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def ten_pair_key() -> dict:
    ids = study.pair_ids(10)
    sides = ["L", "R"] * 5
    return {
        "methods": {"A": "new", "B": "old"}, "seed": 0,
        "pairs": {pair: {"photo": f"p{i}.png", "A": s} for i, (pair, s) in enumerate(zip(ids, sides))},
    }  # fmt: skip


def test_score_by_hand(tmp_path):
    key = ten_pair_key()
    (tmp_path / "key.json").write_text(json.dumps(key))
    # A is left on odd pairs (001, 003, ...), right on even ones. A wins 5 (001 L, 002 R,
    # 003 L, 004 R, 005 L), B wins 2 (006 L, 007 R), ties 3 (008-010).
    letters = ["L", "R", "L", "R", "L", "L", "R", "T", "T", "T"]
    rows = "".join(f"{p},{a}\n" for p, a in zip(key["pairs"], letters))
    (tmp_path / "ann.csv").write_text("pair,answer\n" + rows)
    swap = {"L": "R", "R": "L", "T": "T"}  # bob prefers what ann does not
    flipped = "".join(f"{p},{swap[a]}\n" for p, a in zip(key["pairs"], letters))
    (tmp_path / "bob.csv").write_text("pair,answer\n" + flipped)

    answers = study.parse_answers((tmp_path / "ann.csv").read_text(), list(key["pairs"]))
    ann = study.outcomes(answers, key)
    score = study.preference(list(ann.values()))
    assert (score["n"], score["ties"], score["A"]["wins"], score["B"]["wins"]) == (10, 3, 5, 2)
    assert score["A"]["rate"] == pytest.approx((5 + 3 / 2) / 10) == pytest.approx(0.65)
    assert score["B"]["rate"] == pytest.approx(0.35)
    assert score["A"]["decided_rate"] == pytest.approx(5 / 7)
    low, high = wilson_by_hand(5, 7)
    assert (score["A"]["low"], score["A"]["high"]) == pytest.approx((low, high))
    assert (low, high) == pytest.approx((0.3589, 0.9178), abs=1e-4)
    assert study.wilson(0, 0) == (0.0, 1.0)
    bom = "\ufeffpair,answer\npair_001,l\npair_002, \n"  # a spreadsheet's file; 002 not judged
    assert study.parse_answers(bom, list(key["pairs"])) == {"pair_001": "L"}

    files = [str(tmp_path / "ann.csv"), str(tmp_path / "bob.csv")]
    assert study_cli.main(["score", str(tmp_path), *files]) == 0
    text = (tmp_path / "score.md").read_text()
    assert "| ann | A: new | 10 | 5 | 3 | 0.650 | 0.714 | 0.359-0.918 |" in text
    assert "| bob | A: new | 10 | 2 | 3 | 0.350 | 0.286 |" in text
    assert "| pooled | A: new | 20 | 7 | 6 | 0.500 |" in text
    assert "agree on 3 of the 10" in text  # only the ties


@pytest.mark.parametrize(
    "body, message",
    [
        ("pair,answer\npair_011,L\n", "unknown pair"),
        ("pair,answer\npair_001,A\n", "not L, R or T"),
        ("pair,answer\npair_001,L\npair_001,R\n", "answered twice"),
        ("pair_001,L\n", "first line"),
    ],
)
def test_bad_answers_refused(tmp_path, capsys, body, message):
    (tmp_path / "key.json").write_text(json.dumps(ten_pair_key()))
    (tmp_path / "judge.csv").write_text(body)
    assert study_cli.main(["score", str(tmp_path), str(tmp_path / "judge.csv")]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "score.md").exists()


def test_page_serves_pairs_and_stores_answers(folders):
    pytest.importorskip("starlette", reason="the serve extra is not installed")
    from starlette.testclient import TestClient

    from npsynth.serve.app import allowed_hosts
    from npsynth.serve.study import create_study_app

    assert make(folders) == 0
    out = folders / "study"
    app = create_study_app(out, hosts=allowed_hosts("127.0.0.1", 8765))
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        page = client.get("/")
        assert page.status_code == 200 and "/static/js/study.js" in page.text
        assert client.get("/static/js/study.js").status_code == 200
        pairs = client.get("/api/study").json()["pairs"]
        assert pairs == [f"pair_00{i}" for i in range(1, 6)]
        sheet = client.get("/api/study/sheets/pair_003.png")
        assert sheet.content == (out / "sheets" / "pair_003.png").read_bytes()
        assert client.get("/api/study/sheets/key.png").status_code == 404
        assert client.post("/api/study/judges", json={"name": "../x"}).status_code == 400
        started = client.post("/api/study/judges", json={"name": "ann"}).json()
        assert started == {"judge": "ann", "answers": {}}
        for pair, letter in [("pair_002", "r"), ("pair_001", "T"), ("pair_002", "L")]:
            saved = client.post(
                "/api/study/answers", json={"judge": "ann", "pair": pair, "answer": letter}
            )
            assert saved.status_code == 200
        assert saved.json() == {"answered": 2, "count": 5}
        bad = client.post(
            "/api/study/answers", json={"judge": "ann", "pair": "pair_003", "answer": "A"}
        )
        assert bad.status_code == 400 and "L, R or T" in bad.json()["error"]
        assert client.post("/api/study/judges", json={"name": "ann"}).json()["answers"] == {
            "pair_001": "T", "pair_002": "L",
        }  # fmt: skip
        auto = client.post("/api/study/judges", json={"name": ""}).json()["judge"]
        assert auto.startswith("judge-")
        # Nothing the browser gets names a method, a photo or a side.
        seen = page.text + client.get("/static/js/study.js").text + json.dumps(pairs)
        for secret in ("key.json", str(folders / "a"), *NAMES):
            assert secret not in seen
    csv = (out / "answers" / "ann.csv").read_text()
    assert csv == "pair,answer\npair_001,T\npair_002,L\n"
    assert study_cli.main(["score", str(out)]) == 0  # STUDY/answers/*.csv by default
    assert "| ann |" in (out / "score.md").read_text()
    import os  # a FIFO where a judge's answers go: refused at once, never waited on

    from test_reading import release, within

    fifo = out / "answers" / "bob.csv"
    os.mkfifo(fifo)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        post = lambda: client.post("/api/study/judges", json={"name": "bob"})
        refused = within(post, unblock=release(fifo))
    assert refused.status_code == 400 and "not a regular file" in refused.json()["error"]


def test_a_fifo_as_the_key_or_an_answer_file_is_refused_at_once(tmp_path, capsys):
    """Neither the study's own key.json nor a judge's answer file is waited on when it is a
    FIFO with no writer: one line naming it, exit 2."""
    import os

    from test_reading import release, within

    (tmp_path / "key.json").write_text(json.dumps(ten_pair_key()))
    os.mkfifo(tmp_path / "judge.csv")
    argv = ["score", str(tmp_path), str(tmp_path / "judge.csv")]
    assert within(lambda: study_cli.main(argv), unblock=release(tmp_path / "judge.csv")) == 2
    error = capsys.readouterr().err.strip()
    assert "judge.csv" in error and "not a regular file" in error and len(error.splitlines()) == 1
    (tmp_path / "key.json").unlink()
    os.mkfifo(tmp_path / "key.json")
    argv = ["score", str(tmp_path), str(tmp_path / "judge.csv")]
    assert within(lambda: study_cli.main(argv), unblock=release(tmp_path / "key.json")) == 2
    error = capsys.readouterr().err.strip()
    assert "key.json" in error and "not a regular file" in error and len(error.splitlines()) == 1
