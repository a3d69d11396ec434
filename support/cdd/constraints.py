"""Constraint operators for CDD: differentiable surrogates g(soft y) <= 0 plus exact checks on tokens.

Cardei et al. (2025), section 4: a constraint is read off the (relaxed) sequence, e.g. expected
counts (soft one-hot times per-token counts) for lexical and character constraints, a learned
scorer on soft one-hots for toxicity and molecular properties, and a search operator for
constraints without gradients (novelty). Every constraint here returns its violations
``violation(soft) -> [B, n_terms]`` (positive = violated) for the augmented Lagrangian and an exact
``hard(ids) -> [B]`` check on decoded tokens (decoded strings where the tokenizer matters).
Every constraint here reads the soft one-hots only through a per-position linear map, features
soft @ W with W = ``feature_weights()`` [V, F] (F = 1 for a count or a linear score, 3 for word
counts, the property network's embedding width), and ``violation_from_features`` takes it from
there; the projection uses this to keep the decoded positions' features fixed and recompute only
the free positions' ones at each inner step, instead of rebuilding the whole [B, L, V] sequence.
The toxicity surrogate is a bag-of-tokens logistic regression (linear in y, so the exact
projection is convex) rather than the paper's embedding-based classifier, and the property
surrogate is a small convolutional regressor; both are trained in the chapter against the real
scorers (alt-profanity-check, RDKit).
"""

from __future__ import annotations

import heapq
import math
import re
from typing import Callable, Sequence

import torch

from ..progress import bar


def top_ids(probs: torch.Tensor) -> torch.Tensor:
    """argmax over the last axis, first maximum on ties (``max().indices``: ~3x faster than ``argmax`` on CPU)."""
    return probs.max(-1).indices


class Constraint:
    """Base class: ``n_terms`` violation terms per sample and an exact check."""

    n_terms: int = 1
    name: str = "constraint"

    def feature_weights(self) -> torch.Tensor | None:
        """W [V, F] when g reads soft one-hots only through the per-position features soft @ W; else None."""
        return None

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """g [B, n_terms] from per-position features [B, L, F] = soft @ ``feature_weights()``."""
        raise NotImplementedError(f"{type(self).__name__} has no per-position features")

    def violation(self, soft: torch.Tensor) -> torch.Tensor:
        """g(soft) [B, n_terms] for soft one-hots [B, L, V]; > 0 means violated."""
        weights = self.feature_weights()
        if weights is None:
            raise NotImplementedError(f"{type(self).__name__} must define violation or feature_weights")
        return self.violation_from_features(soft @ weights.to(soft))

    def hard(self, ids: torch.Tensor) -> torch.Tensor:
        """Exact check on token ids [B, L]: True where the constraint holds (here: the surrogate on one-hots)."""
        return self.surrogate_holds(ids)

    def violation_of_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """g [B, n_terms] on the one-hots of token ids [B, L]: by lookup W[ids] (= one_hot @ W) when W exists."""
        weights = self.feature_weights()
        if weights is None:
            return self.violation(torch.nn.functional.one_hot(ids, self.vocab_size).float())
        return self.violation_from_features(weights.to(ids.device)[ids])

    def surrogate_holds(self, ids: torch.Tensor) -> torch.Tensor:
        """The surrogate g <= 0 on the one-hots of token ids [B, L]."""
        return (self.violation_of_ids(ids) <= 1e-6).all(-1)

    def select(self, rows: torch.Tensor) -> "Constraint":
        """The constraint for a subset of samples (shared constraints return themselves)."""
        return self


