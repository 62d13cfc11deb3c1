"""Record the outputs of small fixed inpainting runs, for `test_same_results.py`.

Recorded before the restructuring of issue 18 (`python tests/record_same_results.py`, with the
API of then: `translate_scales=` instead of `scales=` for method="translate"); the test checks
that today's code reproduces these outputs to float32 rounding (the translate cases pin
`paste="direct"` (since issue 36 `level_paste`), the only paste of then, and the cases of holes other than the centred
square the shipped free-form content network, which content="auto" took then). Re-record only on purpose. The photos and masks
come from ../shared (never stored here); only the outputs are kept, in
tests/data/same_results.npz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from conftest import SHARED, load_photo
from npsynth import hub

OUT = Path(__file__).parent / "data" / "same_results.npz"


def irregular_mask(size: int) -> np.ndarray:
    """A 20-30 % NVIDIA mask, max-pooled to `size` (a hole pixel never disappears)."""
    mask = np.asarray(Image.open(SHARED / "data" / "masks" / "hole20-30_00.png").convert("L")) > 0
    factor = mask.shape[0] // size
    return mask.reshape(size, factor, size, factor).any(axis=(1, 3)).astype(np.float32)[..., None]


def centred_mask(height: int, width: int, top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((height, width, 1), np.float32)
    mask[top : top + side, left : left + side] = 1.0
    return mask


FREEFORM = {"content": "network", "content_checkpoint": str(hub.SHIPPED["content_net"][1])}


def cases():
    """name -> (image, mask, inpaint keyword arguments)."""
    photo = load_photo(SHARED / "data" / "eval512" / "img_003.png", 64)
    big = load_photo(SHARED / "data" / "eval512" / "img_007.png", 128)[:, :96]  # 128x96
    centred = centred_mask(64, 64, 16, 16, 32)
    irregular = irregular_mask(64)
    small_hole = centred_mask(128, 96, 70, 30, 12)
    # Recorded with one TV weight at every scale: since issue 21 the default's last scale
    # has its own (beta_last), so these cases pin None.
    tiny = {"scales": (32, 64), "iterations": 5, "beta_last": None}
    return {
        "optimize_centred_harmonic": (photo, centred, tiny | {"content": "harmonic"}),
        "optimize_centred_auto": (photo, centred, tiny | {"content": "auto"}),
        # Cases with FREEFORM were recorded with content="auto", which then took the shipped
        # free-form network for holes other than the centred square; since issue 21 "auto"
        # gives PatchMatch there, so these cases name that network.
        "optimize_irregular_auto": (photo, irregular, tiny | FREEFORM),
        "optimize_large_photo": (big, small_hole, tiny | {"content": "harmonic"}),
        "translate_centred": (photo, centred, {"method": "translate", "scales": (32, 64), "level_paste": "direct"}),
        "translate_irregular": (
            photo, irregular,
            {"method": "translate", "scales": (32, 64), "level_paste": "direct"} | FREEFORM,
        ),
        "translate_large_photo": (
            big, small_hole,
            {"method": "translate", "scales": (32, 64), "level_paste": "direct"} | FREEFORM,
        ),
    }  # fmt: skip


def main() -> None:
    import npsynth

    outputs = {}
    for name, (image, mask, kwargs) in cases().items():
        result = npsynth.inpaint(image, mask, **kwargs)
        outputs[name] = result.image
        outputs[name + "/reference"] = result.reference
        print(name, result.image.shape, f"{result.seconds:.1f} s")
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **outputs)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
