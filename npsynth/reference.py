"""The first scale's content reference (Yang et al. 2017, Sec. 3.1): the content network's
prediction where a network fits the hole, else a PatchMatch fill (or, when asked for, a fill
from the hole's border or the known pixels' mean colour). `npsynth.inpaint` hands
`first_reference(config)` to the pyramid; `patchmatch_fill` is npsynth's one wrapper of the
`pypatchmatch` package (the PatchMatch baseline calls it too)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from npsynth import fill, hub, resize
from npsynth.config.inpaint import PyramidConfig
from npsynth.models import content_net


def content_source(hole: np.ndarray, config: PyramidConfig) -> str:
    """What the first scale's reference of this hole is made by: "network", "patchmatch",
    "harmonic" or "mean" (`config.reference.content` with "auto" resolved).

    "auto" is the content network where one fits the hole, else PatchMatch. Its networks
    are the config's or $NPSYNTH_CONTENT_NET's when given, else the shipped paper-mode one
    (the centred square only): on irregular holes PatchMatch, as E_c's reference at every
    scale, beats the shipped free-form network (docs/archive/results-rounds.md, "Optimize on irregular
    holes"), so "auto" leaves that one to content="network".
    """
    return _resolve(hole, config)[0]


def content_reference(known: np.ndarray, hole: np.ndarray, config: PyramidConfig) -> np.ndarray:
    """The reference E_c pulls towards at the first scale (and the first initial value).

    The network works at its own size (128x128): the known pixels and the hole are resized to
    it, and its prediction is resized back and used inside the hole. `content_source` says
    which reference "auto" gives.

    Args:
      known: [h, w, 3] the known pixels at the first scale; hole: [h, w, 1], 1 = hole.
      config: `content` and `content_checkpoint` choose the reference.

    Returns:
      [h, w, 3] float32: the known pixels, and the reference inside the hole.
    """
    return reference_and_source(known, hole, config)[0]


def first_reference(
    config: PyramidConfig,
) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, str]]:
    """The pyramid's first reference for `config` (`pyramid.FirstReference`): (known, hole) at
    the first scale -> (`content_reference`, `content_source`)."""
    return functools.partial(reference_and_source, config=config)


def reference_and_source(
    known: np.ndarray, hole: np.ndarray, config: PyramidConfig
) -> tuple[np.ndarray, str]:
    """`content_reference` and `content_source` at once (the networks looked up once)."""
    source, model = _resolve(hole, config)
    if source == "network":
        side = model.image_size
        predicted = content_net.predict(
            model, resize.resize_image(known, (side, side)), _hole_at(hole, model)
        )
        filled = resize.resize_image(predicted, known.shape[:2])
        return np.where(hole > 0, filled, known).astype(np.float32), source
    if source == "patchmatch":
        return patchmatch_fill(
            known, hole, base_sigma=config.reference.patchmatch_base_sigma
        ), source
    fill_fn = fill.mean_fill if source == "mean" else fill.harmonic_fill
    return np.asarray(fill_fn(known, hole), np.float32), source


def _resolve(hole: np.ndarray, config: PyramidConfig) -> tuple[str, object]:
    """(source, content network or None): `config.reference.content` with "auto" resolved, and the
    first network (`npsynth.hub`) that fills the hole. content="network" with none that
    fills it gives the first network, whose `content_net.predict` says why it cannot.

    Raises:
      ValueError: content="network" with no network at all.
    """
    content = config.reference.content
    if content not in ("auto", "network"):
        return content, None
    if hole is None:
        raise ValueError(
            f"content={content!r} picks the reference by the hole: pass the first "
            "level's hole (`pyramid.Level.first_hole`)"
        )
    checkpoints = hub.candidates("content_net", config.reference.content_checkpoint)
    if content == "network" and not checkpoints:
        raise ValueError(
            "content='network' needs a trained content network: pass content_checkpoint=PATH "
            "(from `python -m train.content --export`) or set $NPSYNTH_CONTENT_NET"
        )
    shipped = content == "auto" and checkpoints == hub.shipped("content_net")
    # Networks are loaded in order and only until one fits the hole.
    models = (hub.load("content_net", path) for path in checkpoints)
    if shipped:
        models = (m for m in models if m.mode == "paper")
    model = next((m for m in models if content_net.fills(m, _hole_at(hole, m))), None)
    if model is not None:
        return "network", model
    if content == "network":
        return "network", hub.load("content_net", checkpoints[0])
    return "patchmatch", None


# PatchMatch's patch radius (patches of 7x7 pixels) and the seed of its randomised search.
PATCHMATCH_PATCH_RADIUS = 3
PATCHMATCH_SEED = 0


def patchmatch_fill(known: np.ndarray, hole: np.ndarray, *, base_sigma: float = 0.0) -> np.ndarray:
    """The hole filled by PatchMatch (Barnes et al. 2009) from the `pypatchmatch` package.

    Args:
      known: [h, w, 3] in [0, 1]; hole: [h, w, 1], 1 = hole.
      base_sigma: 0, or a Gaussian's standard deviation s in pixels: the fill is then
        `detail_on_harmonic_base` of PatchMatch's (`ReferenceOptions.patchmatch_base_sigma`).

    Returns:
      [h, w, 3] float32: `known` outside the hole, PatchMatch's pixels (multiples of 1/255)
      inside; reproducible (the package's seed is set first, where it has one).
    """
    try:
        from patchmatch import patch_match
    except ImportError as error:
        raise ImportError(
            "PatchMatch needs the pypatchmatch package (a dependency of npsynth): "
            "pip install pypatchmatch"
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
    filled = np.where(inside[..., None], filled, known).astype(np.float32)
    if base_sigma > 0:
        filled = detail_on_harmonic_base(filled, hole, base_sigma)
    return filled


def detail_on_harmonic_base(filled: np.ndarray, hole: np.ndarray, sigma: float) -> np.ndarray:
    """A fill's detail on the harmonic fill's low frequencies: inside the hole,
    G_s * harmonic + (filled - G_s * filled), clipped to [0, 1], for G_s a Gaussian blur of
    standard deviation `sigma` pixels (edges reflected) and harmonic the Laplace fill of the
    hole from its border (`fill.harmonic_fill`).

    A copied patch keeps its texture but takes its mean colour from the hole's border, so a
    patch from a brighter or darker place leaves no seam. Outside the hole: `filled`.

    Args:
      filled: [h, w, 3] in [0, 1], the known pixels outside the hole; hole: [h, w, 1].
      sigma: > 0, in pixels.
    """
    from skimage.filters import gaussian

    def blur(image):
        return gaussian(image, sigma=sigma, mode="reflect", channel_axis=-1, preserve_range=True)

    filled = np.asarray(filled, np.float32)
    inside = np.asarray(hole)[..., :1] > 0.5
    harmonic = np.asarray(fill.harmonic_fill(filled, inside.astype(np.float32)), np.float32)
    based = np.clip(blur(harmonic) + filled - blur(filled), 0.0, 1.0)
    return np.where(inside, based, filled).astype(np.float32)


def _hole_at(hole: np.ndarray, model) -> np.ndarray:
    """The hole at a content network's input size, never shrunk (`resize.resize_mask`)."""
    return resize.resize_mask(hole, (model.image_size, model.image_size))
