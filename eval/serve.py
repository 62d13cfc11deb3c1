"""Paint the hole in a browser: a local web page for removing objects from photos.

  python -m eval.serve                # prints http://127.0.0.1:PORT/ (a free port)
  python -m eval.serve --port 8765 --open
  python -m eval.serve --study STUDY      # judge a blind study (eval.study make; docs/study.md)

Needs the `serve` extra (`pip install -e ".[serve]"`). The page and everything it loads ship
inside npsynth, so it works offline. docs/serve.md says what the page does and how.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

from npsynth.cli.values import COUNT
from npsynth.config import flags

PROG = "python -m eval.serve"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServeFlags:
    """A local web page for npsynth inpainting."""

    port: int = 0  # port (0: a free one)
    host: str = "127.0.0.1"  # address to listen on (127.0.0.1: this machine only)
    open: bool = False  # open the page in the browser
    study: Path | None = None  # serve this blind study's page (a folder from eval.study make)
    max_mb: Annotated[int, COUNT] = 50  # largest upload, MiB
    max_megapixels: Annotated[int, COUNT] = 40  # largest photo or mask, megapixels


def parse_args(argv=None) -> ServeFlags:
    """The flags; a bad one exits 2 with one line naming it."""
    args = flags.parse(ServeFlags, [] if argv is None else argv, prog=PROG,
                       one_line_errors=True, flag_pairs=False)  # fmt: skip
    if not 0 <= args.port <= 65535:
        flags.usage_error(f"--port must be 0 to 65535, got {args.port}")
    return args


def main(argv=None) -> None:
    import sys

    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        from npsynth.serve.server import serve
        from npsynth.serve.uploads import Limits
    except ImportError as error:
        raise SystemExit(
            f'{PROG} needs the serve extra ({error.name} is missing): pip install -e ".[serve]"'
        ) from error
    limits = Limits(max_bytes=args.max_mb * 2**20, max_pixels=args.max_megapixels * 10**6)
    try:
        serve(host=args.host, port=args.port, open_browser=args.open, limits=limits,
              study=args.study)  # fmt: skip
    except (OSError, ValueError) as error:
        raise SystemExit(f"{PROG}: {error}") from error
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
