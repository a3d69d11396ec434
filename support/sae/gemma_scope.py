"""Gemma Scope's residual-stream SAEs (Lieberum et al. 2024) as this book's :class:`SparseAutoencoder` (``paper``).

Gemma Scope publishes one JumpReLU SAE per layer, width and sparsity as
``layer_<L>/width_<16k|65k|...>/average_l0_<N>/params.npz`` with arrays ``W_enc`` [d, width],
``W_dec`` [width, d], ``b_enc``, ``b_dec`` and ``threshold``. Its encoder reads the raw residual
stream, f = JumpReLU_theta(x W_enc + b_enc), without subtracting b_dec first as this book's SAE
does; folding b_dec W_enc into b_enc makes the two the same function. SAELens loads these files
too; reading them directly keeps the ``paper`` path free of its dependencies, and a test checks it
on a file saved locally in this layout.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..models.sae import SAEConfig, SparseAutoencoder

WIDTH_LABELS = {16384: "16k", 32768: "32k", 65536: "65k", 131072: "131k", 262144: "262k", 524288: "524k",
                1048576: "1m"}


def sae_folders(repo: str) -> list[str]:
    """The ``.../params.npz`` paths of a Gemma Scope repository (a hub id, or a local folder in its layout)."""
    if Path(repo).is_dir():
        return sorted(str(p.relative_to(repo)) for p in Path(repo).rglob("params.npz"))
    from ..models import require_hub

    require_hub(f"Gemma Scope SAEs {repo!r}")
    from huggingface_hub import list_repo_files

    return sorted(f for f in list_repo_files(repo) if f.endswith("params.npz"))


def closest_l0(paths: list[str], layer: int, width: int, target_l0: float) -> str:
    """Of the ``params.npz`` paths of one layer and width, the one whose average L0 is closest to ``target_l0``."""
    label = WIDTH_LABELS.get(width, str(width))
    prefix = f"layer_{layer}/width_{label}/average_l0_"
    found = {int(m.group(1)): p for p in paths if (m := re.fullmatch(re.escape(prefix) + r"(\d+)/params\.npz", p))}
    if not found:
        raise FileNotFoundError(f"no Gemma Scope SAE for layer {layer}, width {label} (looked for {prefix}*)")
    return found[min(found, key=lambda l0: abs(l0 - target_l0))]


def sae_from_params(params: dict[str, np.ndarray]) -> SparseAutoencoder:
    """A JumpReLU :class:`SparseAutoencoder` computing the same function as Gemma Scope's arrays."""
    w_enc, w_dec = (torch.as_tensor(np.asarray(params[k]), dtype=torch.float32) for k in ("W_enc", "W_dec"))
    b_enc, b_dec, threshold = (torch.as_tensor(np.asarray(params[k]), dtype=torch.float32)
                               for k in ("b_enc", "b_dec", "threshold"))
    sae = SparseAutoencoder(SAEConfig(d_in=w_enc.shape[0], width=w_enc.shape[1], kind="jumprelu", k=1))  # k: TopK only
    with torch.no_grad():
        sae.W_enc.copy_(w_enc)
        sae.W_dec.copy_(w_dec)
        sae.b_dec.copy_(b_dec)
        sae.b_enc.copy_(b_enc + b_dec @ w_enc)  # theirs reads x, ours x - b_dec
        sae.log_threshold.copy_(threshold.clamp_min(1e-12).log())
    return sae.eval()


def gemma_scope_sae(repo: str, layer: int, width: int, target_l0: float = 64.0, device: str = "cpu"
                    ) -> SparseAutoencoder:
    """The Gemma Scope SAE of ``layer`` and ``width`` whose average L0 is closest to ``target_l0``."""
    path = closest_l0(sae_folders(repo), layer, width, target_l0)
    if Path(repo).is_dir():
        local = Path(repo) / path
    else:
        from huggingface_hub import hf_hub_download

        local = hf_hub_download(repo, path)
    with np.load(local) as params:
        return sae_from_params(dict(params)).to(device)
