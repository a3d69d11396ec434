"""Steps shared by the locate-then-edit methods: keys k, value targets z (with MPES), and C0 = E[k k^T].

Follows MEMIT (Meng et al., 2023, Sec. 4 and App. B) and its reference code's ``compute_ks``,
``compute_z`` and ``layer_stats``, with two departures that change speed, not results:
the z optimisation of all edits of a batch runs at once (one delta row per edit, Adam being
elementwise, so each row follows the same trajectory it would alone; stopped rows are held
fixed), the blocks below the injection layer run once per batch instead of once per step, and
above it the positions left of the subject token (which the added vector cannot change) run once
too, their keys and values reused at every step (:class:`AboveInjection`).
MPES (ENCORE, Gupta et al., 2025, Sec. 5) is the ``mpes_extra`` counter: before each step, count
the steps at which the new object is top-1 at every target position of every prefixed prompt
(the bare prompt excluded); stop an edit at its ``mpes_extra + 1``-th such step.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ..models.anatomy import Anatomy
from ..models.scoring import Batch, encode
from ..progress import bar
from .cases import EditCase

PREFIX_STARTS = ("The", "Therefore", "Because", "I", "You")


@dataclass(frozen=True)
class ZConfig:
    """Hyperparameters of the value-target optimisation (MEMIT's defaults for Llama)."""

    lr: float = 0.5
    steps: int = 25
    kl_factor: float = 0.0625
    weight_decay: float = 0.5
    clamp_norm: float = 0.75
    stop_loss: float = 0.05
    mpes_extra: int | None = None  # None: no MPES; m: stop at the (m+1)-th all-top-1 check
    cache_prefix: bool = True  # reuse the keys/values of positions before the subject (same result, less work)


@torch.no_grad()
def context_prefixes(model, tokenizer, n_tokens: int = 10, seed: int = 0) -> list[str]:
    """Five short texts the model itself writes after "The", "Therefore", "Because", "I", "You"."""
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    prefixes = []
    for start in PREFIX_STARTS:
        ids = tokenizer(start, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_tokens, do_sample=True,
                             top_k=5, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        text = tokenizer.decode(out[0], skip_special_tokens=True).replace("\n", " ").strip()
        prefixes.append(text.replace("{", " ").replace("}", " ") + ". ")
    return prefixes


def hidden_at(anatomy: Anatomy, batch: Batch, stop: int) -> torch.Tensor:
    """Residual stream after block ``stop - 1`` for every row and position [n, seq, d]."""
    return anatomy.run_blocks(anatomy.embed_tokens(batch.input_ids), 0, stop)


@torch.no_grad()
def keys_and_outputs(anatomy: Anatomy, batch: Batch, layer: int, out_layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of ``layer``'s edited matrix and outputs of block ``out_layer`` at each row's subject token."""
    captured = {}
    hook = anatomy.edit_module(layer).register_forward_pre_hook(lambda m, args: captured.update(k=args[0]))
    try:
        hidden = hidden_at(anatomy, batch, out_layer + 1)
    finally:
        hook.remove()
    rows = torch.arange(len(batch.subject_pos), device=hidden.device)
    return captured["k"][rows, batch.subject_pos], hidden[rows, batch.subject_pos]


def rewrite_rows(cases: list[EditCase], prefixes: list[str], with_target: bool = True) -> tuple[list, list, list]:
    """(prompts, continuations, subjects) for every case: the bare prompt, then each prefixed prompt."""
    prompts, conts, subjects = [], [], []
    for case in cases:
        for prefix in [""] + prefixes:
            prompts.append(prefix + case.prompt)
            conts.append(case.target_new if with_target else "")
            subjects.append(case.subject)
    return prompts, conts, subjects


def compute_keys(anatomy: Anatomy, tokenizer, cases: list[EditCase], layer: int, prefixes: list[str]) -> torch.Tensor:
    """Keys K [d_in, B]: the edited matrix's input at the subject's last token, averaged over contexts."""
    device = next(anatomy.model.parameters()).device
    batch = encode(tokenizer, *rewrite_rows(cases, prefixes, with_target=False)).to(device)
    keys, _ = keys_and_outputs(anatomy, batch, layer, layer)
    return keys.view(len(cases), len(prefixes) + 1, -1).mean(1).T


def current_outputs(anatomy: Anatomy, tokenizer, cases: list[EditCase], out_layer: int) -> torch.Tensor:
    """H [d, B]: block ``out_layer``'s output at the subject's last token of each bare rewrite prompt."""
    device = next(anatomy.model.parameters()).device
    batch = encode(tokenizer, [c.prompt for c in cases], None, [c.subject for c in cases]).to(device)
    _, outputs = keys_and_outputs(anatomy, batch, out_layer, out_layer)
    return outputs.T


def mpes_should_stop(all_top1: torch.Tensor, counter: torch.Tensor, extra: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MPES: add this check's all-top-1 flags to the running counter; stop rows whose count reached extra + 1."""
    counter = counter + all_top1.long()
    return counter >= extra + 1, counter


def kl_from_unedited(logp_now: torch.Tensor, logp_init: torch.Tensor) -> torch.Tensor:
    """KL(now || unedited) per row, MEMIT's direction (``kl_div(input=log p_init, target=log p_now)``)."""
    return torch.nn.functional.kl_div(logp_init, logp_now, log_target=True, reduction="none").sum(-1)


@dataclass
class ZResult:
    """Value targets and how their optimisation went."""

    z: torch.Tensor  # [d, B]
    steps: torch.Tensor  # [B] optimisation steps taken per edit
    prob_new: torch.Tensor  # [B] mean P(new object) over the prompts at the last check


@contextmanager
def frozen_weights(model, trainable: tuple[torch.Tensor, ...] = ()):
    """Turn off gradients of every weight but ``trainable`` inside the block (the z loop trains delta only)."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(any(p is t for t in trainable))
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


class _PrefixCache:
    """Keys and values of the positions before the subject, recorded once per block, then put before new ones."""

    def __init__(self):
        self.stored: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.recording = True
        self.rows: torch.Tensor | None = None

    def update(self, keys, values, layer_idx, *args, **kwargs):
        """The attention's hook: record (first pass) or prepend the recorded rows' keys and values."""
        if self.recording:
            self.stored[layer_idx] = (keys.detach(), values.detach())
            return keys, values
        old_keys, old_values = self.stored[layer_idx]
        return torch.cat([old_keys[self.rows], keys], 2), torch.cat([old_values[self.rows], values], 2)


class AboveInjection:
    """The blocks above the injection layer for chosen rows, with a vector added at each row's subject token.

    Nothing left of a row's subject token depends on what is added there, so for models whose blocks
    take a key/value cache the rows are laid out with every subject token in one column S, the
    columns left of S run once (their keys and values kept), and each call runs only columns S..
    Otherwise every position is recomputed. Both give the same outputs (tested).
    """

    def __init__(self, anatomy: Anatomy, base: torch.Tensor, batch: Batch, start: int, cached: bool = True):
        self.anatomy, self.base, self.batch, self.start = anatomy, base, batch, start
        pos = batch.subject_pos
        self.cached = cached and anatomy.takes_cache and int(pos.max()) > 0
        if not self.cached:
            return
        n, _, d = base.shape
        self.S = int(pos.max())
        self.shift = self.S - pos
        width = self.S + int((batch.lengths - pos).max())
        src = torch.arange(width, device=base.device)[None] - self.shift[:, None]  # original column of each column
        self.valid = (src >= 0) & (src < batch.lengths[:, None])
        rows = torch.arange(n, device=base.device)[:, None].expand(n, width)
        self.aligned = base.new_zeros(n, width, d)
        self.aligned[self.valid] = base[rows[self.valid], src[self.valid]]
        self.positions = src.clamp(min=0)
        self.cache = _PrefixCache()
        with torch.no_grad():
            everyone = torch.arange(n, device=base.device)
            anatomy.run_blocks_with(self.aligned[:, :self.S], start, anatomy.n_layers, self._mask(everyone, 0, self.S),
                                    self.positions[:, :self.S], self.cache)
        self.cache.recording = False

    def _mask(self, rows: torch.Tensor, q_from: int, q_to: int) -> torch.Tensor:
        """Additive mask [rows, 1, q, kv]: causal, real tokens only (a query may always see itself)."""
        q = torch.arange(q_from, q_to, device=rows.device)[:, None]
        k = torch.arange(q_to, device=rows.device)[None]
        allowed = ((k <= q)[None] & self.valid[rows, None, :q_to]) | (k == q)[None]
        mask = torch.zeros(allowed.shape, dtype=self.base.dtype, device=rows.device)
        return mask.masked_fill(~allowed, torch.finfo(self.base.dtype).min)[:, None]

    def __call__(self, sel: torch.Tensor, add: torch.Tensor):
        """Run rows ``sel`` with ``add`` [len(sel), d] at their subject tokens; returns ``at(rows, positions)``."""
        if not self.cached:
            injected = self.base[sel].clone()
            injected[torch.arange(len(sel), device=sel.device), self.batch.subject_pos[sel]] += add
            out = self.anatomy.run_blocks(injected, self.start, self.anatomy.n_layers)
            return lambda rows, positions: out[rows, positions]
        suffix = self.aligned[sel, self.S:].clone()
        suffix[:, 0] += add
        self.cache.rows = sel
        out = self.anatomy.run_blocks_with(suffix, self.start, self.anatomy.n_layers,
                                           self._mask(sel, self.S, self.aligned.shape[1]),
                                           self.positions[sel, self.S:], self.cache)
        return lambda rows, positions: out[rows, positions + self.shift[sel[rows]] - self.S]


def compute_z(anatomy: Anatomy, tokenizer, cases: list[EditCase], layer: int, prefixes: list[str],
              cfg: ZConfig = ZConfig()) -> ZResult:
    """Optimise one delta per edit at block ``layer``'s output (subject token) so the new object is predicted."""
    with frozen_weights(anatomy.model):
        return _compute_z(anatomy, tokenizer, cases, layer, prefixes, cfg)


def _compute_z(anatomy: Anatomy, tokenizer, cases: list[EditCase], layer: int, prefixes: list[str],
               cfg: ZConfig) -> ZResult:
    device = next(anatomy.model.parameters()).device
    n_ctx = len(prefixes) + 1
    prompts, conts, subjects = rewrite_rows(cases, prefixes)
    prompts += [f"{c.subject} is a" for c in cases]  # KL rows: keep what the model says about the subject
    conts += [""] * len(cases)
    subjects += [c.subject for c in cases]
    batch = encode(tokenizer, prompts, conts, subjects).to(device)
    n_case, n_rew = len(cases), len(cases) * n_ctx
    with torch.no_grad():
        base = hidden_at(anatomy, batch, layer + 1)  # frozen below the injection point: computed once
        above = AboveInjection(anatomy, base, batch, layer + 1, cfg.cache_prefix)
    h_init = base[torch.arange(n_case, device=device) * n_ctx, batch.subject_pos[: n_rew: n_ctx]]  # bare rows [B, d]
    rewrite_rows_of = torch.arange(n_rew, device=device).view(n_case, n_ctx)
    kl_row_of = n_rew + torch.arange(n_case, device=device)
    delta = torch.zeros(n_case, base.shape[-1], device=device, dtype=base.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=cfg.lr)
    active = torch.ones(n_case, dtype=torch.bool, device=device)
    steps = torch.zeros(n_case, dtype=torch.long, device=device)
    counter = torch.zeros(n_case, dtype=torch.long, device=device)
    max_norm = cfg.clamp_norm * h_init.norm(dim=1)
    ref_kl = None
    prob_new = torch.zeros(n_case, device=device, dtype=base.dtype)
    for _ in range(cfg.steps):
        # only the edits still optimising are computed: the step costs what the live edits need
        live = active.nonzero()[:, 0]
        n_live = len(live)
        sel = torch.cat([rewrite_rows_of[live].reshape(-1), kl_row_of[live]])
        sel_case = torch.cat([live.repeat_interleave(n_ctx), live])
        sel_pos = batch.subject_pos[sel]
        out_at = above(sel, delta[sel_case])
        pred_rows, pred_pos = batch.predict_mask[sel[: n_live * n_ctx]].nonzero(as_tuple=True)
        pred_targets = batch.next_ids[sel[pred_rows], pred_pos]
        logp = torch.log_softmax(anatomy.logits(out_at(pred_rows, pred_pos)), -1)
        token_logp = logp.gather(1, pred_targets[:, None])[:, 0]
        kl_logp = torch.log_softmax(anatomy.logits(out_at(n_live * n_ctx + torch.arange(n_live, device=device),
                                                          sel_pos[n_live * n_ctx:])), -1)
        if ref_kl is None:  # first step: every edit is live, delta = 0
            ref_kl = kl_logp.detach()
        nll_row = torch.zeros(n_live * n_ctx, device=device, dtype=base.dtype).index_add(0, pred_rows, -token_logp)
        nll_row = nll_row / torch.zeros_like(nll_row).index_add(0, pred_rows, torch.ones_like(token_logp))
        nll_case = nll_row.view(n_live, n_ctx).mean(1)
        kl_case = kl_from_unedited(kl_logp, ref_kl[live])
        decay_case = cfg.weight_decay * delta[live].norm(dim=1) / h_init[live].norm(dim=1) ** 2
        loss_case = nll_case + cfg.kl_factor * kl_case + decay_case
        with torch.no_grad():
            prob_new[live] = torch.exp(-nll_row.view(n_live, n_ctx)).mean(1)
            going = loss_case >= cfg.stop_loss
            if cfg.mpes_extra is not None:
                top1 = (logp.argmax(-1) == pred_targets) | (pred_rows % n_ctx == 0)  # the bare prompt is excluded
                misses = torch.zeros(n_live, device=device).index_add(0, pred_rows // n_ctx, (~top1).float())
                stop, counter[live] = mpes_should_stop((misses == 0) & going, counter[live], cfg.mpes_extra)
                going &= ~stop
            active[live] = going
        if not active.any():
            break
        steps += active.long()
        frozen = delta.detach().clone()
        optimizer.zero_grad(set_to_none=True)
        (loss_case * going).sum().backward()
        optimizer.step()
        with torch.no_grad():
            delta[~active] = frozen[~active]
            scale = (max_norm / delta.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
            delta.mul_(scale[:, None])
    return ZResult((h_init + delta.detach()).T, steps, prob_new.detach())


@torch.no_grad()
def second_moment(anatomy: Anatomy, tokenizer, texts: list[str], layers: list[int], max_len: int = 128,
                  batch_size: int = 16, progress: bool = True) -> dict[int, torch.Tensor]:
    """C0 per layer: the uncentred second moment E[k k^T] of the edited matrix's inputs over all text tokens."""
    device = next(anatomy.model.parameters()).device
    sums: dict[int, torch.Tensor] = {}
    count = 0
    captured: dict[int, torch.Tensor] = {}
    hooks = [anatomy.edit_module(layer).register_forward_pre_hook(
        lambda m, args, layer=layer: captured.__setitem__(layer, args[0])) for layer in layers]
    try:
        for start in bar(range(0, len(texts), batch_size), desc="C0 = E[k k^T]", disable=not progress):
            chunk = texts[start:start + batch_size]
            enc = tokenizer(chunk, truncation=True, max_length=max_len, padding=True, return_tensors="pt",
                            add_special_tokens=False, padding_side="right")
            ids, real = enc["input_ids"].to(device), enc["attention_mask"].bool().to(device)
            hidden_at(anatomy, Batch(ids, real.sum(1), real, real.sum(1) - 1), max(layers) + 1)
            for layer in layers:
                keys = captured[layer][real].double()
                sums[layer] = sums.get(layer, 0) + keys.T @ keys
            count += int(real.sum())
    finally:
        for hook in hooks:
            hook.remove()
    return {layer: (total / count) for layer, total in sums.items()}
