"""MEMIT's closed-form update, with ENCORE's norm penalty, applied over several layers.

MEMIT (Meng et al., 2023, Eq. 14-16, sequential form of Gupta et al., 2025, Eq. 3):
    dW = R K^T (lam_p C0 + K_p K_p^T + K K^T + lam_n I)^-1,
the minimiser of ||dW K - R||^2 + lam_p ||dW C0^(1/2)||^2 + ||dW K_p||^2 + lam_n ||dW||^2 with
K the new keys [d_in, B], R the residuals [d_out, B], C0 = E[k k^T] over ordinary text and K_p the
keys of all earlier edits at that layer. lam_n = 0 is MEMIT; lam_n > 0 is ENCORE's norm constraint
(Eq. 5 there). The residual is spread over the edited layers as in MEMIT: at layer i of L,
R = (Z - H) / (L - i), H recomputed after the earlier layers were updated.
"""

from __future__ import annotations

import torch


def memit_delta(keys: torch.Tensor, resid: torch.Tensor, c0: torch.Tensor, prev_kkt: torch.Tensor | None,
                lam_p: float, lam_n: float = 0.0) -> torch.Tensor:
    """dW [d_out, d_in] = R K^T (lam_p C0 + K_p K_p^T + K K^T + lam_n I)^-1, solved in float64."""
    k, r = keys.double(), resid.double()
    a = lam_p * c0.double() + k @ k.T
    if prev_kkt is not None:
        a = a + prev_kkt.double()
    if lam_n:
        a = a + lam_n * torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    return (r @ torch.linalg.solve(a, k).T).to(keys.dtype)
