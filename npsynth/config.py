"""Configuration dataclasses. Paper defaults cite Yang et al. 2017 (arXiv 1611.09969)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, kw_only=True)
class InpaintConfig:
    """Settings of multi-scale neural patch synthesis (`npsynth.inpaint`)."""

    # Working sizes (pixels, longest side) of the coarse-to-fine pyramid; Sec. 3.3 uses 128, 256, 512.
    scales: tuple[int, ...] = (128, 256, 512)
    # L-BFGS iterations per scale (Sec. 4: 100).
    iterations: int = 100
    # Weight of the texture term E_t in Eq. 1 (chosen by the sweep in the README).
    alpha: float = 2e-6
    # Weight of the TV term in Eq. 1 (chosen by the sweep in the README).
    beta: float = 0.1
    # VGG-19 layers of the texture term (Sec. 3.2: relu3_1 and relu4_1).
    layers: tuple[str, ...] = ("relu3_1", "relu4_1")
    # Side of the neural patches, in feature cells (Sec. 3.2: 3x3).
    patch_size: int = 3
    # Content reference at the first scale: "auto" (the trained content network when its
    # checkpoint is available, else "harmonic"), "network", "harmonic" or "mean".
    content: str = "auto"
    # "per_scale": nearest neighbours fixed at the start of each scale (the authors' faster
    # variant); "every_eval": recomputed at every loss evaluation (the paper, Eq. 3).
    nn_update: str = "per_scale"
    # L-BFGS stops early once the gradient norm falls below this.
    tol: float = 1e-6
    # Context around the hole's bounding box kept for large photos, as a fraction of its size.
    context: float = 1.0
    # Candidates per chunk of the nearest-neighbour search (bounds its memory).
    chunk_size: int = 256

    def __post_init__(self):
        scales = tuple(int(s) for s in self.scales)
        if not scales or any(s < 16 for s in scales):
            raise ValueError(f"scales must be at least 16 px each, got {self.scales}")
        if any(b <= a for a, b in zip(scales, scales[1:])):
            raise ValueError(f"scales must be strictly increasing, got {self.scales}")
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {self.alpha}, {self.beta}")
        if self.content not in ("auto", "network", "harmonic", "mean"):
            raise ValueError(f"content must be auto, network, harmonic or mean, got {self.content!r}")
        if self.nn_update not in ("per_scale", "every_eval"):
            raise ValueError(f"nn_update must be per_scale or every_eval, got {self.nn_update!r}")
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def tiny(cls, **overrides) -> InpaintConfig:
        """A small, fast variant for tests and smoke runs."""
        return cls(**({"scales": (32, 64), "iterations": 5, "content": "harmonic"} | overrides))
