"""Paint the hole in a browser: a local web page for removing objects from photos.

  python -m eval.serve                # prints http://127.0.0.1:PORT/ (a free port)
  python -m eval.serve --port 8765 --open
  python -m eval.serve --study STUDY      # judge a blind study (eval.study make; docs/study.md)

Needs the `serve` extra (`pip install -e ".[serve]"`). The page and everything it loads ship
inside npsynth, so it works offline. docs/serve.md says what the page does and how.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from npsynth.evaluation.cli_errors import positive_int


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m eval.serve", description="A local web page for npsynth inpainting."
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    parser.add_argument("--open", action="store_true", help="open the page in the browser")
    parser.add_argument(
        "--study", type=Path, help="serve this blind study's page (a folder from eval.study make)"
    )
    parser.add_argument(
        "--max-mb", type=positive_int, default=50, help="largest upload, MiB (default 50)"
    )
    parser.add_argument(
        "--max-megapixels", type=positive_int, default=40,
        help="largest photo or mask, megapixels (default 40)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0 to 65535, got {args.port}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        from npsynth.serve.server import serve
        from npsynth.serve.uploads import Limits
    except ImportError as error:
        raise SystemExit(
            f"python -m eval.serve needs the serve extra ({error.name} is missing): "
            'pip install -e ".[serve]"'
        ) from error
    limits = Limits(max_bytes=args.max_mb * 2**20, max_pixels=args.max_megapixels * 10**6)
    try:
        serve(
            host=args.host, port=args.port, open_browser=args.open, limits=limits,
            study=args.study,
        )  # fmt: skip
    except (OSError, ValueError) as error:
        raise SystemExit(f"python -m eval.serve: {error}") from error
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
