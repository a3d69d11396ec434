"""Norm-growth diagnostics (Gupta et al., arXiv 2502.19416): weight norms, activation norms, drift, residual shares.

- weight norms of each edited matrix: ||W||_F, ||W - W0||_F, top singular values;
- activation norms: mean L2 norm of each block's residual-stream output and MLP output on a fixed
  probe set of ordinary text;
- subspace drift: principal angles between the top-k PCA subspaces of a layer's activations before
  and after editing (reported as the mean cosine), and linear CKA;
- residual shares: each block's attention and MLP output norm as a share of the summed norms of
  every component written into the residual stream (embedding included), per token, averaged.
  The paper's "importance hacking" is the edited layers' MLP share rising.
"""

from __future__ import annotations

import torch

from ..models.anatomy import Anatomy


def weight_norms(anatomy: Anatomy, layers: list[int], originals: dict[int, torch.Tensor], top_k: int = 3) -> dict:
    """{layer: {"fro", "delta_fro", "sv": top singular values}} of the edited matrices."""
    out = {}
    for layer in layers:
        w = anatomy.weight(layer)
        out[layer] = {"fro": float(w.norm()), "delta_fro": float((w - originals[layer]).norm()),
                      "sv": [float(s) for s in torch.linalg.svdvals(w.double())[:top_k]]}
    return out


@torch.no_grad()
def probe_activations(anatomy: Anatomy, input_ids: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per real token: each block's attention, MLP and residual outputs, plus the embedding [n_tok, d]."""
    captured: dict[str, torch.Tensor] = {}
    hooks = []
    for layer in range(anatomy.n_layers):
        for name, attr in (("attn", anatomy.attn_name), ("mlp", anatomy.mlp_name)):
            hooks.append(anatomy.submodule(layer, attr).register_forward_hook(
                lambda m, args, out, key=f"{name}{layer}": captured.__setitem__(
                    key, (out[0] if isinstance(out, tuple) else out))))
    try:
        hidden = anatomy.embed_tokens(input_ids)
        captured["embed"] = hidden
        for layer in range(anatomy.n_layers):
            hidden = anatomy.run_blocks(hidden, layer, layer + 1)
            captured[f"resid{layer}"] = hidden
    finally:
        for hook in hooks:
            hook.remove()
    return {key: value[real].float() for key, value in captured.items()}


def activation_norms(acts: dict[str, torch.Tensor], n_layers: int) -> dict[str, list[float]]:
    """Mean L2 norm per block of the residual stream and of the MLP output."""
    return {kind: [float(acts[f"{kind}{i}"].norm(dim=1).mean()) for i in range(n_layers)] for kind in ("resid", "mlp")}


def residual_shares(acts: dict[str, torch.Tensor], n_layers: int) -> dict[str, list[float]]:
    """Each block's attention and MLP share of the summed component norms in the residual stream."""
    norms = {key: acts[key].norm(dim=1) for key in acts if key.startswith(("attn", "mlp", "embed"))}
    total = sum(norms.values())
    return {kind: [float((norms[f"{kind}{i}"] / total).mean()) for i in range(n_layers)] for kind in ("attn", "mlp")}


def principal_cosines(before: torch.Tensor, after: torch.Tensor, k: int = 8) -> torch.Tensor:
    """Cosines of the principal angles between the top-``k`` PCA subspaces of two activation sets [n, d]."""
    def basis(x):
        x = x.double() - x.double().mean(0)
        return torch.linalg.svd(x, full_matrices=False).Vh[:k].T
    return torch.linalg.svdvals(basis(before).T @ basis(after)).clamp(max=1.0)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA between two activation sets of the same tokens [n, d]."""
    x, y = x.double() - x.double().mean(0), y.double() - y.double().mean(0)
    return float((x.T @ y).norm() ** 2 / ((x.T @ x).norm() * (y.T @ y).norm()))
