"""The CDD projection: the closest distribution (in KL) whose decoded sequence satisfies the constraints.

Cardei et al. (2025), "Constrained Discrete Diffusion", eq. 5: replace the denoiser's per-position
distribution x' by argmin_y KL(x' || y) s.t. g_i(argmax y) <= 0. As in the paper, argmax is relaxed
by a Gumbel-softmax sample of y (temperature ~0.5, noise redrawn once per outer iteration) and the
constrained problem is solved by an augmented Lagrangian on the logits z of y = softmax(z):
inner Adam steps on KL + AL(g; lambda, mu), then lambda <- max(0, lambda + mu g),
mu <- min(rate mu, mu_max). The paper writes AL as lambda dg + (mu / 2) dg^2 with dg = max(0, g),
whose multiplier can only grow and so overshoots into the feasible set; we use the standard
inequality form AL = (max(0, lambda + mu g)^2 - lambda^2) / (2 mu) (Rockafellar), which equals the
paper's term while g > 0 and lets lambda shrink again once g < 0. Multipliers and convergence are
per sample; decoded positions are never moved; a sample whose hard check already passes is
returned unchanged. No official code exists; the defaults follow the paper's description and an
unofficial reimplementation (lambda0 0, mu0 1, rate 2, mu_max 1000). Differences: the outer loop
stops per sample as soon as the *exact* check on argmax y passes (``Constraint.hard``); only the
still-masked positions of the violating samples are optimised (gathered into one [positions, V]
block); Adam's step size decays by ``lr_decay`` per outer iteration (without it, lr 1 ends far
from the KL optimum: see ``study.solver_vs_cvxpy``); and :class:`Projector` can carry each
sample's multipliers from one reverse step to the next (warm start) instead of restarting them at
lambda0, mu0. With ``patience`` k > 0, a sample gives up (reported unsatisfied, as when the
budget runs out) after k outer iterations in which the surrogate violation of its argmax,
sum max(0, g(one_hot(argmax y))), did not shrink: where the Gumbel relaxation and the argmax
disagree (e.g. a flat x' on the first, all-masked reverse steps, whose expected count already
exceeds an upper bound while its argmax misses the lower one), the fixed budget was otherwise
spent in full without progress. ``deterministic=True`` (no Gumbel noise, temperature 1) turns the
solver into a plain augmented Lagrangian on y itself, which is what the cvxpy known-answer tests
compare against. Implementation, same mathematics: g is read through the constraint's per-position
features soft @ W (:mod:`.constraints`), so the decoded positions' features are computed once and an
inner step touches only the free rows [p, V]; the inner step's gradient is written out
(:func:`step_gradient`: autograd only from g down to the features), and a network surrogate is
re-read only for samples whose argmax moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .constraints import Constraint, top_ids


@dataclass(frozen=True)
class ALMSettings:
    """Augmented-Lagrangian and Gumbel-softmax settings of the projection."""

    outer_steps: int = 8
    inner_steps: int = 15
    lr: float = 0.5
    mu0: float = 1.0
    mu_rate: float = 2.0
    mu_max: float = 1000.0
    temperature: float = 0.5
    lr_decay: float = 1.0  # Adam's step size is multiplied by this after every outer iteration
    deterministic: bool = False  # True: no Gumbel noise, temperature 1 (the exact-projection mode)
    patience: int = 0  # > 0: give up after this many outer iterations without a smaller violation of argmax y
    seed: int = 0

    def __post_init__(self):
        if self.outer_steps < 1 or self.inner_steps < 1:
            raise ValueError("ALMSettings needs outer_steps >= 1 and inner_steps >= 1")
        if self.patience < 0:
            raise ValueError("ALMSettings needs patience >= 0 (0: no early stop)")
        if not (self.lr > 0 and self.mu0 > 0 and self.mu_rate >= 1 and self.mu_max >= self.mu0
                and self.temperature > 0 and 0 < self.lr_decay <= 1):
            raise ValueError("ALMSettings needs lr > 0, mu0 > 0, mu_rate >= 1, mu_max >= mu0, temperature > 0, 0 < lr_decay <= 1")


@dataclass
class Multipliers:
    """Each sample's augmented-Lagrangian state: multipliers ``lam`` [B, k] and penalty weights ``mu`` [B, 1]."""

    lam: torch.Tensor
    mu: torch.Tensor

    @classmethod
    def fresh(cls, batch: int, n_terms: int, settings: ALMSettings, like: torch.Tensor) -> "Multipliers":
        """The cold start: lam = 0, mu = mu0."""
        return cls(torch.zeros(batch, n_terms, dtype=like.dtype, device=like.device),
                   torch.full((batch, 1), settings.mu0, dtype=like.dtype, device=like.device))


