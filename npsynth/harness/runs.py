"""A run folder's saved settings and rows, and the one resume rule.

Every command that writes a folder of results a rerun may keep (the folder runner's
`metrics.csv`, the gallery's `gallery.csv`, the frontier's `frontier.csv`) saves beside its
rows the settings that decide them. `RunFolder.resumed_rows` is the one rule for a rerun with
`--resume`: nothing there is nothing to keep; rows without their settings, or settings that
differ where they matter, are refused with one line naming the folder; else the saved rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from npsynth import files as npfiles
from npsynth.errors import InputError, as_input_error
from npsynth.harness import report


def differing_keys(settings: dict, saved: dict) -> list[str]:
    """The keys of `settings` and `saved` whose values differ, sorted."""
    return sorted(k for k in settings.keys() | saved.keys() if settings.get(k) != saved.get(k))


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunFolder:
    """A folder of results: a JSON settings file and a CSV of rows, one per result (by
    default a folder run's settings.json and metrics.csv)."""

    path: Path
    settings_file: str = "settings.json"
    rows_file: str = "metrics.csv"
    required: tuple[str, ...] = ()  # keys every saved settings object has
    # How the rows are read (`report.read_csv`; the defaults: a metrics.csv): the columns the
    # file must have, those read as floats, those of them that may be empty or missing (NaN).
    columns: Sequence[str] | None = None
    numbers: Sequence[str] | None = None
    empty_is_nan: Sequence[str] = report.TEXTURE_NAMES
    rows_name: str = "the run's metrics"  # the rows file in words, in messages

    def read_settings(self, context: str) -> dict:
        """The saved settings, with config fields added since (`report.with_new_config_fields`).

        Raises:
          InputError: they cannot be read, or are not a JSON object with the `required`
            keys; the message starts with `context` ("cannot --resume in OUT").
        """
        path = self.path / self.settings_file
        with as_input_error(f"{context}: {self.settings_file}"):
            saved = json.loads(npfiles.read_regular(path, "the run's settings"))
        if not isinstance(saved, dict) or any(key not in saved for key in self.required):
            lacks = f"it lacks {', '.join(self.required)} or " if self.required else ""
            raise InputError(
                f"{context}: {path} is not the {self.settings_file} of an npsynth run "
                f"({lacks}is not a JSON object); was it edited?"
            )
        return report.with_new_config_fields(saved)

    def read_rows(self, context: str) -> list[dict]:
        """The saved rows (`report.read_csv`).

        Raises:
          InputError: they cannot be read or are damaged (a cut or extra field, a missing
            column); the message starts with `context` and names the line.
        """
        with as_input_error(context):
            return report.read_csv(
                self.path / self.rows_file, columns=self.columns, numbers=self.numbers,
                empty_is_nan=self.empty_is_nan, what=self.rows_name,
            )  # fmt: skip

    def write_settings(self, settings: dict) -> None:
        """Save `settings` (indented JSON), atomically."""
        npfiles.atomic_write(self.path / self.settings_file, json.dumps(settings, indent=2) + "\n")

    def resumed_rows(
        self,
        settings: dict,
        resume: bool,
        *,
        differences: Callable[[dict, dict], list[str]] = differing_keys,
    ) -> tuple[dict, list[dict]]:
        """(the saved settings, the saved rows) that a run with `settings` may keep: both
        empty without `resume` or without saved rows.

        Args:
          settings: the new run's.
          differences: what differs between the new and the saved settings, in words; the
            run is refused where anything does (default: the keys whose values differ).

        Raises:
          InputError: rows without settings, settings that differ, or saved files that
            cannot be read; the message names the folder.
        """
        if not resume or not (self.path / self.rows_file).exists():
            return {}, []
        context = f"cannot --resume in {self.path}"
        if not (self.path / self.settings_file).exists():
            raise InputError(
                f"{context}: it has {self.rows_file} but no {self.settings_file}, so its "
                "settings cannot be checked; use a new --out or drop --resume"
            )
        saved = self.read_settings(context)
        changed = differences(report.comparable(settings), report.comparable(saved))
        if changed:
            raise InputError(
                f"{context}: its results were made with other settings "
                f"({', '.join(changed)} differ); use a new --out or drop --resume"
            )
        return saved, self.read_rows(context)
