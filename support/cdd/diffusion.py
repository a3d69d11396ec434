"""Masked (absorbing-state) diffusion sampling in MDLM's SUBS parameterization.

Implements the reverse process of Sahoo et al. (2024), "Simple and Effective Masked Diffusion
Language Models" (MDLM), with the log-linear schedule alpha_t = 1 - t:
- SUBS (eq. 6-7): the denoiser's clean-token distribution x_theta(x_t) gives the mask token zero
  probability and copies every already-decoded position;
- reverse step t -> s (eq. 8) at a masked position: q(x_s = v) = (alpha_s - alpha_t) x_theta(v) /
  (1 - alpha_t) for v != mask and (1 - alpha_s) / (1 - alpha_t) for the mask; decoded positions
  never change. The sampler draws this law in two parts (unmask with probability
  (alpha_s - alpha_t) / (1 - alpha_t), then a token from x_theta by its inverse CDF), so only
  unmasking positions draw, and the denoiser's output head runs only on masked positions.
CDD (Cardei et al., 2025) inserts a projection of x_theta between the two (``project`` below).
Where this differs from the references: the last step samples from x_theta like every other step
(MDLM's optional final argmax "noise removal" is off); after a projected step, a drawn token that
would break an exactly-checked constraint is replaced by the projection's most likely token (the
paper samples from the projected distribution and relies on it being feasible; our finite
augmented-Lagrangian budget leaves a small chance that a draw is not), and the number of such
replacements is reported; optionally (``commit_projected``) a position whose most likely token the
projection moved is decoded at once to that token, so it is not projected again at every later
step. The training objective lives in :mod:`support.models.denoiser` (``masked_diffusion_loss``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from .constraints import top_ids


def alpha(t: torch.Tensor | float) -> torch.Tensor | float:
    """Log-linear noise schedule: probability that a token is still clean at time t."""
    return 1.0 - t


def masked_position_logits(model, noisy: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """The denoiser's logits [m, V] at the ``masked`` [B, L] positions (in row-major order).

    transformers' ModernBertForMaskedLM (the tiny MDLMs here) runs its output head on those positions
    only; decoded positions' logits are never read (SUBS copies the token). Other models run whole.
    """
    from transformers import ModernBertForMaskedLM

    if isinstance(model, ModernBertForMaskedLM):
        hidden = model.model(input_ids=noisy)[0]
        return model.decoder(model.head(hidden[masked]))
    return model(input_ids=noisy).logits[masked]


@torch.no_grad()
def write_clean_token_probs(model, noisy: torch.Tensor, mask_id: int, out: torch.Tensor | None = None,
                            rows: torch.Tensor | None = None) -> torch.Tensor:
    """SUBS x_theta(noisy[rows]) written into ``out[rows]`` [B, L, V] in place (a new tensor when None); returns ``out``.

    Masked positions get the softmax of their logits with the mask token forbidden, decoded
    positions a one-hot of their token; no [B, L, V] temporary beyond ``out`` itself.
    """
    rows = torch.arange(noisy.shape[0], device=noisy.device) if rows is None else rows
    sub = noisy[rows]
    masked = sub == mask_id
    logits = masked_position_logits(model, sub, masked).float()
    logits[:, mask_id] = float("-inf")
    if out is None:
        out = torch.zeros(*noisy.shape, logits.shape[-1], device=logits.device)
    else:
        out.index_fill_(0, rows, 0.0)
    r, c = masked.nonzero(as_tuple=True)
    out[rows[r], c] = torch.softmax(logits, dim=-1)
    r, c = (~masked).nonzero(as_tuple=True)
    out[rows[r], c, sub[r, c]] = 1.0  # one-hot where decoded
    return out


@torch.no_grad()
def clean_token_probs(model, noisy: torch.Tensor, mask_id: int) -> torch.Tensor:
    """SUBS x_theta(x_t) [B, L, V]: softmax with the mask token forbidden; decoded positions one-hot."""
    return write_clean_token_probs(model, noisy, mask_id)


@torch.no_grad()
def refresh_clean_token_probs(model, noisy: torch.Tensor, mask_id: int, previous: torch.Tensor | None,
                              cached: torch.Tensor | None, stale: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """x_theta(noisy) [B, L, V], re-running the denoiser only on rows that differ from ``previous``.

    ``cached`` is x_theta(previous) and is updated in place; rows marked in ``stale`` [B] (overwritten
    since, e.g. by a projection in place) are re-run too. Exact because the denoiser reads no
    diffusion time (MDLM without time conditioning): a row that no reverse step changed has the
    same x_theta as before. Returns (x_theta, rows the denoiser ran on).
    """
    if cached is None or previous is None:
        return clean_token_probs(model, noisy, mask_id), noisy.shape[0]
    changed = (noisy != previous).any(-1)
    if stale is not None:
        changed |= stale.to(changed.device)
    changed = changed.nonzero().squeeze(1)
    if len(changed):
        write_clean_token_probs(model, noisy, mask_id, cached, changed)
    return cached, len(changed)


def reverse_step_probs(x_theta: torch.Tensor, noisy: torch.Tensor, mask_id: int, t: float, s: float) -> torch.Tensor:
    """q(x_s | x_t, x_theta) [B, L, V] for s < t: masked positions mix x_theta with staying masked."""
    a_t, a_s = alpha(t), alpha(s)
    probs = x_theta * (a_s - a_t) / (1 - a_t)
    probs[..., mask_id] = (1 - a_s) / (1 - a_t)
    onehot = torch.nn.functional.one_hot(noisy, x_theta.shape[-1]).to(x_theta.dtype)
    return torch.where((noisy == mask_id)[..., None], probs, onehot)


def reverse_step_draw(x_theta: torch.Tensor, noisy: torch.Tensor, mask_id: int, t: float, s: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of x_s ~ q(x_s | x_t, x_theta) [B, L]: the law of :func:`reverse_step_probs`, drawn cheaply.

    A masked position is unmasked with probability (alpha_s - alpha_t) / (1 - alpha_t) and then takes
    a token drawn from x_theta; only the positions that unmask draw a token (about L / steps per row),
    instead of a Gumbel draw over the whole [B, L, V] tensor. Every position gets its two uniforms
    whether it unmasks or not, so a row's draws do not depend on the other rows.
    """
    a_t, a_s = alpha(t), alpha(s)
    free = noisy == mask_id
    u = torch.rand(noisy.shape, generator=generator, device=noisy.device)
    u_token = torch.rand(noisy.shape, generator=generator, device=noisy.device)
    unmask = free & (u < (a_s - a_t) / (1 - a_t))
    out = noisy.clone()
    if unmask.any():
        out[unmask] = categorical_draw(x_theta[unmask], u_token[unmask])
    return out