def kl_to(x_prime: torch.Tensor, log_y: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """KL(x' || y) summed over free positions, per sample [B] (x', log y: [B, L, V])."""
    terms = torch.xlogy(x_prime, x_prime) - x_prime * log_y
    return (terms.sum(-1) * free).sum(-1)


def _adam_(z, grad, m, v, count, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step in place on the rows z [p, V] being solved, each row with its own step count ``count`` [p]."""
    count += 1
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    c = count[:, None]
    denom = (v / (1 - beta2 ** c)).sqrt_().add_(eps)
    z.addcdiv_(m * (lr / (1 - beta1 ** c)), denom, value=-1)


def _with_free(fixed: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``fixed`` [n, L, ...] with the free positions (rows, cols) replaced by ``values`` [p, ...] (differentiable)."""
    return fixed.index_put((rows, cols), values)


class _Reader:
    """How the solver evaluates g: through per-position features soft @ W when the constraint has them.

    ``lift`` maps soft rows [p, V] to what a position contributes ([p, F], or the rows themselves),
    ``base`` is the lifted x' of the solved samples (its free positions are overwritten at each step)
    and ``read`` turns a lifted sequence [n, L, F or V] into violations [n, k].
    """

    def __init__(self, constraint: Constraint, xp: torch.Tensor):
        weights = constraint.feature_weights()
        if weights is None:
            self.weights, self.base, self.read = None, xp, constraint.violation
        else:
            self.weights = weights.to(xp)
            self.base, self.read = xp @ self.weights, constraint.violation_from_features

    def lift(self, soft_rows: torch.Tensor) -> torch.Tensor:
        """A position's contribution: its features soft @ W, or the soft row itself."""
        return soft_rows if self.weights is None else soft_rows @ self.weights

    def unlift(self, feature_grads: torch.Tensor) -> torch.Tensor:
        """The chain rule back through :meth:`lift`: d/d soft = (d/d features) @ W^T."""
        return feature_grads if self.weights is None else feature_grads @ self.weights.T


def step_gradient(z, noise, x_free, temperature, lam, mu, reader: _Reader, base, r, c) -> torch.Tensor:
    """d/dz of sum over samples of KL(x' || softmax z) + AL(g(soft)), soft = softmax((z + noise) / T), by hand.

    z, noise, x_free [p, V] (rows of x' sum to 1); ``base`` [a, L, F] the samples' lifted x', (r, c)
    the rows' places in it; lam, mu [a, k] / [a, 1]. The KL part is softmax(z) - x'; the penalty is
    differentiated by autograd only down to the lifted soft tokens [p, F], then through the lift and
    the softmax by hand, s * (u - <s, u>) / T: no autograd graph over [p, V].
    """
    soft = torch.softmax((z + noise) / temperature, -1)
    lifted = reader.lift(soft).requires_grad_(True)
    with torch.enable_grad():
        g = reader.read(_with_free(base, r, c, lifted))  # [a, k]
        shifted = (lam + mu * g).clamp_min(0)  # Rockafellar's inequality form of the AL term
        penalty = ((shifted * shifted - lam * lam) / (2 * mu)).sum()
        lifted_grad, = torch.autograd.grad(penalty, lifted)
    u = reader.unlift(lifted_grad)
    u -= (soft * u).sum(-1, keepdim=True)
    return torch.softmax(z, -1).sub_(x_free).addcmul_(soft, u, value=1.0 / temperature)


@dataclass
class _Block:
    """The samples an inner Adam step solves and their free positions' state (views or gathered copies).

    Gathered once per change of the set (a sample passed its surrogate check, or a new outer
    iteration), not at every inner step; :meth:`flush` writes a gathered copy back.
    """

    solving: torch.Tensor  # [n] bool: which of the violating samples
    act: torch.Tensor  # their indices among the violating samples
    sel: torch.Tensor | None  # their free positions among all p (None: all of them, the tensors are views)
    r: torch.Tensor  # each selected position's sample, numbered within the block
    c: torch.Tensor  # ... and its column
    z: torch.Tensor
    m: torch.Tensor
    v: torch.Tensor
    count: torch.Tensor
    x_free: torch.Tensor
    noise: torch.Tensor
    base: torch.Tensor  # [a, L, F or V] the block's lifted x' (see _Reader)
    fixed_top: torch.Tensor  # [a, L]
    constraint: Constraint

    @classmethod
    def gather(cls, solving, pair_row, pair_col, tensors, base, fixed_top, constraint, rows):
        """The block of the samples marked in ``solving`` (tensors: z, m, v, count, x_free, noise)."""
        act = solving.nonzero().squeeze(1)
        local = torch.full((len(solving),), -1, dtype=torch.long, device=solving.device)
        local[act] = torch.arange(len(act), device=solving.device)
        if bool(solving[pair_row].all()):
            sel, parts = None, tensors
            r, c = local[pair_row], pair_col
        else:
            sel = solving[pair_row].nonzero().squeeze(1)
            parts = [t[sel] for t in tensors]
            r, c = local[pair_row[sel]], pair_col[sel]
        return cls(solving.clone(), act, sel, r, c, *parts, base[act], fixed_top[act], constraint.select(rows[act]))

    def flush(self, z, m, v, count) -> None:
        """Write a gathered block's optimisation state back into the full [p, ...] tensors."""
        if self.sel is not None:
            z[self.sel], m[self.sel], v[self.sel], count[self.sel] = self.z, self.m, self.v, self.count


def kl_projection(x_prime: torch.Tensor, free: torch.Tensor, constraint: Constraint,
                  settings: ALMSettings = ALMSettings(), start: Multipliers | None = None,
                  step: int = 0, inplace: bool = False) -> tuple[torch.Tensor, dict]:
    """Project x' [B, L, V] (rows on the simplex) onto {y : constraint holds on argmax y}, batched over samples.

    ``free`` [B, L] marks the still-masked positions the projection may move; only those are
    optimised (decoded positions are constants), and samples that need no projection are returned
    as given (in ``deterministic`` mode x' is normalised first). ``start`` warm-starts each sample's
    multipliers (e.g. from the previous reverse step); ``step`` varies the Gumbel noise between calls;
    ``inplace`` writes the projected rows into x' itself (no [B, L, V] copy) and lists them in ``overwritten``.
    Returns (y [B, L, V], info) with info: ``changed`` samples (violating, with a position left to move),
    ``kl_mean`` over changed samples,
    ``kl`` [B], ``satisfied`` [B] (exact check on argmax y), ``outer`` iterations used,
    ``inner_steps`` [B] (Adam steps spent on each sample), ``multipliers`` (the final state, [B]),
    and ``top_in`` / ``top_out`` [B, L], the argmax of x' and of y (so the caller need not recompute them).
    """
    if settings.deterministic:
        x_prime = x_prime / x_prime.sum(-1, keepdim=True)
    batch, k = x_prime.shape[0], constraint.n_terms
    multipliers = start or Multipliers.fresh(batch, k, settings, x_prime)
    top_in = top_ids(x_prime)
    if settings.deterministic:  # the exact projection: feasibility of y itself, not of its argmax
        active = (constraint.violation(x_prime) > 1e-6).any(-1)
    else:
        active = ~constraint.hard(top_in)
    active = active.to(x_prime.device)
    # a violating sample with no masked position left cannot be moved: reported unsatisfied, not solved
    movable_rows = free.to(x_prime.device).any(-1)
    info = {"changed": int((active & movable_rows).sum()), "kl": torch.zeros(batch, dtype=x_prime.dtype),
            "satisfied": ~active.cpu(), "outer": 0, "inner_steps": torch.zeros(batch, dtype=torch.long),
            "multipliers": multipliers, "top_in": top_in, "top_out": top_in}
    active = active & movable_rows
    if not active.any():
        info["kl_mean"] = 0.0
        return x_prime, info
    rows = active.nonzero().squeeze(1)  # solve only the violating samples ...
    solved_constraint = constraint.select(rows)
    xp, fr = x_prime[rows], free[rows].to(x_prime.device)
    fixed_top = top_in[rows]  # the decoded positions' tokens (the free ones are overwritten from z)
    pair_row, pair_col = fr.nonzero(as_tuple=True)  # ... and only their free positions
    n = len(rows)
    x_free = xp[pair_row, pair_col]  # [p, V]
    x_free = x_free / x_free.sum(-1, keepdim=True)
    reader = _Reader(solved_constraint, xp)
    del xp  # from here on only the free rows and the lifted x' are needed
    z = x_free.clamp_min(1e-30).log()
    neg_entropy = torch.xlogy(x_free, x_free).sum(-1)  # [p]: the constant part of KL(x' || y)
    lam, mu = multipliers.lam[rows].clone(), multipliers.mu[rows].clone()
    # a sample with nothing left to move cannot be projected; it is reported unsatisfied
    todo = torch.zeros(n, dtype=torch.bool, device=z.device).index_fill_(0, pair_row, True)
    m, v, count = torch.zeros_like(z), torch.zeros_like(z), torch.zeros(len(z), dtype=z.dtype, device=z.device)
    generator = torch.Generator(device=z.device).manual_seed(settings.seed * 1_000_003 + step)
    inner_steps = torch.zeros(n, dtype=torch.long, device=z.device)
    best_gap = torch.full((n,), float("inf"), dtype=z.dtype, device=z.device)  # for ``patience``
    checked_ids = torch.full_like(fixed_top, -1)  # each sample's argmax at its last surrogate check ...
    checked_holds = torch.zeros(n, dtype=torch.bool, device=z.device)  # ... and whether the surrogate held there
    stale = torch.zeros(n, dtype=torch.long, device=z.device)
    for outer in range(settings.outer_steps):
        noise, temperature = torch.zeros_like(z), 1.0
        if not settings.deterministic:  # Gumbel noise, drawn only for the rows of samples still being solved
            live = todo[pair_row]
            u = torch.rand((int(live.sum()), z.shape[1]), generator=generator, device=z.device).clamp_(1e-20, 1.0)
            noise[live], temperature = -torch.log(-torch.log(u)), settings.temperature
        passed = torch.zeros_like(todo)  # argmax already satisfies the surrogate: rest until the next check
        lr = settings.lr * settings.lr_decay ** outer
        block = None
        for _ in range(settings.inner_steps):
            solving = todo & ~passed
            if not solving.any():
                break
            if block is None or not torch.equal(solving, block.solving):
                if block is not None:
                    block.flush(z, m, v, count)
                block = _Block.gather(solving, pair_row, pair_col, (z, m, v, count, x_free, noise),
                                      reader.base, fixed_top, constraint, rows)
            b = block
            grad = step_gradient(b.z, b.noise, b.x_free, temperature, lam[b.act], mu[b.act], reader, b.base, b.r, b.c)
            _adam_(b.z, grad, b.m, b.v, b.count, lr)
            inner_steps[b.act] += 1
            if not settings.deterministic:
                # the surrogate is re-read only for samples whose argmax moved since their last check
                # (a network surrogate costs a forward pass per check; most Adam steps leave the argmax alone)
                ids = _with_free(b.fixed_top, b.r, b.c, top_ids(b.z))
                moved = (ids != checked_ids[b.act]).any(-1)
                if moved.any():
                    where = b.act[moved]
                    checked_holds[where] = b.constraint.select(moved.nonzero().squeeze(1)).surrogate_holds(ids[moved])
                    checked_ids[where] = ids[moved]
                passed[b.act] = checked_holds[b.act]
        if block is not None:
            block.flush(z, m, v, count)
        with torch.no_grad():
            soft = reader.lift(torch.softmax((z + noise) / temperature, -1))
            g = reader.read(_with_free(reader.base, pair_row, pair_col, soft))
            lam = torch.where(todo[:, None], (lam + mu * g).clamp_min(0), lam)
            mu = torch.where(todo[:, None], (mu * settings.mu_rate).clamp_max(settings.mu_max), mu)
            if not settings.deterministic:
                ids = _with_free(fixed_top, pair_row, pair_col, top_ids(z))
                todo = todo & ~solved_constraint.hard(ids)
                if settings.patience:
                    gap = solved_constraint.violation_of_ids(ids).clamp_min(0).sum(-1)
                    better = gap < best_gap - 1e-6
                    best_gap, stale = torch.where(better, gap, best_gap), torch.where(better, 0, stale + 1)
                    todo = todo & (stale < settings.patience)
        info["outer"] = outer + 1
        if not todo.any():
            break
    with torch.no_grad():
        log_y = torch.log_softmax(z, -1)
        kl = torch.zeros(n, dtype=z.dtype, device=z.device).index_add(
            0, pair_row, neg_entropy - (x_free * log_y).sum(-1))  # KL(x' || y) over the free positions
        out = x_prime if inplace else x_prime.clone()
        out[rows[pair_row], pair_col] = log_y.exp()
        if inplace:
            info["overwritten"] = rows
        top_rows = _with_free(fixed_top, pair_row, pair_col, top_ids(z))
        top_out = top_in.clone()
        top_out[rows] = top_rows
        info["kl"][rows.cpu()] = kl.cpu()
        satisfied = info["satisfied"].clone()
        satisfied[rows.cpu()] = solved_constraint.hard(top_rows).cpu()
        info["satisfied"], info["top_out"] = satisfied, top_out
        info["kl_mean"] = float(kl.mean())
        info["inner_steps"][rows.cpu()] = inner_steps.cpu()
        # a sample the budget could not satisfy restarts cold next time: its multipliers would only keep growing
        solved = satisfied[rows.cpu()].to(lam.device)[:, None]
        final = Multipliers(multipliers.lam.clone(), multipliers.mu.clone())
        final.lam[rows] = torch.where(solved, lam, torch.zeros_like(lam))
        final.mu[rows] = torch.where(solved, mu, torch.full_like(mu, settings.mu0))
        info["multipliers"] = final
    return out, info


def project_each(x_prime: torch.Tensor, free: torch.Tensor, constraint: Constraint,
                 settings: ALMSettings = ALMSettings()) -> tuple[torch.Tensor, list[dict]]:
    """The same projection solved one sample at a time (the baseline the batched solver is timed against)."""
    outs, infos = [], []
    for b in range(x_prime.shape[0]):
        y, info = kl_projection(x_prime[b:b + 1], free[b:b + 1], constraint.select(torch.tensor([b])), settings)
        outs.append(y)
        infos.append(info)
    return torch.cat(outs), infos


class Projector:
    """The sampler's hook ``(x_theta, free) -> (projected, info)``, one per sampling run.

    With ``warm`` (the default), each sample's multipliers are carried from one reverse step to the
    next, so a constraint that needed large multipliers at step t starts step t+1 with them instead
    of climbing the mu schedule again from mu0; the Gumbel noise is redrawn at every call.
    """

    def __init__(self, constraint: Constraint, settings: ALMSettings = ALMSettings(), warm: bool = True,
                 inplace: bool = False):
        self.constraint, self.settings, self.warm, self.inplace = constraint, settings, warm, inplace
        self.multipliers: Multipliers | None = None
        self.calls = 0

    def __call__(self, x_theta: torch.Tensor, free: torch.Tensor) -> tuple[torch.Tensor, dict]:
        projected, info = kl_projection(x_theta, free, self.constraint, self.settings,
                                        self.multipliers if self.warm else None, step=self.calls,
                                        inplace=self.inplace)
        self.multipliers, self.calls = info["multipliers"], self.calls + 1
        return projected, info


def projector(constraint: Constraint, settings: ALMSettings = ALMSettings(), warm: bool = True,
              inplace: bool = False) -> Projector:
    """A fresh :class:`Projector` for one sampling run (see there for ``warm``; ``inplace``: see kl_projection)."""
    return Projector(constraint, settings, warm, inplace)


def cvxpy_projection(x_prime, weights, bounds, free=None):
    """Exact KL(x' || y) projection under linear expected-count bounds, solved by cvxpy (reference).

    x_prime [L, V] (numpy), weights: list of [L, V] arrays a_i, bounds: list of (low, high) with
    low <= sum(a_i * y) <= high (None = unbounded). Positions where ``free`` is False keep x'.
    """
    import cvxpy as cp
    import numpy as np

    length, vocab = x_prime.shape
    free = np.ones(length, dtype=bool) if free is None else np.asarray(free)
    y = cp.Variable((length, vocab), nonneg=True)
    constraints = [cp.sum(y, axis=1) == 1]
    constraints += [y[i] == x_prime[i] for i in range(length) if not free[i]]
    for a, (low, high) in zip(weights, bounds):
        expected = cp.sum(cp.multiply(a, y))
        if low is not None:
            constraints.append(expected >= low)
        if high is not None:
            constraints.append(expected <= high)
    mask = x_prime > 0
    objective = cp.Minimize(-cp.sum(cp.multiply(x_prime[mask], cp.log(y[mask]))))
    cp.Problem(objective, constraints).solve()
    return np.clip(y.value, 0, None)
