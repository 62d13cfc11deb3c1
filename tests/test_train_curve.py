"""`python -m train.curve`: windowed means of metrics.jsonl, against hand-computed values."""

from __future__ import annotations

import json

from train import curve


def test_windows_average_the_records_inside_them(tmp_path, capsys):
    records = [{"step": 50, "l2": 0.1}, {"step": 100, "l2": 0.3}, {"step": 150, "l2": 0.5},
               {"step": 200, "l2": 0.7}, {"step": 250, "g_loss": 9.0}]  # fmt: skip
    text = "\n".join(json.dumps(r) for r in records) + '\n{"step": 3'  # a half-written line
    (tmp_path / "metrics.jsonl").write_text(text)
    assert curve.main([str(tmp_path), "--window", "100"]) == 0
    out = capsys.readouterr().out
    # (0, 100]: 0.1 and 0.3; (100, 200]: 0.5 and 0.7; step 250 has no l2.
    assert out.splitlines()[2:] == ["| 1–100 | 2 | 0.2000 |", "| 101–200 | 2 | 0.6000 |"]
    assert curve.main([str(tmp_path), "--key", "d_loss"]) == 2
    assert "no 'd_loss'" in capsys.readouterr().err
