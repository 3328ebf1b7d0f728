"""Step 3b: the model kept is a weighted average of the fine-tuned and the base weights.

``θ = share · θ_fine-tuned + (1 − share) · θ_base`` (WiSE-FT: Wortsman et al., "Robust
fine-tuning of zero-shot models", CVPR 2022). A triplet fine-tune on a few hundred reviewed
texts moves the space towards those texts' sites; the average keeps part of the base model's
reading of words it never saw, and damps how far one training seed moves the result
(measured on the forms feedback loop: docs/quality.md, "Weight averaging").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from semindex.errors import ModelLoadError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def mix_weights(base: Mapping[str, torch.Tensor], tuned: Mapping[str, torch.Tensor],
                share: float) -> dict[str, torch.Tensor]:
    """``share · tuned + (1 − share) · base`` for every floating-point tensor; other tensors
    (integer buffers such as position ids) are the tuned model's. Pure."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be within [0, 1], got {share}")
    if base.keys() != tuned.keys():
        diff = sorted(set(base) ^ set(tuned))
        raise ModelLoadError(f"the fine-tuned and base models differ in parameters: {diff[:5]}")
    mixed = {}
    for name, t in tuned.items():
        b = base[name]
        if b.shape != t.shape:
            raise ModelLoadError(f"parameter {name}: fine-tuned shape {tuple(t.shape)}, "
                                f"base {tuple(b.shape)}")
        mixed[name] = (share * t + (1.0 - share) * b.to(t.dtype)) if t.is_floating_point() else t
    return mixed


def mix_into(tuned_dir: Path, base_model: str, share: float) -> None:
    """Rewrite the sentence-transformers model in ``tuned_dir`` as its mix with
    ``base_model`` (the model it was fine-tuned from). ``tuned_dir`` is a staging
    directory: the version is moved into place only when it is complete."""
    from sentence_transformers import SentenceTransformer

    tuned = SentenceTransformer(str(tuned_dir), device="cpu")
    base = SentenceTransformer(base_model, device="cpu")
    tuned.load_state_dict(mix_weights(base.state_dict(), tuned.state_dict(), share))
    tuned.save(str(tuned_dir))
    log.info("model kept: %.2f x fine-tuned + %.2f x base weights", share, 1.0 - share)
