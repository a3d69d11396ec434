"""ROME (Meng et al., NeurIPS 2022, Eq. 2): one edit, one rank-one update of one MLP output matrix.

    dW = (v* - W k*) (C^-1 k*)^T / ((C^-1 k*)^T k*),   C = E[k k^T] over ordinary text (our C0),

the smallest change in the C-weighted sense (min tr(dW C dW^T)) that maps the key k* exactly to
the value v*. As in the reference, k* is the matrix's input at the subject's last token averaged
over the context prefixes, and v* comes from the same value-target optimisation MEMIT uses; the
matrix writes into the residual stream, so v* - W k* is the residual z - h at the edited layer's
output. Edits are made one at a time (ROME has no batch form), each on the model the previous one
left. Differences from the reference: C is the uncentred second moment measured by
:func:`support.editing.compute.second_moment` on the setting's text, not Wikipedia statistics.
"""

from __future__ import annotations

import torch


def rome_delta(key: torch.Tensor, resid: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
    """dW [d_out, d_in] = r (C0^-1 k)^T / ((C0^-1 k)^T k) for one key k [d_in] and residual r [d_out], float64."""
    k, r = key.double().reshape(-1), resid.double().reshape(-1)
    u = torch.linalg.solve(c0.double(), k)
    return (torch.outer(r, u) / (u @ k)).to(key.dtype)
