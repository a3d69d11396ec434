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
stops per sample as soon as the *exact* check on argmax y passes (``Constraint.hard``), and
``deterministic=True`` (no Gumbel noise, temperature 1) turns the solver into a plain augmented
Lagrangian on y itself, which is what the cvxpy known-answer tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .constraints import Constraint


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
    seed: int = 0

    def __post_init__(self):
        if self.outer_steps < 1 or self.inner_steps < 1:
            raise ValueError("ALMSettings needs outer_steps >= 1 and inner_steps >= 1")
        if not (self.lr > 0 and self.mu0 > 0 and self.mu_rate >= 1 and self.mu_max >= self.mu0
                and self.temperature > 0 and 0 < self.lr_decay <= 1):
            raise ValueError("ALMSettings needs lr > 0, mu0 > 0, mu_rate >= 1, mu_max >= mu0, temperature > 0, 0 < lr_decay <= 1")


def kl_to(x_prime: torch.Tensor, log_y: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """KL(x' || y) summed over free positions, per sample [B] (x', log y: [B, L, V])."""
    terms = torch.xlogy(x_prime, x_prime) - x_prime * log_y
    return (terms.sum(-1) * free).sum(-1)


def _adam(z, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on the rows z [a, L, V] being solved; ``state`` holds their (m, v, step count [a])."""
    m, v, count = state
    count = count + 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    c = count[:, None, None]
    step = lr * (m / (1 - beta1 ** c)) / ((v / (1 - beta2 ** c)).sqrt() + eps)
    return z - step, (m, v, count)


def kl_projection(x_prime: torch.Tensor, free: torch.Tensor, constraint: Constraint,
                  settings: ALMSettings = ALMSettings()) -> tuple[torch.Tensor, dict]:
    """Project x' [B, L, V] (rows on the simplex) onto {y : constraint holds on argmax y}, batched over samples.

    ``free`` [B, L] marks the still-masked positions the projection may move; others stay as they are.
    Returns (y [B, L, V], info) with info: ``changed`` samples, ``kl_mean`` over changed samples,
    ``kl`` [B], ``satisfied`` [B] (exact check on argmax y), ``outer`` iterations used.
    """
    x_prime = x_prime / x_prime.sum(-1, keepdim=True)  # normalise before projecting
    batch = x_prime.shape[0]
    if settings.deterministic:  # the exact projection: feasibility of y itself, not of its argmax
        active = (constraint.violation(x_prime) > 1e-6).any(-1)
    else:
        active = ~constraint.hard(x_prime.argmax(-1))
    info = {"changed": int(active.sum()), "kl": torch.zeros(batch, dtype=x_prime.dtype), "satisfied": ~active,
            "outer": 0}
    if not active.any():
        info["kl_mean"] = 0.0
        return x_prime, info
    rows = active.nonzero().squeeze(1)  # solve only the violating samples
    xp, fr = x_prime[rows], free[rows]
    z = xp.clamp_min(1e-30).log()
    z_fixed = z.clone()
    n, k = len(rows), constraint.n_terms
    lam = torch.zeros(n, k, dtype=z.dtype, device=z.device)
    mu = torch.full((n, 1), settings.mu0, dtype=z.dtype, device=z.device)
    todo = torch.ones(n, dtype=torch.bool, device=z.device)
    state = (torch.zeros_like(z), torch.zeros_like(z), torch.zeros(n, dtype=z.dtype, device=z.device))
    generator = torch.Generator(device=z.device).manual_seed(settings.seed)
    movable = fr[..., None]
    vocab = z.shape[-1]
    for outer in range(settings.outer_steps):
        if settings.deterministic:
            noise, temperature = torch.zeros_like(z), 1.0
        else:
            u = torch.rand(z.shape, generator=generator, device=z.device).clamp_(1e-20, 1.0)
            noise, temperature = -torch.log(-torch.log(u)), settings.temperature
        passed = torch.zeros_like(todo)  # argmax already satisfies the surrogate: rest until the next check
        lr = settings.lr * settings.lr_decay ** outer
        for _ in range(settings.inner_steps):
            act = (todo & ~passed).nonzero().squeeze(1)
            if len(act) == 0:
                break
            z_var = z[act].detach().requires_grad_(True)
            mov, x_act, lam_a, mu_a = movable[act], xp[act], lam[act], mu[act]
            with torch.enable_grad():
                log_y = torch.log_softmax(z_var, -1)
                soft = torch.softmax((z_var + noise[act]) / temperature, -1)
                soft = torch.where(mov, soft, x_act)  # decoded positions are constants
                g = constraint.violation(soft)  # [a, k]
                shifted = (lam_a + mu_a * g).clamp_min(0)  # Rockafellar's inequality form of the AL term
                loss = kl_to(x_act, log_y, fr[act]) + ((shifted * shifted - lam_a * lam_a) / (2 * mu_a)).sum(-1)
                grad, = torch.autograd.grad(loss.sum(), z_var)
            grad = torch.where(mov, grad, torch.zeros_like(grad))
            z_new, (m, v, count) = _adam(z_var.detach(), grad, (state[0][act], state[1][act], state[2][act]), lr)
            z[act] = torch.where(mov, z_new, z_fixed[act])
            state[0][act], state[1][act], state[2][act] = m, v, count
            if not settings.deterministic:
                with torch.no_grad():
                    hard = torch.nn.functional.one_hot(torch.where(fr[act], z[act].argmax(-1), x_act.argmax(-1)),
                                                       vocab).to(z.dtype)
                    passed[act] = (constraint.violation(hard) <= 1e-6).all(-1)
        with torch.no_grad():
            soft = torch.softmax((z + noise) / temperature, -1)
            g = constraint.violation(torch.where(movable, soft, xp))
            lam = torch.where(todo[:, None], (lam + mu * g).clamp_min(0), lam)
            mu = torch.where(todo[:, None], (mu * settings.mu_rate).clamp_max(settings.mu_max), mu)
            if not settings.deterministic:
                y = torch.softmax(z, -1)
                todo = todo & ~constraint.hard(torch.where(fr, y.argmax(-1), xp.argmax(-1)))
        info["outer"] = outer + 1
        if not todo.any():
            break
    with torch.no_grad():
        y = torch.where(movable, torch.softmax(z, -1), xp)
        kl = kl_to(xp, torch.log(y.clamp_min(1e-30)), fr)
        out = x_prime.clone()
        out[rows] = y
        info["kl"][rows.cpu()] = kl.cpu()
        satisfied = info["satisfied"].clone()
        satisfied[rows.cpu()] = constraint.hard(y.argmax(-1)).cpu()
        info["satisfied"] = satisfied
        info["kl_mean"] = float(kl.mean())
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


def projector(constraint: Constraint, settings: ALMSettings = ALMSettings()):
    """A sampler hook ``(x_theta, free) -> (projected, info)`` for :func:`support.cdd.diffusion.sample`."""
    return lambda x_theta, free: kl_projection(x_theta, free, constraint, settings)


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
