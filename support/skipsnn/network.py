"""SkipSNN, spiking networks that learn to skip noise (Yin et al., IEEE BigData 2024, arXiv 2411.05806).

A two-layer spiking MLP of leaky integrate-and-fire (LIF) neurons reads a long spike train in
which a short signal sits at a random onset inside background noise. A controller, itself one LIF
neuron, reads the hidden layer's spikes (gradient stopped) and periodic tick inputs and decides
whether the network looks at the next frame (the paper's Eqs. for the LIF unit and the controller):

    U_t = decay * U_{t-1} * (1 - S_{t-1}) + I_t,   S_t = [U_t > threshold]      (hard reset to zero)
    a_{t+1} = S^ctrl_t,   S^ctrl_t = LIF(W_c [stopgrad(S^hid_t); tick_t]),   a_0 = 1
    rate = sum_t S^out_t / sum_t a_t,   loss = MSE(rate, onehot(y)) + penalty(a)

through the derivative of a sigmoid of temperature T (slope 1/T) in place of the step's. Facts
taken from the authors' code (their model and a batch-size-one inference script; no training loop
is public): decay 0.1, threshold 0.5, ticks that fire every 1st, 2nd, 10th and 100th step, and a
skipped frame is *masked to zero* while the membranes keep leaking (``variant="mask_input"``). The
paper's text says updates are skipped; ``variant="freeze_membrane"`` does that. The reset lets the
gradient through, as in the reference (snntorch's ``Leaky`` detaches it; its forward is the same and
the tests compare the two). Where this differs from the reference:

- the budget term: the reference weighs the mean awake fraction (lambda * mean(a)); here the penalty
  is a hinge on a chosen target, lambda * max(0, mean(a) - target), so that a sweep aims at chosen
  awake fractions. ``penalty="linear"`` gives the reference's term, ``penalty="dual"`` a Lagrange
  multiplier per network raised by dual ascent while the network is above its target;
- the class loss: the reference's MSE between the output rate and the one-hot label (``mse_rate``)
  gave chance accuracy on long sequences; ``ce_count`` is the cross-entropy of the output spike
  counts, ``ce_rate`` that of the rate times the sequence length (equal when always awake); both
  multiply the logits by a learned scale per network (``log_scale``), because with raw counts the
  cross-entropy of an over-confident network falls when it reads fewer frames, which taught
  controllers to sleep through the signal;
- Skip-RNN's accumulator is carried without gradient through its own reset (the straight-through
  gradient of that recurrence overflowed over long sequences);
- the controller's initial weights are uniform(0, 1/fan_in), not uniform(0, 1) (``controller_init``):
  with over a hundred inputs the latter starts the membrane so far above threshold that the
  surrogate gradient vanishes; ``controller_init="ticks"`` starts each controller as a blind periodic
  peek (bias 0, weight 1 on one tick channel, 0 on the other channels and on the hidden spikes; the
  period given per member, e.g. by ``study.peek_periods``, or the one nearest 1 / its target), so
  it begins within its budget and only has to learn to stay awake when a peek sees signal;
- networks are trained as a *population*: P independent networks (seeds x awake targets) side by
  side, each with its own weights, gate and loss, so one Python loop over time steps serves them
  all; member p reads data stream p // per_stream (one stream per seed). The input layer's product
  is computed for every step at once, before the loop; that is exact because the gate multiplies a
  frame by a scalar.

Baselines: the always-awake SNN; fixed-interval and random skipping at a given awake fraction; and
a Skip-RNN gate (Campos et al., ICLR 2018) on the same SNN, whose update probability
Delta u = sigmoid(w . U^hid + b) accumulates until it rounds to one (straight-through gradient); it
reads the hidden membranes with the gradient stopped, like the SkipSNN controller.

Compute is counted two ways per sample. *Dense* MACs: every awake step runs both layers in full
(n_in*hidden + hidden*n_out), plus the gate. *Sparsity-aware* MACs: a layer costs one row of its
weight matrix per non-zero input: input events of awake frames x hidden, hidden spikes x n_out (with
``mask_input`` a sleeping hidden layer can still fire on its bias, and those spikes are charged), and
the gate's non-zero inputs (the controller runs at every step; Skip-RNN's gate reads the hidden
membranes at awake steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from ..progress import bar
from .task import TaskConfig, noisy_batch, signal_mask

GATES = ("always", "controller", "skiprnn", "fixed", "random")
LEARNED_GATES = ("controller", "skiprnn")
VARIANTS = ("mask_input", "freeze_membrane")
PENALTIES = ("hinge", "linear", "dual")
READOUTS = ("mse_rate", "ce_count", "ce_rate")
TICK_PERIODS = (1, 2, 10, 100)
CONTROLLER_INITS = ("scaled", "reference", "ticks")


class _Spike(torch.autograd.Function):
    """Heaviside step forward; derivative of sigmoid(slope * x) backward."""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(ctx.slope * x)
        return torch.ops.aten.sigmoid_backward(grad, s) * ctx.slope, None  # grad * s (1 - s) in one kernel


def spike(x: torch.Tensor, slope: float) -> torch.Tensor:
    """[x > 0] with the sigmoid surrogate gradient of the given slope."""
    return _Spike.apply(x, slope)


def lif_step(mem: torch.Tensor, spikes: torch.Tensor, current: torch.Tensor, decay: float, threshold: float,
             slope: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One LIF step with hard reset: U_t = decay U_{t-1} (1 - S_{t-1}) + I_t, S_t = [U_t > threshold]; (S_t, U_t)."""
    mem = torch.addcmul(current, mem, 1 - spikes, value=decay)
    return spike(mem - threshold, slope), mem