def region_mask(seq_len: int, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """A [seq_len] float mask of the positions a constraint reads (e.g. the continuation after a prompt)."""
    mask = torch.zeros(seq_len)
    mask[start:stop] = 1.0
    return mask


class ExpectedCount(Constraint):
    """low <= sum over region positions of sum_v y[l, v] * weight[v] <= high (exactly: ``exact_count``)."""

    def __init__(self, weights: torch.Tensor, region: torch.Tensor, low: float | None = None,
                 high: float | None = None, exact_count: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 name: str = "count"):
        if low is None and high is None:
            raise ValueError("ExpectedCount needs a low or a high bound")
        if low is not None and high is not None and low > high:
            raise ValueError(f"ExpectedCount bounds low={low} > high={high}")
        self.weights, self.region, self.low, self.high = weights.float(), region.float(), low, high
        self.exact_count, self.name = exact_count, name
        self.vocab_size = len(weights)
        self.n_terms = (low is not None) + (high is not None)

    def feature_weights(self) -> torch.Tensor:
        return self.weights[:, None]

    def expected(self, soft: torch.Tensor) -> torch.Tensor:
        """Expected count [B] under soft one-hots [B, L, V]."""
        return self._count(soft @ self.feature_weights().to(soft))

    def _count(self, features: torch.Tensor) -> torch.Tensor:
        return (features[..., 0] * self.region.to(features)).sum(-1)

    def _terms(self, count: torch.Tensor) -> torch.Tensor:
        terms = []
        if self.low is not None:
            terms.append(self.low - count)
        if self.high is not None:
            terms.append(count - self.high)
        return torch.stack(terms, -1)

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self._terms(self._count(features))

    def hard(self, ids: torch.Tensor) -> torch.Tensor:
        if self.exact_count is None:
            return self.surrogate_holds(ids)
        count = self.exact_count(ids).to(torch.float32)
        return (self._terms(count) <= 1e-6).all(-1).to(ids.device)


class LinearScore(Constraint):
    """A logistic surrogate: sum over region tokens of weight[v] plus bias, kept <= logit(threshold)."""

    def __init__(self, weights: torch.Tensor, bias: float, region: torch.Tensor, threshold: float,
                 name: str = "score"):
        if not 0 < threshold < 1:
            raise ValueError(f"LinearScore threshold={threshold} must lie in (0, 1)")
        self.weights, self.bias, self.region = weights.float(), float(bias), region.float()
        self.limit, self.threshold, self.name = math.log(threshold / (1 - threshold)), threshold, name
        self.vocab_size = len(weights)

    def feature_weights(self) -> torch.Tensor:
        return self.weights[:, None]

    def logit(self, soft: torch.Tensor) -> torch.Tensor:
        """Surrogate logit [B]."""
        return self._logit(soft @ self.feature_weights().to(soft))

    def _logit(self, features: torch.Tensor) -> torch.Tensor:
        return (features[..., 0] * self.region.to(features)).sum(-1) + self.bias

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return (self._logit(features) - self.limit)[:, None]


class NetworkScore(Constraint):
    """A learned scorer: ``sign * (net(x) - threshold) <= 0`` (sign +1: at most, -1: at least).

    Without ``embedding``, x is the soft one-hots [B, L, V]; with an ``embedding`` E [V, F] (a
    network whose first layer is a bias-free linear map of each position), x is soft @ E [B, L, F].
    """

    def __init__(self, net: Callable[[torch.Tensor], torch.Tensor], threshold: float, vocab_size: int,
                 at_most: bool = True, name: str = "property", embedding: torch.Tensor | None = None):
        self.net, self.threshold, self.sign = net, float(threshold), 1.0 if at_most else -1.0
        self.vocab_size, self.name, self.embedding = vocab_size, name, embedding

    def feature_weights(self) -> torch.Tensor | None:
        return self.embedding

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            raise NotImplementedError("NetworkScore without an embedding reads the whole soft sequence")
        return (self.sign * (self.net(features) - self.threshold))[:, None]

    def violation(self, soft: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return (self.sign * (self.net(soft) - self.threshold))[:, None]
        return super().violation(soft)


class AllOf(Constraint):
    """Several constraints at once: violations concatenated, exact checks and-ed."""

    def __init__(self, parts: Sequence[Constraint]):
        self.parts = list(parts)
        self.n_terms = sum(p.n_terms for p in self.parts)
        self.vocab_size = self.parts[0].vocab_size
        self.name = " & ".join(p.name for p in self.parts)
        weights = [p.feature_weights() for p in self.parts]
        self._weights = None if any(w is None for w in weights) else torch.cat([w.float() for w in weights], 1)
        self._widths = [0 if w is None else w.shape[1] for w in weights]

    def feature_weights(self) -> torch.Tensor | None:
        return self._weights

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        pieces = features.split(self._widths, -1)
        return torch.cat([p.violation_from_features(f) for p, f in zip(self.parts, pieces)], -1)

    def violation(self, soft: torch.Tensor) -> torch.Tensor:
        if self._weights is None:
            return torch.cat([p.violation(soft) for p in self.parts], -1)
        return super().violation(soft)

    def hard(self, ids: torch.Tensor) -> torch.Tensor:
        ok = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
        for p in self.parts:
            ok &= p.hard(ids)
        return ok

    def surrogate_holds(self, ids: torch.Tensor) -> torch.Tensor:
        ok = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
        for p in self.parts:
            ok &= p.surrogate_holds(ids)
        return ok


# --------------------------------------------------------------------------- per-token tables

def token_texts(tokenizer, vocab_size: int | None = None) -> list[str]:
    """The text each token id decodes to on its own (special tokens decode to '')."""
    vocab_size = vocab_size or len(tokenizer)
    special = set(tokenizer.all_special_ids)
    return ["" if i in special else tokenizer.decode([i]) for i in range(vocab_size)]


def char_weights(texts: list[str], char: str) -> torch.Tensor:
    """How many times ``char`` occurs in each token's text [V]."""
    return torch.tensor([t.count(char) for t in texts], dtype=torch.float32)


def word_token_weights(texts: list[str], word: str, contains: bool = False) -> torch.Tensor:
    """1 for tokens that are the word (with optional leading space), or, with ``contains``, that hold it [V]."""
    word = word.lower()
    if contains:
        return torch.tensor([float(word in t.lower()) for t in texts])
    return torch.tensor([float(t.strip().lower() == word and t.strip() != "") for t in texts])


def word_piece_tables(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per token [V]: word starts after its first character, starts with a letter, ends with a letter."""
    inner = torch.tensor([float(len(re.findall(r"(?<=[^A-Za-z'])[A-Za-z]", t))) for t in texts])
    first = torch.tensor([float(t[:1].isalpha()) for t in texts])
    last = torch.tensor([float(t[-1:].isalpha() or t[-1:] == "'") for t in texts])
    return inner, first, last


class WordCount(Constraint):
    """Number of words of the concatenated region <= high (or >= low), exact on one-hots up to apostrophes.

    A word starts inside a token after a non-letter, or at a token's first letter when the previous
    token does not end in a letter: E[words] = sum_l y_l . inner + (y_l . first)(1 - y_{l-1} . last).
    Special tokens decode to nothing and so join their neighbours; the exact check catches that case.
    """

    def __init__(self, texts: list[str], region: torch.Tensor, low: float | None = None, high: float | None = None,
                 exact_count: Callable[[torch.Tensor], torch.Tensor] | None = None, name: str = "words"):
        self.inner, self.first, self.last = word_piece_tables(texts)
        self.counter = ExpectedCount(torch.zeros(len(texts)), region, low, high, exact_count, name)
        self.region, self.vocab_size, self.n_terms, self.name = region.float(), len(texts), self.counter.n_terms, name
        self._weights = torch.stack([self.inner, self.first, self.last], 1)  # [V, 3]

    def _words(self, inner: torch.Tensor, first: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Expected words [B] from each position's expected inner starts, first-letter and last-letter mass [B, L]."""
        r = self.region.to(ends)
        previous = torch.cat([torch.zeros_like(ends[:, :1]), ends[:, :-1] * r[:-1]], 1)  # nothing before the region
        return ((inner + first * (1 - previous)) * r).sum(-1)

    def feature_weights(self) -> torch.Tensor:
        return self._weights

    def expected(self, soft: torch.Tensor) -> torch.Tensor:
        """Expected number of words [B]."""
        return self._words(*(soft @ self._weights.to(soft)).unbind(-1))

    def violation_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.counter._terms(self._words(*features.unbind(-1)))

    def hard(self, ids: torch.Tensor) -> torch.Tensor:
        return self.counter.hard(ids) if self.counter.exact_count else self.surrogate_holds(ids)


# --------------------------------------------------------------------------- novelty (no gradient)

def cheapest_accepted(ids: Sequence[int], probs: torch.Tensor, accept: Callable[[list[int]], bool],
                      positions: Sequence[int], top_k: int = 3, change_cost: float = 1e-3,
                      max_candidates: int = 2000) -> tuple[list[int] | None, float]:
    """Best-first search for the cheapest edit of ``ids`` that ``accept`` takes (novelty's projection operator).

    Each position in ``positions`` may keep its token (cost 0) or switch to one of its ``top_k`` most
    likely other tokens under ``probs`` [L, V] at cost max(0, log p(old) - log p(new)) + change_cost;
    costs add over positions. Candidates come out of the heap in order of cost, so the first accepted
    one is the cheapest. Returns (ids or None when none of ``max_candidates`` is accepted, cost).
    """
    ids = list(ids)
    logp = probs.clamp_min(1e-30).log()
    options = []  # per position: [(cost, token)], sorted, keep first
    for pos in positions:
        old = ids[pos]
        ranked = [int(v) for v in torch.argsort(logp[pos], descending=True)[: top_k + 1] if int(v) != old][:top_k]
        alts = sorted((max(0.0, float(logp[pos, old] - logp[pos, v])) + change_cost, v) for v in ranked)
        options.append([(0.0, old)] + alts)
    start = (0,) * len(options)
    heap, seen = [(0.0, start)], {start}
    for _ in range(max_candidates):
        if not heap:
            break
        cost, ranks = heapq.heappop(heap)
        candidate = list(ids)
        for pos, opts, r in zip(positions, options, ranks):
            candidate[pos] = opts[r][1]
        if accept(candidate):
            return candidate, cost
        for j, r in enumerate(ranks):
            if r + 1 < len(options[j]):
                nxt = ranks[:j] + (r + 1,) + ranks[j + 1:]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost - options[j][r][0] + options[j][r + 1][0], nxt))
    return None, float("inf")


# --------------------------------------------------------------------------- learned surrogates

def bag_of_tokens(ids: torch.Tensor, vocab_size: int, region: torch.Tensor) -> torch.Tensor:
    """Token counts over the region's positions [B, V] (the features of the linear toxicity surrogate)."""
    weights = region[None, :].expand(ids.shape[0], -1).float()
    return torch.zeros(ids.shape[0], vocab_size).scatter_add_(1, ids, weights)  # no [B, L, V] one-hot


def fit_logistic(features: torch.Tensor, targets: torch.Tensor, l2: float = 1e-5, steps: int = 300,
                 pos_weight: float = 1.0) -> tuple[torch.Tensor, float]:
    """Logistic regression on soft labels in [0, 1] by L-BFGS; returns (weights [F], bias)."""
    w = torch.zeros(features.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")
    weight = 1 + (pos_weight - 1) * targets

    def closure():
        optimizer.zero_grad()
        logits = features @ w + b
        loss = (weight * torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach(), float(b.detach())


class PropertyNet(torch.nn.Module):
    """A small convolutional regressor from soft one-hot SMILES tokens [B, L, V] to standardized properties [B, P]."""

    def __init__(self, vocab_size: int, seq_len: int, n_outputs: int = 2, width: int = 64, embed: int = 32):
        super().__init__()
        self.embed = torch.nn.Linear(vocab_size, embed, bias=False)  # soft one-hot @ E
        self.position = torch.nn.Parameter(torch.zeros(seq_len, embed))
        self.convs = torch.nn.Sequential(
            torch.nn.Conv1d(embed, width, 5, padding=2), torch.nn.GELU(),
            torch.nn.Conv1d(width, width, 5, padding=2), torch.nn.GELU(),
            torch.nn.Conv1d(width, width, 5, padding=2), torch.nn.GELU())
        self.head = torch.nn.Linear(2 * width, n_outputs)
        self.register_buffer("mean", torch.zeros(n_outputs))
        self.register_buffer("std", torch.ones(n_outputs))

    def forward(self, soft: torch.Tensor) -> torch.Tensor:
        """Properties in their own units [B, P]."""
        return self.from_embedded(self.embed(soft))

    def embedding(self) -> torch.Tensor:
        """The first layer as a matrix E [V, embed]: ``self.embed(soft) == soft @ E``."""
        return self.embed.weight.T

    def from_embedded(self, embedded: torch.Tensor) -> torch.Tensor:
        """Properties [B, P] from the embedded positions soft @ E [B, L, embed]."""
        h = self.convs((embedded + self.position).transpose(1, 2))
        pooled = torch.cat([h.mean(-1), h.amax(-1)], -1)
        return self.head(pooled) * self.std + self.mean


def train_property_net(ids: torch.Tensor, targets: torch.Tensor, vocab_size: int, steps: int = 1500,
                       batch_size: int = 256, lr: float = 3e-3, seed: int = 0, progress: bool = False) -> PropertyNet:
    """Fit a :class:`PropertyNet` on one-hot token rows [N, L] and property values [N, P] (MSE, standardized)."""
    torch.manual_seed(seed)
    net = PropertyNet(vocab_size, ids.shape[1], targets.shape[1])
    net.mean.copy_(targets.mean(0))
    net.std.copy_(targets.std(0).clamp_min(1e-6))
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    generator = torch.Generator().manual_seed(seed)
    for _ in bar(range(steps), desc="train property surrogate", disable=not progress):
        pick = torch.randint(0, len(ids), (batch_size,), generator=generator)
        onehot = torch.nn.functional.one_hot(ids[pick], vocab_size).float()
        loss = (((net(onehot) - targets[pick]) / net.std) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return net.eval().requires_grad_(False)
