"""Every relative link and image in README.md and docs/ points at a file of the repository, and
every `#anchor` at a heading of its target (GitHub's heading slugs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
# [text](target) or ![alt](target), the target up to an optional "title".
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose_lines(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks, inline code removed."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script,
    digits, `_` and `-` kept), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings; a repeated one gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(2).replace("`", ""))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path, root: Path = REPO) -> list[str]:
    """The links of `path` whose file or heading does not exist, as 'file: target' lines (the
    file relative to `root`)."""
    broken = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            is_md = linked.suffix == ".md"
            if not linked.exists() or (anchor and is_md and anchor not in anchors(linked)):
                broken.append(f"{path.relative_to(root)}: {target}")
    return broken


def test_slug_matches_githubs_anchors():
    # Anchors GitHub made for headings of docs/results.md, as its old contents list used them.
    assert slug("How α and β were chosen") == "how-α-and-β-were-chosen"
    assert (
        slug("The default on irregular holes: PatchMatch as E_c's reference")
        == "the-default-on-irregular-holes-patchmatch-as-e_cs-reference"
    )
    assert (
        slug("Headline tables, third round: the last scale's β on 20 photos")
        == "headline-tables-third-round-the-last-scales-β-on-20-photos"
    )
    assert slug("Translate: 512 px and 128 px") == "translate-512-px-and-128-px"


def test_repeated_headings_and_code_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A\n\n```bash\n# not a heading\n```\n\n## A\n\n## B: c\n", encoding="utf-8")
    assert anchors(page) == {"a", "a-1", "b-c"}


def test_broken_links_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# Here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#here) [gone](missing.md#here) [bad anchor](other.md#there) "
        "![img](pic.png) [web](https://example.com/x.md) `[code](nowhere.md)`\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "page.md: missing.md#here",
        "page.md: other.md#there",
        "page.md: pic.png",
    ]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(path):
    assert broken_links(path) == []