def tick_inputs(steps: int, periods: tuple[int, ...] = TICK_PERIODS) -> torch.Tensor:
    """Periodic tick channels [steps, len(periods)]: channel k is 1 when t % periods[k] == 0."""
    t = torch.arange(steps)[:, None]
    return (t % torch.tensor(periods)[None, :] == 0).float()


def fixed_schedule(steps: int, fraction: float) -> torch.Tensor:
    """Awake mask [steps] of fixed-interval skipping: evenly spread awake steps, step 0 included.

    Step t is awake when floor(t * fraction) moves on (Bresenham's rule), so any fraction is met
    with 1 + floor((steps - 1) * fraction) awake steps, not only 1/k.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"awake fraction {fraction} must lie in (0, 1]")
    t = torch.arange(steps, dtype=torch.float64)
    awake = torch.floor(t * fraction) > torch.floor((t - 1) * fraction)
    awake[0] = True
    return awake.float()


def straight_through_round(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward, identity gradient backward (Skip-RNN's binarisation)."""
    return x + (torch.round(x) - x).detach()


def awake_penalty(awake_mean: torch.Tensor, target: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Budget term per member: max(0, mean(a) - target) ('hinge'), mean(a) ('linear', the reference's), or
    mean(a) - target ('dual', to be weighted by a learned multiplier)."""
    if kind == "hinge":
        return torch.relu(awake_mean - target)
    if kind == "linear":
        return awake_mean
    if kind == "dual":
        return awake_mean - target
    raise ValueError(f"penalty={kind!r} must be one of {PENALTIES}")


@dataclass(frozen=True)
class NetSpec:
    """Sizes and neuron constants shared by every member of a population."""

    n_in: int
    n_hidden: int
    n_out: int
    decay: float = 0.1
    threshold: float = 0.5
    tick_periods: tuple[int, ...] = TICK_PERIODS


def _uniform(generator: torch.Generator, shape: tuple, low: float, high: float) -> torch.Tensor:
    """Uniform(low, high) draws of ``shape`` from ``generator``."""
    return low + (high - low) * torch.rand(shape, generator=generator)


class SpikingPopulation(nn.Module):
    """P = streams x per_stream independent FC-LIF -> FC-LIF networks with one kind of gate.

    ``gate``: 'always', 'controller' (SkipSNN), 'skiprnn', 'fixed' or 'random'. ``targets`` [P]:
    the awake fraction of fixed/random skipping, or the target of a learned gate's hinge penalty.
    ``peek_periods`` [P]: with ``controller_init='ticks'``, the tick period each controller starts
    peeking at (default: the tick period nearest 1 / target).
    """

    def __init__(self, spec: NetSpec, streams: int, per_stream: int, gate: str = "always",
                 variant: str = "mask_input", targets: torch.Tensor | None = None, temperature: float = 1.0,
                 controller_init: str = "scaled", seed: int = 0, peek_periods: list[int] | None = None):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate={gate!r} must be one of {GATES}")
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} must be one of {VARIANTS}")
        if controller_init not in CONTROLLER_INITS:
            raise ValueError(f"controller_init={controller_init!r} must be one of {CONTROLLER_INITS}")
        self.spec, self.gate, self.variant = spec, gate, variant
        self.streams, self.per_stream = streams, per_stream
        members = streams * per_stream
        targets = torch.ones(members) if targets is None else torch.as_tensor(targets, dtype=torch.float32)
        if targets.shape != (members,) or not ((targets > 0) & (targets <= 1)).all():
            raise ValueError(f"targets must be {members} awake fractions in (0, 1], got {targets.tolist()}")
        self.register_buffer("targets", targets)
        self.register_buffer("multipliers", torch.zeros(members))  # the 'dual' penalty's Lagrange multipliers
        g = torch.Generator().manual_seed(seed)
        h, k = spec.n_hidden, len(spec.tick_periods)
        bound1, bound2 = 1 / math.sqrt(spec.n_in), 1 / math.sqrt(h)  # nn.Linear's default initialisation
        self.w1 = nn.Parameter(_uniform(g, (members, spec.n_in, h), -bound1, bound1))
        self.b1 = nn.Parameter(_uniform(g, (members, h), -bound1, bound1))
        self.w2 = nn.Parameter(_uniform(g, (members, h, spec.n_out), -bound2, bound2))
        self.b2 = nn.Parameter(_uniform(g, (members, spec.n_out), -bound2, bound2))
        scale = 1.0 if controller_init == "reference" else 1.0 / (h + k)
        self.ctrl_w = nn.Parameter(_uniform(g, (members, h + k), 0, scale))
        self.ctrl_b = nn.Parameter(_uniform(g, (members,), 0, 1))
        if controller_init == "ticks":  # start as a pure periodic peek: one tick channel, no hidden input, no bias
            periods = list(spec.tick_periods)
            if peek_periods is None:
                nearest = (torch.tensor(periods, dtype=torch.float32)[None, :] - 1 / targets[:, None]).abs().argmin(1)
                peek_periods = [periods[i] for i in nearest.tolist()]
            if len(peek_periods) != members or not set(peek_periods) <= set(periods):
                raise ValueError(f"peek_periods={list(peek_periods)} must give each of the {members} members one of "
                                 f"the tick periods {periods}")
            with torch.no_grad():
                self.ctrl_w.zero_()
                self.ctrl_w[torch.arange(members), h + torch.tensor([periods.index(p) for p in peek_periods])] = 1.0
                self.ctrl_b.zero_()
        self.skip_w = nn.Parameter(_uniform(g, (members, h), -bound2, bound2))
        self.skip_b = nn.Parameter(torch.ones(members))  # Skip-RNN's update_bias
        self.log_scale = nn.Parameter(torch.zeros(members))  # learned logit scale of the cross-entropy readouts
        self.temperature = temperature

    @property
    def members(self) -> int:
        """Number of networks in the population."""
        return self.streams * self.per_stream

    def load_network(self, other: SpikingPopulation) -> None:
        """Copy the SNN weights of ``other`` (one member per stream) into every member of the same stream."""
        if other.streams != self.streams:
            raise ValueError(f"{other.streams} streams cannot seed a population of {self.streams}")
        with torch.no_grad():
            for name in ("w1", "b1", "w2", "b2", "log_scale"):
                source = getattr(other, name).view(other.streams, other.per_stream, *getattr(other, name).shape[1:])
                getattr(self, name).copy_(source[:, :1].expand(-1, self.per_stream, *source.shape[2:])
                                          .reshape(getattr(self, name).shape))

    def _copy_members(self, start: int, streams: int, per_stream: int) -> SpikingPopulation:
        """Members ``start`` .. ``start + streams * per_stream - 1`` as a population of their own, weights copied."""
        stop = start + streams * per_stream
        part = SpikingPopulation(self.spec, streams, per_stream, self.gate, self.variant,
                                 self.targets[start:stop].cpu(), self.temperature)
        with torch.no_grad():
            for name, param in part.named_parameters():
                param.copy_(getattr(self, name)[start:stop])
        return part.to(self.w1.device)

    def streams_subset(self, first: int, count: int) -> SpikingPopulation:
        """The networks of streams ``first`` .. ``first + count - 1`` as a population of their own, weights copied."""
        return self._copy_members(first * self.per_stream, count, self.per_stream)

    def member(self, index: int) -> SpikingPopulation:
        """A population of one: member ``index``, weights copied."""
        return self._copy_members(index, 1, 1)

    def update_multipliers(self, awake: torch.Tensor, step: float) -> None:
        """Dual ascent on the budget: multiplier <- max(0, multiplier + step * (mean awake - target)), per member."""
        self.multipliers.add_(step * (awake.mean(dim=(1, 2)) - self.targets)).clamp_(min=0)

    def input_currents(self, x: torch.Tensor) -> torch.Tensor:
        """W1 x_t for every member and step: x [streams, B, T, n_in] -> [P, B, T, hidden]."""
        _, b, t, _ = x.shape
        w1 = self.w1.view(self.streams, self.per_stream, self.spec.n_in, -1)
        return torch.einsum("sbtn,sfnh->sfbth", x, w1).reshape(self.members, b, t, -1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, count_macs: bool = True
                ) -> dict[str, torch.Tensor]:
        """Run x [streams, B, T, n_in]; rate [P, B, out], awake [P, B, T], MACs per sample [P, B] (sparse, dense).

        ``count_macs=False`` skips the counters (training reads none of them).
        """
        spec, slope = self.spec, 1.0 / self.temperature
        p, (_, batch, steps, _) = self.members, x.shape
        h, n_out = spec.n_hidden, spec.n_out
        currents = self.input_currents(x).unbind(2)  # per-step views; unbind's backward is one stack, not T scatters
        events = (x != 0).sum(-1).float().repeat_interleave(self.per_stream, dim=0)  # [P, B, T]
        zeros = x.new_zeros
        mem1, spk1, mem2, spk2 = zeros(p, batch, h), zeros(p, batch, h), zeros(p, batch, n_out), zeros(p, batch, n_out)
        mem_c, spk_c = zeros(p, batch, 1), zeros(p, batch, 1)
        cum, prob = zeros(p, batch, 1), x.new_ones(p, batch, 1)
        ticks = tick_inputs(steps, spec.tick_periods).to(x.device)
        tick_current = ticks @ self.ctrl_w[:, h:].T + self.ctrl_b  # [T, P]
        if self.gate == "fixed":
            schedule = torch.stack([fixed_schedule(steps, float(f)) for f in self.targets]).to(x.device)  # [P, T]
        out_sum, awake_log = zeros(p, batch, n_out), []
        sparse, dense = zeros(p, batch), zeros(p, batch)
        dense_step = spec.n_in * h + h * n_out
        for t in range(steps):
            if self.gate == "always" or t == 0:
                awake = x.new_ones(p, batch, 1)
            elif self.gate == "controller":
                awake = spk_c
            elif self.gate == "fixed":
                awake = schedule[:, t, None, None].expand(p, batch, 1)
            elif self.gate == "random":
                awake = torch.bernoulli(self.targets[:, None, None].expand(p, batch, 1), generator=generator)
            else:  # skiprnn: accumulate the update probability until it rounds to 1
                cum = cum + torch.minimum(prob, 1 - cum)
                awake = straight_through_round(cum)
            if self.variant == "mask_input":
                spk1, mem1 = lif_step(mem1, spk1, torch.addcmul(self.b1[:, None], awake, currents[t]), spec.decay,
                                      spec.threshold, slope)
                spk2, mem2 = lif_step(mem2, spk2, torch.baddbmm(self.b2[:, None], spk1, self.w2), spec.decay,
                                      spec.threshold, slope)
            else:  # freeze_membrane: a sleeping sample keeps its membranes and does not spike
                new_spk, new_mem = lif_step(mem1, spk1, currents[t] + self.b1[:, None], spec.decay,
                                            spec.threshold, slope)
                mem1, spk1 = awake * new_mem + (1 - awake) * mem1, awake * new_spk
                new_spk, new_mem = lif_step(mem2, spk2, torch.baddbmm(self.b2[:, None], spk1, self.w2), spec.decay,
                                            spec.threshold, slope)
                mem2, spk2 = awake * new_mem + (1 - awake) * mem2, awake * new_spk
            out_sum = out_sum + spk2
            awake_log.append(awake[..., 0])
            on = awake[..., 0].detach()
            if count_macs:
                hidden_spikes = spk1.detach().sum(-1)
                sparse += on * events[:, :, t] * h + hidden_spikes * n_out
                dense += on * dense_step
            if self.gate == "controller":
                current = torch.bmm(spk1.detach(), self.ctrl_w[:, :h, None]) + tick_current[t][:, None, None]
                spk_c, mem_c = lif_step(mem_c, spk_c, current, spec.decay, spec.threshold, slope)
                if count_macs:
                    sparse += hidden_spikes + ticks[t].sum()
                    dense += h + len(spec.tick_periods)
            elif self.gate == "skiprnn":
                delta = torch.sigmoid(torch.bmm(mem1.detach(), self.skip_w[:, :, None]) + self.skip_b[:, None, None])
                # carried without gradient through its own reset: the straight-through gradient of that
                # 200-step recurrence overflowed to inf (NaN weights) at the gate's learning rate
                prob = on[..., None] * delta + (1 - on[..., None]) * prob
                cum = (1 - on[..., None]) * cum
                if count_macs:
                    sparse += on * h
                    dense += on * h
        awake = torch.stack(awake_log, dim=-1)
        return {"rate": out_sum / awake.sum(-1, keepdim=True), "awake": awake, "macs_sparse": sparse,
                "macs_dense": dense}

    def loss(self, out: dict[str, torch.Tensor], labels: torch.Tensor, weight: float, penalty: str = "hinge",
             readout: str = "mse_rate") -> torch.Tensor:
        """Sum over members of the readout loss + weight * awake penalty (learned gates only); labels [P, B].

        ``mse_rate``: MSE(rate, one-hot), the reference's; ``ce_count``: cross-entropy of the output spike
        counts; ``ce_rate``: cross-entropy of the rate (spikes per awake step) times the sequence length,
        which equals ``ce_count`` for an always-awake network and, like the reference's rate, raises the
        logits of a network that sleeps through steps that add no spikes.
        """
        if readout == "mse_rate":
            target = nn.functional.one_hot(labels, self.spec.n_out).float()
            mse = ((out["rate"] - target) ** 2).mean(dim=(1, 2))
        elif readout in ("ce_count", "ce_rate"):
            steps = out["awake"].sum(-1, keepdim=True) if readout == "ce_count" else out["awake"].shape[-1]
            logits = out["rate"] * steps * self.log_scale.exp()[:, None, None]
            mse = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
            mse = mse.view(labels.shape).mean(1)
        else:
            raise ValueError(f"readout={readout!r} must be one of {READOUTS}")
        if self.gate in LEARNED_GATES and weight:
            scale = self.multipliers if penalty == "dual" else weight
            mse = mse + scale * awake_penalty(out["awake"].mean(dim=(1, 2)), self.targets, penalty)
        return mse.sum()


# --------------------------------------------------------------------------- training and evaluation

def stream_batches(images: torch.Tensor, labels: torch.Tensor, task: TaskConfig | Sequence[TaskConfig],
                   batch_size: int, generators: list[torch.Generator]):
    """One epoch of noisy batches, one independent order and noise draw per stream: (x [S, B, T, n_in], y [S, B]).

    ``task`` is one task for every stream or one per stream (e.g. two noise settings trained side by side).
    """
    tasks = [task] * len(generators) if isinstance(task, TaskConfig) else list(task)
    if len(tasks) != len(generators):
        raise ValueError(f"{len(tasks)} tasks for {len(generators)} streams")
    orders = [torch.randperm(len(images), generator=g) for g in generators]
    for start in range(0, len(images) - batch_size + 1, batch_size):
        xs, ys = [], []
        for order, g, stream_task in zip(orders, generators, tasks):
            idx = order[start:start + batch_size]
            xs.append(noisy_batch(images[idx], stream_task, g)[0])
            ys.append(labels[idx])
        yield torch.stack(xs), torch.stack(ys)


def train_population(pop: SpikingPopulation, images: torch.Tensor, labels: torch.Tensor,
                     task: TaskConfig | Sequence[TaskConfig],
                     epochs: int, batch_size: int, lr: float, penalty_weight: float = 0.0, penalty: str = "hinge",
                     readout: str = "mse_rate", gate_lr_scale: float = 1.0, anneal_every: int = 1, seed: int = 0,
                     device: str = "cpu", progress: bool = True, desc: str = "train") -> pd.DataFrame:
    """Adam on freshly drawn noisy sequences; surrogate temperature x0.9 every ``anneal_every`` epochs.

    The gate's parameters (controller, Skip-RNN gate) learn at ``gate_lr_scale`` x ``lr``: they start
    from scratch while the SNN they sit on is fine-tuned. Returns one row per member and epoch: loss
    (of the last batch) and awake fraction.
    """
    pop.to(device).train()
    gate_params = [pop.ctrl_w, pop.ctrl_b, pop.skip_w, pop.skip_b]
    optimizer = torch.optim.Adam([{"params": [pop.w1, pop.b1, pop.w2, pop.b2, pop.log_scale], "lr": lr},
                                  {"params": gate_params, "lr": lr * gate_lr_scale}])
    generators = [torch.Generator().manual_seed(seed * 1000 + s) for s in range(pop.streams)]
    batches = len(images) // batch_size
    steps = bar(total=epochs * batches, desc=desc, disable=not progress)
    rows = []
    for epoch in range(epochs):
        if epoch and epoch % anneal_every == 0:
            pop.temperature *= 0.9
        for x, y in stream_batches(images, labels, task, batch_size, generators):
            out = pop(x.to(device), generator=generators[0], count_macs=False)
            loss = pop.loss(out, y.repeat_interleave(pop.per_stream, dim=0).to(device), penalty_weight, penalty, readout)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if penalty == "dual" and pop.gate in LEARNED_GATES and penalty_weight:
                pop.update_multipliers(out["awake"].detach(), penalty_weight)
            steps.update(1)
        awake = out["awake"].detach().mean(dim=(1, 2)).cpu()
        rows += [{"member": m, "epoch": epoch + 1, "loss": loss.item() / pop.members, "awake": float(awake[m])}
                 for m in range(pop.members)]
        steps.set_postfix(loss=f"{loss.item() / pop.members:.3f}", awake=f"{awake.mean():.2f}")
    steps.close()
    return pd.DataFrame(rows)


def test_sequences(images: torch.Tensor, task: TaskConfig, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed test draw every method is scored on: (x [N, T, n_in], onsets [N])."""
    return noisy_batch(images, task, torch.Generator().manual_seed(10_000 + seed))


@torch.no_grad()
def evaluate_population(pop: SpikingPopulation, x: torch.Tensor, onsets: torch.Tensor, labels: torch.Tensor,
                        signal_len: int, batch_size: int = 250, device: str = "cpu", seed: int = 0
                        ) -> tuple[pd.DataFrame, torch.Tensor]:
    """Per member: accuracy, awake fraction, signal recall, noise wake rate, MACs per sample (sparse, dense).

    Every member reads the same test sequences x [N, T, n_in]. Returns (one row per member, awake
    masks [P, N, T] as bool).
    """
    pop.to(device).eval()
    generator = torch.Generator().manual_seed(20_000 + seed)  # random skipping's coin flips
    correct, awake, sparse, dense = [], [], [], []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size].to(device)
        out = pop(chunk[None].expand(pop.streams, *chunk.shape), generator=generator)
        correct.append((out["rate"].argmax(-1).cpu() == labels[start:start + batch_size]).float())
        awake.append(out["awake"].cpu().bool())
        sparse.append(out["macs_sparse"].cpu())
        dense.append(out["macs_dense"].cpu())
    correct, awake = torch.cat(correct, 1), torch.cat(awake, 1)
    in_signal = signal_mask(onsets, signal_len, x.shape[1])
    rows = pd.DataFrame({
        "member": range(pop.members), "stream": [m // pop.per_stream for m in range(pop.members)],
        "target": pop.targets.cpu().tolist(), "accuracy": correct.mean(1).tolist(),
        "awake_fraction": awake.float().mean(dim=(1, 2)).tolist(),
        "signal_recall": awake[:, in_signal].float().mean(1).tolist(),
        "noise_wake": awake[:, ~in_signal].float().mean(1).tolist(),
        "macs_sparse": torch.cat(sparse, 1).mean(1).tolist(), "macs_dense": torch.cat(dense, 1).mean(1).tolist()})
    return rows, awake


# --------------------------------------------------------------------------- gathered inference (real skipping)

@torch.no_grad()
def infer_gathered(model: SpikingPopulation, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Inference of one network that computes layers only for awake samples (same rate as ``forward``).

    ``model`` is a population of one with gate 'controller' or 'always'; x [B, T, n_in]. With
    ``freeze_membrane`` a sleeping sample costs nothing but its controller; with ``mask_input`` its
    hidden layer still leaks and receives the bias, but no input matrix product runs.
    """
    if model.gate not in ("controller", "always") or model.members != 1:
        raise ValueError("infer_gathered runs one network with the learned controller (or none: gate 'always'); "
                         "use forward() for other gates and for populations")
    spec, slope = model.spec, 1.0 / model.temperature
    w1, b1, w2, b2 = model.w1[0], model.b1[0], model.w2[0], model.b2[0]
    batch, steps, _ = x.shape
    h = spec.n_hidden
    mem1, spk1 = x.new_zeros(batch, h), x.new_zeros(batch, h)
    mem2, spk2 = x.new_zeros(batch, spec.n_out), x.new_zeros(batch, spec.n_out)
    mem_c, spk_c = x.new_zeros(batch, 1), x.new_zeros(batch, 1)
    tick_current = tick_inputs(steps, spec.tick_periods).to(x.device) @ model.ctrl_w[0, h:] + model.ctrl_b[0]
    awake = x.new_ones(batch, dtype=torch.bool)
    out_sum, awake_count = x.new_zeros(batch, spec.n_out), x.new_zeros(batch)
    for t in range(steps):
        idx = awake.nonzero(as_tuple=True)[0]
        awake_count += awake.float()
        if model.variant == "freeze_membrane":
            new1, new2 = torch.zeros_like(spk1), torch.zeros_like(spk2)  # a sleeping sample does not spike
            if len(idx):
                new1[idx], mem1[idx] = lif_step(mem1[idx], spk1[idx], x[idx, t] @ w1 + b1, spec.decay,
                                                spec.threshold, slope)
                new2[idx], mem2[idx] = lif_step(mem2[idx], spk2[idx], new1[idx] @ w2 + b2, spec.decay,
                                                spec.threshold, slope)
            spk1, spk2 = new1, new2
            out_sum += spk2
        else:
            current = b1.expand(batch, -1).clone()
            if len(idx):
                current[idx] += x[idx, t] @ w1
            spk1, mem1 = lif_step(mem1, spk1, current, spec.decay, spec.threshold, slope)
            spk2, mem2 = lif_step(mem2, spk2, spk1 @ w2 + b2, spec.decay, spec.threshold, slope)
            out_sum += spk2
        if model.gate == "controller":
            spk_c, mem_c = lif_step(mem_c, spk_c, spk1 @ model.ctrl_w[0, :h, None] + tick_current[t], spec.decay,
                                    spec.threshold, slope)
            awake = spk_c[:, 0] > 0
    return {"rate": out_sum / awake_count[:, None]}
