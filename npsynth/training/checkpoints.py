"""Orbax checkpoints of a training state (`npsynth.training.steps`) in a workdir.

The state is the plain dict `{generator, discriminator, opt_g, opt_d, step}`, saved with
`StandardSave` and restored into the abstract state of the same task (`abstract_state`),
placed on the caller's shardings (`devices.abstract_with_sharding`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from npsynth.training.workdir import CHECKPOINT_DIR, ConfigMismatchError

# What Orbax raises on a checkpoint that does not fit the model or is damaged.
RESTORE_ERRORS = (ValueError, KeyError, TypeError, OSError)


def _reason(error: BaseException) -> str:
    """One line (at most 300 characters) of why a checkpoint could not be restored."""
    return " ".join(str(error).split())[:300] or type(error).__name__


class Checkpoints:
    """Orbax checkpoints of a training state under `workdir/checkpoints/<step>`.

    Keeps the newest `keep`; saves run in the background (the device-to-host copy is done
    before `save` returns, so the caller may donate the state right after); `close` waits
    for them.
    """

    def __init__(self, workdir, *, keep: int, create: bool = True):
        """`create=False`: only read (checkpoints/ is not created when missing)."""
        import orbax.checkpoint as ocp

        self.ocp = ocp
        self.directory = (Path(workdir) / CHECKPOINT_DIR).absolute()
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=create),
        )
        self.last_saved: int | None = self.manager.latest_step()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state) -> None:
        """Save `state` as step `step` (once: a second save of the same step is skipped)."""
        if step == self.last_saved:
            return
        self.manager.save(step, args=self.ocp.args.StandardSave(state), force=True)
        self.last_saved = step

    def restore(self, step: int, abstract_state):
        """The state saved at `step`, restored into the structure/shardings of `abstract_state`.

        Raises:
          ConfigMismatchError: it cannot be restored (another model, or a damaged file).
        """
        try:
            return self.manager.restore(step, args=self.ocp.args.StandardRestore(abstract_state))
        except RESTORE_ERRORS as error:
            raise ConfigMismatchError(
                f"checkpoint {self.directory / str(step)} cannot be restored into the current "
                f"model: {_reason(error)}. Resume with the settings it was trained with "
                "(config.json), or train into a new --workdir."
            ) from error

    def restore_newest(self, abstract_state) -> tuple[int, object, list[tuple[int, str]]]:
        """(step, state) of the newest checkpoint that can be restored (`restore`), and
        (step, reason) of each newer one that cannot (damaged, or cut short).

        Raises:
          ConfigMismatchError: none can be restored (or there is none); the message gives
            each one's reason.
        """
        failed: list[tuple[int, str]] = []
        for step in sorted(self.manager.all_steps(), reverse=True):
            args = self.ocp.args.StandardRestore(abstract_state)
            try:
                return step, self.manager.restore(step, args=args), failed
            except RESTORE_ERRORS as error:
                failed.append((step, _reason(error)))
        reasons = "; ".join(f"step {step}: {reason}" for step, reason in failed)
        raise ConfigMismatchError(
            f"no checkpoint in {self.directory} can be restored ({reasons or 'there is none'}). "
            "Resume with the settings they were trained with (config.json), or train into a "
            "new --workdir."
        )

    def close(self) -> None:
        """Wait for the background saves, then release the manager."""
        self.manager.wait_until_finished()
        self.manager.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
