"""`python -m npsynth.weights --verify`: see `npsynth.weights.cli`."""

import sys

from npsynth.weights.cli import main

if __name__ == "__main__":
    sys.exit(main())
