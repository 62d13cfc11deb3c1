"""One prepared check for a machine with a GPU: benchmarks, one 512 px photo, one table.

    pip install -e ".[cuda]"                  # JAX for NVIDIA GPUs (CUDA 12 wheels), once
    NPSYNTH_VGG19=../shared/weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 \\
        python -m eval.gpu_check                # at most 8 minutes, install included

The steps, the time budget and the table: `npsynth.benchmarks.gpu_check`, whose `GpuCheck`
fields are the flags (--photos, --out, --budget, --install, --allow-cpu, --tiny, --dry-run).
Exit 0 when every step passed (or is not available), 1 otherwise, 2 for a bad flag.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from npsynth.benchmarks.gpu_check import GpuCheck, run_check, run_command
from npsynth.config.flags import parse_command_line


def main(argv=None, *, run: Callable = run_command) -> int:
    """Exit 0 when every step passed (or is not available), 1 otherwise, 2 for a bad flag."""
    start = time.monotonic()
    about = __doc__.split("\n")[0]
    check = parse_command_line(GpuCheck, argv, prog="python -m eval.gpu_check", description=about)
    return run_check(check, run=run, start=start)


if __name__ == "__main__":
    sys.exit(main())
