"""A blind side-by-side study of two methods' fills, as inpainting papers run with people.

Pure functions (NumPy, no I/O): which fill goes left on each pair sheet (`assign_sides`),
the sheet itself as an array (`pair_sheet`: the photo with the hole greyed and outlined |
left fill | right fill, each cropped to the hole's box plus a margin, no text), the sealed
key (`make_key`), and the scoring of judges' answers (`parse_answers`, `outcomes`,
`preference`, `wilson`, `agreement`, `score_table`). `eval/study.py` does the files.

Judges answer L (left better), R (right better) or T (tie); the key turns each answer into
A, B or T. A tie counts half a win for each side in the rate; the Wilson score interval is
over the judgements that are not ties (docs/study.md).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tyro

from npsynth import files as npfiles
from npsynth import io as npio
from npsynth.harness import checks, runner

LETTERS = ("L", "R", "T")  # what a judge answers: left better, right better, tie
GREY = 0.5  # the hole in the photo panel: its true pixels are never shown
OUTLINE = (1.0, 0.0, 1.0)  # magenta: a colour rare in photos, around the hole
GAP = 8  # white pixels between panels
Z95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


def pair_ids(count: int) -> list[str]:
    """`pair_001`, `pair_002`, ... (at least three digits, more for 1000 pairs or more)."""
    width = max(3, len(str(count)))
    return [f"pair_{i:0{width}d}" for i in range(1, count + 1)]


def assign_sides(count: int, rng: np.random.Generator) -> np.ndarray:
    """Whether A is drawn left on each of `count` pairs: exactly half True for an even count,
    floor or ceil of half (chosen at random) for an odd one, in a shuffled order.

    Returns:
      bool [count], True = A left.
    """
    lefts = count // 2 + (int(rng.integers(2)) if count % 2 else 0)
    sides = np.arange(count) < lefts
    return rng.permutation(sides)


def hole_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the hole's bounding box grown by `margin` px, clipped
    to the image; bottom and right exclusive. mask: [H, W, 1] or [H, W], 1 = hole."""
    hole = np.asarray(mask).reshape(mask.shape[0], mask.shape[1]) > 0.5
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask has no hole pixel")
    height, width = hole.shape
    return (
        max(0, rows[0] - margin),
        min(height, rows[-1] + 1 + margin),
        max(0, cols[0] - margin),
        min(width, cols[-1] + 1 + margin),
    )


def outlined_hole(photo: np.ndarray, mask: np.ndarray, *, thickness: int = 2) -> np.ndarray:
    """The photo as a judge sees the task: known pixels as they are, the hole grey, and a
    magenta line `thickness` px wide just outside the hole's edge.

    Args:
      photo: [H, W, 3] in [0, 1]; mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [H, W, 3].
    """
    hole = mask[..., 0] > 0.5
    grown = hole.copy()
    for _ in range(thickness):  # grow by one pixel (4-neighbours) per step
        step = grown.copy()
        step[1:] |= grown[:-1]
        step[:-1] |= grown[1:]
        step[:, 1:] |= grown[:, :-1]
        step[:, :-1] |= grown[:, 1:]
        grown = step
    out = np.where(hole[..., None], GREY, photo).astype(np.float32)
    out[grown & ~hole] = OUTLINE
    return out


def pair_sheet(
    photo: np.ndarray, mask: np.ndarray, left: np.ndarray, right: np.ndarray, *, margin: int
) -> np.ndarray:
    """One pair sheet: outlined hole | left fill | right fill, each cropped to the hole's
    box plus `margin` px, at full resolution, white gaps, no text.

    Args:
      photo, left, right: [H, W, 3] in [0, 1]; mask: [H, W, 1], 1 = hole.

    Returns:
      float32 [h, 3 w + 2 GAP, 3].
    """
    for name, image in (("left", left), ("right", right)):
        if image.shape != photo.shape:
            raise ValueError(f"the {name} fill is {image.shape}, the photo {photo.shape}")
    top, bottom, lo, hi = hole_box(mask, margin)
    panels = [outlined_hole(photo, mask), left, right]
    crops = [np.asarray(p, np.float32)[top:bottom, lo:hi] for p in panels]
    gap = np.ones((bottom - top, GAP, 3), np.float32)
    return np.concatenate([crops[0], gap, crops[1], gap, crops[2]], axis=1)


