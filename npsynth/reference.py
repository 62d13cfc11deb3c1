"""The first scale's content reference (Yang et al. 2017, Sec. 3.1): the content network's
prediction, a fill from the hole's border when no network fits the hole, or a PatchMatch fill."""

from __future__ import annotations

import numpy as np

from npsynth import fill, hub, resize
from npsynth.config.inpaint import PyramidConfig
from npsynth.models import content_net


def content_reference(known: np.ndarray, hole: np.ndarray, config: PyramidConfig) -> np.ndarray:
    """The reference E_c pulls towards at the first scale (and the first initial value).

    The network works at its own size (128x128): the known pixels and the hole are resized to
    it, and its prediction is resized back and used inside the hole. With content="auto" the
    first content network found (`npsynth.hub`: the config's, $NPSYNTH_CONTENT_NET, else the
    shipped paper-mode then free-form ones) that fills the hole is used (a paper-mode network
    fills only the centred square); when none does, the harmonic fill.

    Args:
      known: [h, w, 3] the known pixels at the first scale; hole: [h, w, 1], 1 = hole.
      config: `content` and `content_checkpoint` choose the reference.

    Returns:
      [h, w, 3] float32: the known pixels, and the reference inside the hole.
    """
    if config.content in ("auto", "network"):
        checkpoints = hub.candidates("content_net", config.content_checkpoint)
        if config.content == "network" and not checkpoints:
            raise ValueError(
                "content='network' needs a trained content network: pass content_checkpoint=PATH "
                "(from `python -m train.content --export`) or set $NPSYNTH_CONTENT_NET"
            )
        # Networks are loaded in order and only until one fits the hole.
        models = (hub.load("content_net", path) for path in checkpoints)
        model = next((m for m in models if content_net.fills(m, _hole_at(hole, m))), None)
        if model is None and config.content == "network":
            model = hub.load("content_net", checkpoints[0])  # `predict` says why it cannot.
        if model is not None:
            side = model.image_size
            predicted = content_net.predict(
                model, resize.resize_image(known, (side, side)), _hole_at(hole, model)
            )
            filled = resize.resize_image(predicted, known.shape[:2])
            return np.where(hole > 0, filled, known).astype(np.float32)
    if config.content == "patchmatch":
        return patchmatch_fill(known, hole)
    fill_fn = fill.mean_fill if config.content == "mean" else fill.harmonic_fill
    return np.asarray(fill_fn(known, hole), np.float32)


# PatchMatch's patch radius (patches of 7x7 pixels) and the seed of its randomised search.
PATCHMATCH_PATCH_RADIUS = 3
PATCHMATCH_SEED = 0


def patchmatch_fill(known: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The hole filled by PatchMatch (Barnes et al. 2009) from the `pypatchmatch` package.

    Args:
      known: [h, w, 3] in [0, 1]; hole: [h, w, 1], 1 = hole.

    Returns:
      [h, w, 3] float32: `known` outside the hole, PatchMatch's pixels (multiples of 1/255)
      inside; reproducible (the package's seed is set first, where it has one).
    """
    try:
        from patchmatch import patch_match
    except ImportError as error:
        raise ImportError(
            'content="patchmatch" needs the pypatchmatch package: pip install "npsynth[compare]"'
        ) from error
    known = np.asarray(known, np.float32)
    inside = np.asarray(hole)[..., 0] > 0.5
    if not inside.any():
        return known.copy()
    set_seed = getattr(patch_match, "set_random_seed", None)  # pypatchmatch >= 2 has it
    if set_seed is not None:
        set_seed(PATCHMATCH_SEED)
    pixels = np.round(np.clip(known, 0.0, 1.0) * 255).astype(np.uint8)
    filled = patch_match.inpaint(
        pixels, inside.astype(np.uint8) * 255, patch_size=PATCHMATCH_PATCH_RADIUS
    )
    filled = np.asarray(filled, np.float32) / 255.0
    return np.where(inside[..., None], filled, known).astype(np.float32)


def _hole_at(hole: np.ndarray, model) -> np.ndarray:
    """The hole at a content network's input size, never shrunk (`resize.resize_mask`)."""
    return resize.resize_mask(hole, (model.image_size, model.image_size))
