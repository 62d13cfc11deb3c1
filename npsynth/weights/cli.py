"""`python -m npsynth.weights` (console script `npsynth-weights`): find, verify and cache VGG-19.

It uses the user cache folder of `npsynth.hub.cache_dir()`.
"""

from __future__ import annotations

import argparse
import sys

from npsynth.hub import cache_dir
from npsynth.weights import REFERENCE_SHA256, SOURCES, WeightsError, load


def main(argv: list[str] | None = None) -> int:
    """Load the weights from `--source`, print where they came from and their content hash."""
    parser = argparse.ArgumentParser(
        prog="python -m npsynth.weights",
        description="Find, verify and cache the ImageNet-pretrained VGG-19 weights.",
    )
    parser.add_argument(
        "--verify", action="store_true", help="load the weights and print their hash"
    )
    parser.add_argument(
        "--source", default="auto", help=f"{', '.join(SOURCES)} (default auto), or a file path"
    )
    args = parser.parse_args(argv)
    try:
        weights = load(source=args.source, cache=cache_dir())
    except (WeightsError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    digest = weights.sha256
    print(f"source: {weights.origin}")
    print(
        f"layers: {len(weights.arrays)} convolutions, "
        f"{sum(k.size + b.size for k, b in weights.arrays.values()):,} parameters"
    )
    print(f"content sha256: {digest}")
    if digest == REFERENCE_SHA256:
        print("matches the reference weights (../shared/weights, Keras layout) bit for bit")
    else:
        print(f"differs from the reference hash {REFERENCE_SHA256}: not the canonical weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
