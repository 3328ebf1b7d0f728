"""The model kept is share x fine-tuned + (1 - share) x base weights (WiSE-FT)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from semindex.errors import ModelLoadError
from semindex.training.mixing import mix_into, mix_weights


@pytest.mark.parametrize(("share", "expected"), [(1.0, 3.0), (0.0, 1.0), (0.5, 2.0), (0.25, 1.5)])
def test_mix_weights_interpolates_floating_point_tensors(share: float, expected: float) -> None:
    base = {"w": torch.full((2, 2), 1.0), "ids": torch.arange(4)}
    tuned = {"w": torch.full((2, 2), 3.0), "ids": torch.arange(4) + 10}
    mixed = mix_weights(base, tuned, share)
    assert torch.allclose(mixed["w"], torch.full((2, 2), expected))
    assert torch.equal(mixed["ids"], tuned["ids"])  # integer buffers are not averaged
    assert torch.equal(base["w"], torch.full((2, 2), 1.0))  # the inputs are left as they were


@pytest.mark.parametrize(("base", "tuned", "message"), [
    ({"a": torch.zeros(2)}, {"b": torch.zeros(2)}, "differ in parameters: \\['a', 'b'\\]"),
    ({"a": torch.zeros(2)}, {"a": torch.zeros(3)}, "parameter a: fine-tuned shape \\(3,\\), base \\(2,\\)"),
])
def test_mix_weights_refuses_models_of_another_shape(base: dict[str, torch.Tensor],
                                                      tuned: dict[str, torch.Tensor],
                                                      message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        mix_weights(base, tuned, 0.5)


def test_mix_weights_refuses_a_share_outside_0_1() -> None:
    with pytest.raises(ValueError, match="share"):
        mix_weights({"a": torch.zeros(1)}, {"a": torch.zeros(1)}, 1.5)


def test_mix_into_rewrites_the_real_model_as_the_mix(tmp_path: Path) -> None:
    """Through the real model files: a 'fine-tuned' copy of MiniLM whose word embeddings moved
    by +delta is rewritten as base + share x delta, and still loads and encodes."""
    from sentence_transformers import SentenceTransformer

    from semindex.encoder import DEFAULT_BASE_MODEL, resolve_model_path

    base_path = resolve_model_path(DEFAULT_BASE_MODEL)
    tuned_dir = tmp_path / "model"
    shutil.copytree(base_path, tuned_dir)
    tuned = SentenceTransformer(str(tuned_dir), device="cpu")
    name = next(n for n in tuned.state_dict() if n.endswith("word_embeddings.weight"))
    delta = torch.randn_like(tuned.state_dict()[name], generator=torch.Generator().manual_seed(0))
    state = tuned.state_dict()
    state[name] = state[name] + delta
    tuned.load_state_dict(state)
    tuned.save(str(tuned_dir))
    probe = ["E-mail address", "Nachname"]
    tuned_vecs = tuned.encode(probe)

    mix_into(tuned_dir, base_path, 0.3)

    mixed = SentenceTransformer(str(tuned_dir), device="cpu")
    base = SentenceTransformer(base_path, device="cpu")
    got = mixed.state_dict()
    assert torch.allclose(got[name], base.state_dict()[name] + 0.3 * delta, atol=1e-5)
    other = next(n for n in got if n.endswith("query.weight"))
    assert torch.allclose(got[other], base.state_dict()[other], atol=1e-6)  # where the two agree
    mixed_vecs = mixed.encode(probe)
    assert mixed_vecs.shape == tuned_vecs.shape
    assert not np.allclose(mixed_vecs, tuned_vecs, atol=1e-3)
    assert not np.allclose(mixed_vecs, base.encode(probe), atol=1e-3)
