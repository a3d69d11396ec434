"""AlphaEdit (Fang et al., ICLR 2025): MEMIT's update projected onto the null space of preserved keys.

P = U0 U0^T from the eigenvectors of C0 whose eigenvalues are below a threshold: 2e-2 absolute in the
reference (tuned to Llama-3-8B's keys), or a fraction of C0's largest eigenvalue (``relative=True``),
which carries over between models whose keys differ in scale (a tiny model's C0 may have no
eigenvalue below 2e-2 at a layer, leaving AlphaEdit no null space to edit in); the update solves
min ||dW K - R||^2 + ||dW K_p||^2 + alpha ||dW||^2 over dW = D P
(Eq. 10 there):  dW = R K^T P ((K_p K_p^T + K K^T) P + alpha I)^-1, so dW k0 = 0 for every key
k0 with P k0 = 0, i.e. the outputs on preserved knowledge do not move at all.
"""

from __future__ import annotations

import torch


def null_space_projector(c0: torch.Tensor, threshold: float = 2e-2, relative: bool = False) -> torch.Tensor:
    """P = U0 U0^T over the eigenvectors of C0 with eigenvalue below ``threshold`` (x the largest if ``relative``)."""
    eigenvalues, eigenvectors = torch.linalg.eigh(c0.double())
    cutoff = threshold * float(eigenvalues.max()) if relative else threshold
    u0 = eigenvectors[:, eigenvalues < cutoff]
    return u0 @ u0.T


def alphaedit_delta(keys: torch.Tensor, resid: torch.Tensor, projector: torch.Tensor, prev_kkt: torch.Tensor | None,
                    alpha: float = 10.0) -> torch.Tensor:
    """dW [d_out, d_in] = R K^T P ((K_p K_p^T + K K^T) P + alpha I)^-1, solved in float64."""
    k, r, p = keys.double(), resid.double(), projector.double()
    kkt = k @ k.T + (prev_kkt.double() if prev_kkt is not None else 0)
    a = kkt @ p + alpha * torch.eye(p.shape[0], dtype=p.dtype, device=p.device)
    # dW^T = A^-1 P K R^T with A = P kkt + alpha I = a^T (kkt, P symmetric)
    return torch.linalg.solve(a.T, p @ k @ r.T).T.to(keys.dtype)