def categorical_draw(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One token per row of ``probs`` [k, V] by the inverse CDF at uniforms ``u`` [k] (the law of torch.multinomial).

    About 30x faster than ``torch.multinomial`` on CPU for rows of a few thousand tokens. A token of
    probability zero is never drawn: only float rounding at the top end could reach one, and such
    a row takes its most likely token instead.
    """
    cdf = probs.cumsum(-1)
    picks = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(1).clamp_max(probs.shape[1] - 1)
    impossible = probs.gather(1, picks[:, None]).squeeze(1) <= 0
    if impossible.any():
        picks[impossible] = top_ids(probs[impossible])
    return picks


# A projector maps (x_theta [B, L, V], free [B, L] bool) to (projected [B, L, V], info dict); it may write into
# x_theta itself and return it, listing the rows it overwrote in info["overwritten"].
Projector = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]
# A feasibility check maps token ids [B, L] to a bool [B]: the exact constraint holds.
Feasible = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class SampleTrace:
    """What one sampling run did: per-step decoded states of recorded rows and projection statistics."""

    states: list[torch.Tensor] = field(default_factory=list)  # [n_record, L] after each step
    argmax_before: list[torch.Tensor] = field(default_factory=list)  # argmax x_theta before projection
    argmax_after: list[torch.Tensor] = field(default_factory=list)  # ... and after
    kl_moved: list[float] = field(default_factory=list)  # mean KL(x_theta || projected) over the samples it moved,
    # one entry per reverse step at which it moved any
    kl_per_step: list[float] = field(default_factory=list)  # the same at every reverse step (0 where nothing moved)
    inner_steps: list[int] = field(default_factory=list)  # Adam steps of the projection per reverse step (all samples)
    projected_rows: int = 0  # (sample, step) pairs the projection had to change
    committed: int = 0  # positions decoded at once because the projection moved their most likely token
    unsolved: int = 0  # (sample, step) pairs where the projection ended with its exact check still failing
    repairs: int = 0  # (sample, step) pairs whose draws were replaced by the projection's argmax
    repaired: torch.Tensor | None = None  # [B] bool: the sample needed at least one repair
    seconds: float = 0.0
    projection_seconds: float = 0.0
    decode_probs: torch.Tensor | None = None  # [B, L, V]: the distribution each position was drawn from
    denoised_rows: int = 0  # rows the denoiser ran on, over all steps (at most batch x steps)
    steps: int = 0  # reverse steps taken
    searched: int = 0  # samples sent to the exact-check search after sampling (see study.run_sampler)
    search_failed: int = 0


@torch.no_grad()
def sample(model, batch_size: int, seq_len: int, steps: int, mask_id: int, prefix: torch.Tensor | None = None,
           project: Projector | None = None, feasible: Feasible | None = None, seed: int = 0,
           device: str = "cpu", record: int = 0, keep_probs: bool = False,
           commit_projected: bool = False, reuse_unchanged: bool = True) -> tuple[torch.Tensor, SampleTrace]:
    """Draw ``batch_size`` sequences by ``steps`` reverse steps from all-mask (``prefix`` [B, P] kept fixed).

    With ``project``, each step's x_theta is replaced by its projection before the reverse step
    (CDD); with ``feasible``, draws that break the exact constraint fall back to the projection's argmax;
    with ``commit_projected``, positions whose most likely token the projection changed are decoded
    at once to that token, so they are not projected again at every later step; with
    ``reuse_unchanged``, rows that the last step left as they were keep their x_theta instead of
    running the denoiser again (:func:`refresh_clean_token_probs`).
    Returns token ids [B, L] and a :class:`SampleTrace` (``record`` rows' states kept step by step;
    with ``keep_probs`` the distribution each position was drawn from, for search operators such as novelty).
    """
    if steps < 1 or seq_len < 1 or batch_size < 1:
        raise ValueError(f"steps={steps}, seq_len={seq_len}, batch_size={batch_size} must all be >= 1")
    generator = torch.Generator(device=device).manual_seed(seed)
    x = torch.full((batch_size, seq_len), mask_id, dtype=torch.long, device=device)
    if prefix is not None:
        if prefix.shape[0] != batch_size or prefix.shape[1] >= seq_len:
            raise ValueError(f"prefix shape {tuple(prefix.shape)} must be [batch_size={batch_size}, < seq_len={seq_len}]")
        x[:, :prefix.shape[1]] = prefix.to(device)
    trace, start = SampleTrace(), time.perf_counter()
    trace.repaired = torch.zeros(batch_size, dtype=torch.bool)
    previous, cached = None, None
    stale = torch.zeros(batch_size, dtype=torch.bool, device=device)  # cached rows a projection overwrote
    for i in range(steps):
        t, s = 1.0 - i / steps, 1.0 - (i + 1) / steps
        free = x == mask_id
        x_theta, ran = refresh_clean_token_probs(model, x, mask_id, previous, cached, stale)
        stale.zero_()
        trace.denoised_rows += ran
        if reuse_unchanged:
            previous, cached = x, x_theta
        if project is not None:
            if record:
                trace.argmax_before.append(top_ids(x_theta[:record]).cpu())
            p_start = time.perf_counter()
            projected, info = project(x_theta, free)
            if info.get("overwritten") is not None:  # the projector wrote these rows of x_theta in place
                stale[info["overwritten"].to(device)] = True
            trace.projection_seconds += time.perf_counter() - p_start
            trace.kl_per_step.append(float(info["kl_mean"]) if info.get("changed", 0) else 0.0)
            if info.get("changed", 0):
                trace.kl_moved.append(float(info["kl_mean"]))
            trace.projected_rows += int(info.get("changed", 0))
            trace.inner_steps.append(int(info["inner_steps"].sum()) if "inner_steps" in info else 0)
            if "satisfied" in info:
                trace.unsolved += int((~info["satisfied"]).sum())
            if record:
                trace.argmax_after.append(top_ids(projected[:record]).cpu())
            # the argmaxes before and after, from the projector when it reports them (one [B, L, V] pass fewer each)
            top = info["top_out"] if "top_out" in info else top_ids(projected)
            moved = free & (top != (info["top_in"] if "top_in" in info else top_ids(x_theta)))
            if "satisfied" in info:  # commit only what a successful projection moved
                moved &= info["satisfied"].to(moved.device)[:, None]
            x_theta = projected
        x_new = reverse_step_draw(x_theta, x, mask_id, t, s, generator)
        if project is not None and commit_projected:
            x_new = torch.where(moved, top, x_new)
            trace.committed += int(moved.sum())
        if feasible is not None:
            top = top_ids(x_theta) if project is None else top
            # still-masked positions take the projection's argmax, as the final sequence would
            completed = torch.where(x_new == mask_id, top, x_new)
            broken = ~feasible(completed)
            if broken.any():
                fallback = torch.where(free & (x_new != mask_id), top, x_new)
                x_new = torch.where(broken[:, None], fallback, x_new)
                trace.repairs += int(broken.sum())
                trace.repaired |= broken.cpu()
        if keep_probs:
            if trace.decode_probs is None:
                trace.decode_probs = torch.zeros_like(x_theta)
            newly = free & (x_new != mask_id)
            trace.decode_probs[newly] = x_theta[newly]
        x = x_new
        if record:
            trace.states.append(x[:record].cpu().clone())
    trace.seconds, trace.steps = time.perf_counter() - start, steps
    return x, trace