def make_key(
    photos: Sequence[str], a_left: Sequence[bool], methods: Mapping[str, str], seed: int
) -> dict:
    """The sealed key: pair id -> photo and the side A is on, and what A and B are.

    Args:
      photos: the photo of each pair, in pair id order.
      a_left: whether A is left on each pair.
      methods: {"A": folder or name, "B": ...}.
      seed: the seed that drew the order and the sides.
    """
    pairs = {
        pair: {"photo": photo, "A": "L" if left else "R"}
        for pair, photo, left in zip(pair_ids(len(photos)), photos, a_left, strict=True)
    }
    return {"methods": dict(methods), "seed": seed, "pairs": pairs}


def answers_template(ids: Sequence[str]) -> str:
    """The CSV a judge fills in by hand: `pair,answer` with the answers empty."""
    return "pair,answer\n" + "".join(f"{pair},\n" for pair in ids)


def parse_answers(text: str, ids: Sequence[str], *, name: str = "answers") -> dict[str, str]:
    """The answers of one judge from CSV text `pair,answer` (a header line first).

    Answers are L, R or T (any case, spaces ignored); an empty answer is a pair not judged.
    A leading byte-order mark (spreadsheets write one) is ignored.

    Returns:
      pair id -> "L" | "R" | "T", in the file's order.

    Raises:
      ValueError: no `pair,answer` header, an unknown pair, a letter other than L/R/T, or
        a pair given twice; the message names `name` and the line.
    """
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))  # a spreadsheet's BOM
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header[:2] != ["pair", "answer"]:
        raise ValueError(f"{name}: the first line must be 'pair,answer', got {header!r}")
    known, answers = set(ids), {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        pair = row[0].strip()
        letter = row[1].strip().upper() if len(row) > 1 else ""
        if pair not in known:
            raise ValueError(f"{name} line {line}: unknown pair {pair!r}")
        if pair in answers:
            raise ValueError(f"{name} line {line}: pair {pair!r} is answered twice")
        if len(row) > 2 and any(cell.strip() for cell in row[2:]):
            raise ValueError(f"{name} line {line}: expected 'pair,answer', got {row!r}")
        if letter and letter not in LETTERS:
            raise ValueError(f"{name} line {line}: answer {row[1]!r} is not L, R or T")
        if letter:
            answers[pair] = letter
        else:
            answers[pair] = None  # listed but not judged: still a duplicate if listed again
    return {pair: letter for pair, letter in answers.items() if letter}


def outcomes(answers: Mapping[str, str], key: Mapping) -> dict[str, str]:
    """Each judged pair's winner, "A", "B" or "T", from L/R/T answers and the key."""
    out = {}
    for pair, letter in answers.items():
        a_side = key["pairs"][pair]["A"]
        out[pair] = "T" if letter == "T" else ("A" if letter == a_side else "B")
    return out


def wilson(wins: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion `wins` / `n` ((0, 1) when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def preference(results: Sequence[str]) -> dict:
    """A's and B's preference from a list of "A" / "B" / "T" judgements.

    Returns:
      {"n", "ties", "A": {...}, "B": {...}} where each method has `wins`, `rate` (wins plus
      half the ties, over all judgements), `decided_rate` (wins over the judgements that are
      not ties) and `low`, `high` (its 95 % Wilson interval).
    """
    n, ties = len(results), sum(r == "T" for r in results)
    wins = {m: sum(r == m for r in results) for m in ("A", "B")}
    decided = n - ties
    out = {"n": n, "ties": ties}
    for method, won in wins.items():
        low, high = wilson(won, decided)
        out[method] = {
            "wins": won,
            "rate": (won + ties / 2) / n if n else math.nan,
            "decided_rate": won / decided if decided else math.nan,
            "low": low,
            "high": high,
        }
    return out


def agreement(judges: Sequence[Mapping[str, str]]) -> tuple[int, int]:
    """(pairs where every judge gave the same outcome, pairs every judge answered)."""
    common = set.intersection(*(set(j) for j in judges)) if judges else set()
    same = sum(len({j[pair] for j in judges}) == 1 for pair in common)
    return same, len(common)


def score_table(
    judges: Mapping[str, Mapping[str, str]], methods: Mapping[str, str], total: int
) -> str:
    """The Markdown report: one row per judge and method, then the pooled rows.

    Args:
      judges: judge name -> pair id -> "A" | "B" | "T" (`outcomes`).
      methods: {"A": name, "B": name} from the key.
      total: the study's number of pairs.
    """
    lines = [
        "| judge | method | pairs | wins | ties | rate (ties ½) | rate (no ties) | 95 % Wilson (no ties) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = list(judges.items())
    if len(groups) > 1:
        groups.append(("pooled", {f"{j}/{p}": r for j, o in judges.items() for p, r in o.items()}))
    for judge, judged in groups:
        score = preference(list(judged.values()))
        for method in ("A", "B"):
            m = score[method]
            lines.append(
                f"| {judge} | {method}: {methods[method]} | {score['n']} | {m['wins']} | "
                f"{score['ties']} | {m['rate']:.3f} | {m['decided_rate']:.3f} | "
                f"{m['low']:.3f}-{m['high']:.3f} |"
            )
    lines += ["", f"{total} pairs in the study; {len(judges)} judge(s)."]
    if len(judges) > 1:
        same, common = agreement(list(judges.values()))
        lines.append(f"All judges agree on {same} of the {common} pairs they all answered.")
    lines.append(
        "A tie counts half a win for each side in 'rate (ties ½)'; 'rate (no ties)' and its "
        "Wilson interval leave ties out. Pooled rows treat every judgement as independent "
        "(they are not: judges see the same pairs), so their interval is too narrow."
    )
    return "\n".join(lines) + "\n"


# The files of a study (I/O at the edge; the command line is eval/study.py).

JUDGE_README = """# A blind comparison: which fill looks better?

Each sheet in `sheets/` shows three pictures of one photo: first the photo with a region
removed (grey, outlined in magenta), then two different fills of that region, LEFT and
RIGHT. Which fill looks more natural: more like a real photo, with no blur, smudges,
repeated patches or visible seams?

Answer each pair with one letter:

- L: the left fill is better
- R: the right fill is better
- T: a tie (equally good or equally bad)

Judge in the page (`python -m eval.serve --study THIS_FOLDER`, keys L, R, T), or copy
`answers_template.csv` to a file of your own and write a letter after each pair id. Do not
open `key.json`: it says which method made which fill.
"""


def fills_folder(path: Path) -> Path:
    """The folder of fills `path` names: itself, or an eval.inpaint run's only method's
    `outputs/<method>/`.

    Raises:
      ValueError: a run folder with several methods (name one: RUN/outputs/METHOD).
    """
    outputs = path / "outputs"
    if not ((path / "settings.json").is_file() and outputs.is_dir()):
        return path
    methods = sorted(p.name for p in outputs.iterdir() if p.is_dir())
    if len(methods) != 1:
        raise ValueError(f"{str(path)!r} is a run with methods {methods}: pass {outputs}/METHOD")
    return outputs / methods[0]


def fill_file(folder: Path, name: str) -> Path | None:
    """The fill of photo `name` in `folder`: its eval.inpaint output file (`a.jpg.png`, or
    `a.png` for a PNG photo), else a file of the same name; None without either."""
    for candidate in (folder / checks.output_file(name), folder / name):
        if candidate.is_file():
            return candidate
    return None


def make_study(
    a: Path, b: Path, photos: runner.Photos, out: Path, *, seed: int, margin: int,
    limit: int | None = None,
) -> int:  # fmt: skip
    """Write the study folder `out` (sheets/, key.json, answers_template.csv, README.md)
    for the photos that have a fill in both `a` and `b`; returns the number of pairs.

    Raises:
      ValueError: `out` holds a study already, no photo has both fills, or a fill's size
        differs from its photo's; the message names the files.
    """
    if (out / "key.json").exists():
        raise ValueError(f"{str(out)!r} holds a study already (key.json); pick a new --out")
    folders = {"A": fills_folder(a), "B": fills_folder(b)}
    found = []
    for name, photo, mask in runner.load_pairs(photos):
        files = {m: fill_file(folder, name) for m, folder in folders.items()}
        if all(files.values()):
            found.append((name, photo, mask, files))
    found = found[:limit]
    if not found:
        raise ValueError(f"no photo of {str(photos.images)!r} has a fill in both --a and --b")
    rng = np.random.default_rng(seed)
    order, a_left = rng.permutation(len(found)), assign_sides(len(found), rng)
    ids = pair_ids(len(found))
    for pair, index, left_is_a in zip(ids, order, a_left):
        name, photo, mask, files = found[index]
        fills = {m: npio.load_image(path) for m, path in files.items()}
        left, right = (fills["A"], fills["B"]) if left_is_a else (fills["B"], fills["A"])
        try:
            sheet = pair_sheet(photo, mask, left, right, margin=margin)
        except ValueError as error:
            raise ValueError(f"photo {name!r} and its fills {list(files.values())}: {error}")
        npio.save_image(out / "sheets" / f"{pair}.png", sheet)  # no `like`: no metadata
    methods = {m: str(folder) for m, folder in folders.items()}
    key = make_key([found[i][0] for i in order], a_left.tolist(), methods, seed)
    npfiles.atomic_write(out / "key.json", json.dumps(key, indent=1) + "\n")
    npfiles.atomic_write(out / "answers_template.csv", answers_template(ids))
    npfiles.atomic_write(out / "README.md", JUDGE_README)
    return len(found)


def read_key(study: Path) -> dict:
    """The key of the study in `study` (its key.json)."""
    return json.loads(npfiles.read_regular(study / "key.json", "the study's key"))


def study_pairs(study: Path) -> list[str]:
    """The pair ids of a study, from its sheets (never from the key: the page uses it)."""
    return sorted(path.stem for path in (study / "sheets").glob("pair_*.png"))


def score_study(study: Path, answer_files: Sequence[Path]) -> str:
    """The Markdown score of the study `study` from judges' answer files, also written to
    `study/score.md`; judges are named by their files' stems.

    Raises:
      ValueError: a bad answer file (`parse_answers`), or two files with one name.
    """
    key = read_key(study)
    ids = list(key["pairs"])
    judges = {}
    for path in answer_files:
        path = Path(path)
        if path.stem in judges:
            raise ValueError(f"two answer files are named {path.stem!r}; rename one")
        answers = parse_answers(npfiles.read_regular(path, "answer file"), ids, name=str(path))
        judges[path.stem] = outcomes(answers, key)
    text = score_table(judges, key["methods"], len(ids))
    npfiles.atomic_write(study / "score.md", text)
    return text


@dataclasses.dataclass(frozen=True, kw_only=True)
class MakeStudy:
    """Write the pair sheets and the sealed key (`python -m eval.study make`)."""

    # Method A's fills (or its run).
    a: Path
    # Method B's fills (or its run).
    b: Path
    # The photos (eval.inpaint's --images).
    photos: Path
    # Mask folder or file (paired in sorted order).
    masks: Path | None = None
    # Generated hole, as eval.inpaint's --hole.
    hole: str | None = None
    # eval.inpaint's --seed.
    hole_seed: int = 0
    # eval.inpaint's --resize.
    resize: int | None = None
    # The study folder to write.
    out: Path
    # Seed of the order and sides.
    seed: int = 0
    # Px around the hole's box.
    crop_margin: int = 32
    # Only the first N photos with both fills.
    limit: int | None = None

    def __post_init__(self):
        checks.check_not_both(masks=self.masks, hole=self.hole)
        checks.check_hole_kind(self.hole)
        checks.check_at_least(0, hole_seed=self.hole_seed, seed=self.seed,
                              crop_margin=self.crop_margin)  # fmt: skip
        checks.check_at_least(1, resize=self.resize, limit=self.limit)

    def run(self) -> str:
        """Make the study; what to tell the user."""
        photos = runner.Photos(images=self.photos, masks=self.masks, hole=self.hole,
                               seed=self.hole_seed, resize=self.resize)  # fmt: skip
        count = make_study(self.a, self.b, photos, self.out, seed=self.seed,
                           margin=self.crop_margin, limit=self.limit)  # fmt: skip
        return f"{count} pair sheets in {self.out / 'sheets'}; judges read {self.out / 'README.md'}"


@dataclasses.dataclass(frozen=True)
class ScoreStudy:
    """Score judges' answers (`python -m eval.study score`)."""

    # The study folder.
    study: tyro.conf.Positional[Path]
    # Answer CSVs (pair,answer), one a judge; default STUDY/answers/*.csv.
    answers: tyro.conf.Positional[tuple[Path, ...]] = ()

    def run(self) -> str:
        """The score (`score_study`).

        Raises:
          ValueError: no answer files given and none in STUDY/answers, or a bad one.
        """
        answers = self.answers or sorted((self.study / "answers").glob("*.csv"))
        if not answers:
            raise ValueError(f"no answer files given and none in {self.study / 'answers'}")
        return score_study(self.study, answers)
