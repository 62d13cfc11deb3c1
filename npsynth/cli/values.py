"""Flag values the command lines check themselves (the configs check their own settings):
`Annotated[int | None, COUNT]` and the like, each a `npsynth.config.flags.text_flag` whose
error names the flag in one line ("argument --limit: must be at least 1, got '0'")."""

from __future__ import annotations

import argparse

from npsynth.cli.errors import hole_kind, positive_int, seed_int
from npsynth.config import flags


def _flag_type(check, metavar: str):
    """A `flags.text_flag` from a value check of `npsynth.cli.errors` (its message kept)."""

    def convert(text: str):
        try:
            return check(text)
        except argparse.ArgumentTypeError as error:
            raise ValueError(str(error)) from None

    return flags.text_flag(convert, metavar)


def _shard(text: str) -> tuple[int, int]:
    from npsynth.harness.shards import parse_shard

    return parse_shard(text)


COUNT = _flag_type(positive_int, "N")  # a whole number >= 1
SEED = _flag_type(seed_int, "N")  # a seed, a whole number >= 0
HOLE = _flag_type(hole_kind, "KIND")  # a generated hole: center[:FRACTION], boxes, strokes
SHARD = flags.text_flag(_shard, "K/N|auto")  # this host's part of a folder
