"""SkipSNN, spiking networks that learn to skip noise (Yin et al., IEEE BigData 2024, arXiv 2411.05806).

A two-layer spiking MLP of leaky integrate-and-fire (LIF) neurons reads a long spike train in
which a short signal (an image encoded as spikes) sits at a random offset inside background
noise. A controller, itself one LIF neuron, reads the hidden layer's spikes (gradient stopped)
and four periodic tick inputs and decides whether the network looks at the next frame:

    U_t = decay * U_{t-1} * (1 - S_{t-1}) + W x_t,   S_t = [U_t > threshold]   (hard reset to zero)
    a_{t+1} = S^ctrl_t,   S^ctrl_t = LIF(W_c [stopgrad(S^hid_t); tick_t]),   a_0 = 1
    rate = sum_t S^out_t / sum_t a_t,   loss = MSE(rate, onehot(y)) + lambda * mean_t a_t

with the surrogate derivative of a sigmoid of temperature T (slope 1/T, T shrinking x0.9 every few
epochs). Facts taken from the authors' code (their model and inference script; it has no training
loop and runs at batch size 1): FC 2*34*34 -> 800 -> 10, decay 0.1, threshold 0.5, controller
weights initialised uniform(0, 1), ticks that are 1 at every 1st, 2nd, 10th and 100th step, and
a skipped frame is *masked to zero* while the membranes keep leaking (``variant="mask_input"``).
The paper's text says updates are skipped; ``variant="freeze_membrane"`` does that: on a sleeping
step every membrane of that sample stays exactly as it was and no neuron spikes.

Baselines: the always-awake SNN; fixed-interval and random skipping at a given awake fraction;
and a Skip-RNN gate (Campos et al., ICLR 2018) on the same SNN, whose update probability
Delta u = sigmoid(w . U^hid + b) accumulates until it rounds to 1 (straight-through gradient); it
reads the hidden membranes with the gradient stopped, like the SkipSNN controller (with the
gradient, its budget penalty flowed into the hidden layer and wrecked the classifier in our runs).
The LIF neurons and surrogate gradients are snntorch's (``Leaky`` with reset to zero, whose reset
is detached: the reference code lets gradients flow through the reset; this is the one difference
in the neuron). Everything is batched over samples; the reference runs one sample at a time.
"""

from __future__ import annotations

import math

import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from ..progress import bar
from .task import TaskConfig, noisy_batch

GATES = ("always", "controller", "skiprnn", "fixed", "random")
VARIANTS = ("mask_input", "freeze_membrane")
TICK_PERIODS = (1, 2, 10, 100)


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


class SkipSNN(nn.Module):
    """FC-LIF -> FC-LIF network with a skipping gate: 'always', 'controller' (SkipSNN), 'skiprnn', 'fixed', 'random'."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, gate: str = "controller", variant: str = "mask_input",
                 decay: float = 0.1, threshold: float = 0.5, temperature: float = 1.0, awake_fraction: float = 1.0,
                 controller_init: str = "scaled"):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f"gate={gate!r} must be one of {GATES}")
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} must be one of {VARIANTS}")
        self.gate, self.variant, self.awake_fraction = gate, variant, awake_fraction
        self.fc1, self.fc2 = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_out)
        self.lif1, self.lif2, self.lif_ctrl = (snn.Leaky(beta=decay, threshold=threshold, reset_mechanism="zero")
                                               for _ in range(3))
        self.ctrl = nn.Linear(n_hidden + len(TICK_PERIODS), 1)
        if controller_init not in ("reference", "scaled"):
            raise ValueError(f"controller_init={controller_init!r} must be 'reference' or 'scaled'")
        # reference: weights uniform(0, 1), so the membrane starts far above threshold, where the
        # sigmoid surrogate's gradient vanishes; "scaled" divides the weights by the fan-in
        scale = 1.0 if controller_init == "reference" else 1.0 / self.ctrl.in_features
        nn.init.uniform_(self.ctrl.weight, 0, scale)
        nn.init.uniform_(self.ctrl.bias, 0, 1)
        self.skip_gate = nn.Linear(n_hidden, 1)
        nn.init.constant_(self.skip_gate.bias, 1.0)  # Skip-RNN's update_bias
        self.set_temperature(temperature)

    def set_temperature(self, temperature: float) -> None:
        """Surrogate sigmoid temperature (slope = 1/temperature) of every LIF neuron."""
        self.temperature = temperature
        for lif in (self.lif1, self.lif2, self.lif_ctrl):
            lif.spike_grad = surrogate.sigmoid(slope=1.0 / temperature)

    def _step(self, lif, current, mem, awake):
        """One LIF step; with ``freeze_membrane`` a sleeping sample keeps its membrane exactly and does not spike."""
        spikes, new_mem = lif(current, mem)
        if self.variant == "freeze_membrane":
            new_mem = torch.where(awake > 0, new_mem, mem) + (awake - awake.detach()) * new_mem
            spikes = spikes * awake
        return spikes, new_mem

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Run x [batch, steps, n_in]; returns rate [b, out], awake [b, steps] and per-layer MACs [b]."""
        batch, steps, _ = x.shape
        hidden, n_out = self.fc1.out_features, self.fc2.out_features
        mem1, mem2 = x.new_zeros(batch, hidden), x.new_zeros(batch, n_out)
        mem_c, cum, prob = x.new_zeros(batch, 1), x.new_zeros(batch, 1), x.new_ones(batch, 1)
        ticks = tick_inputs(steps).to(x.device)
        fixed = fixed_schedule(steps, self.awake_fraction).to(x.device) if self.gate == "fixed" else None
        awake_next = x.new_ones(batch, 1)
        out_sum, awake_log = x.new_zeros(batch, n_out), []
        macs = {name: x.new_zeros(batch) for name in ("fc1", "fc2", "gate")}
        for t in range(steps):
            if self.gate == "always" or t == 0:
                awake = x.new_ones(batch, 1)
            elif self.gate == "controller":
                awake = awake_next
            elif self.gate == "fixed":
                awake = fixed[t].expand(batch, 1)
            elif self.gate == "random":
                awake = torch.bernoulli(x.new_full((batch, 1), self.awake_fraction), generator=generator)
            else:  # skiprnn: accumulate the update probability until it rounds to 1
                cum = cum + torch.minimum(prob, 1 - cum)
                awake = straight_through_round(cum)
            frame = x[:, t] * awake
            spk1, mem1 = self._step(self.lif1, self.fc1(frame), mem1, awake)
            spk2, mem2 = self._step(self.lif2, self.fc2(spk1), mem2, awake)
            out_sum = out_sum + spk2
            awake_log.append(awake[:, 0])
            on = awake[:, 0].detach()
            macs["fc1"] += on * (frame.detach() != 0).float().sum(1) * hidden
            macs["fc2"] += (spk1.detach() != 0).float().sum(1) * n_out  # mask_input: hidden spikes on bias alone cost too
            if self.gate == "controller":
                ctrl_in = torch.cat([spk1.detach(), ticks[t].expand(batch, -1)], dim=1)
                awake_next, mem_c = self.lif_ctrl(self.ctrl(ctrl_in), mem_c)
                macs["gate"] += (ctrl_in != 0).float().sum(1)
            elif self.gate == "skiprnn":
                delta = torch.sigmoid(self.skip_gate(mem1.detach()))  # stop-gradient, as the SkipSNN controller
                prob = awake * delta + (1 - awake) * prob
                cum = (1 - awake) * cum
                macs["gate"] += on * hidden
        awake = torch.stack(awake_log, dim=1)
        rate = out_sum / awake.sum(1, keepdim=True)
        return {"rate": rate, "awake": awake, **{f"macs_{k}": v for k, v in macs.items()}}


def skipsnn_loss(out: dict[str, torch.Tensor], labels: torch.Tensor, budget: float) -> torch.Tensor:
    """MSE(rate, one-hot label) + budget * mean awake fraction (the reference's loss)."""
    target = nn.functional.one_hot(labels, out["rate"].shape[1]).float()
    return nn.functional.mse_loss(out["rate"], target) + budget * out["awake"].mean()


# --------------------------------------------------------------------------- training and evaluation

def train(model: SkipSNN, images: torch.Tensor, labels: torch.Tensor, task: TaskConfig, epochs: int,
          batch_size: int, lr: float, budget: float = 0.0, anneal_every: int = 1, seed: int = 0,
          device: str = "cpu", progress: bool = True, desc: str = "train") -> list[dict]:
    """Adam on freshly drawn noisy sequences each epoch; the surrogate temperature shrinks x0.9 every ``anneal_every``."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    n_batches = math.ceil(len(images) / batch_size)
    steps = bar(total=epochs * n_batches, desc=desc, disable=not progress)
    for epoch in range(epochs):
        if epoch and epoch % anneal_every == 0:
            model.set_temperature(model.temperature * 0.9)
        order = torch.randperm(len(images), generator=generator)
        for idx in order.split(batch_size):
            x, _ = noisy_batch(images[idx], task, generator)
            out = model(x.to(device), generator=generator)
            loss = skipsnn_loss(out, labels[idx].to(device), budget)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps.update(1)
        history.append({"epoch": epoch + 1, "loss": loss.item(), "awake": out["awake"].mean().item()})
        steps.set_postfix(loss=f"{loss.item():.3f}", awake=f"{out['awake'].mean().item():.2f}")
    steps.close()
    return history


@torch.no_grad()
def evaluate(model: SkipSNN, images: torch.Tensor, labels: torch.Tensor, task: TaskConfig, seed: int = 0,
             batch_size: int = 256, device: str = "cpu") -> dict:
    """Accuracy, awake fraction, MACs per sample (total and per layer), awake masks and onsets on a fixed test draw."""
    model.to(device).eval()
    generator = torch.Generator().manual_seed(10_000 + seed)  # the same test sequences for every method
    correct, awake, onsets, macs = [], [], [], {"fc1": 0.0, "fc2": 0.0, "gate": 0.0}
    for start in range(0, len(images), batch_size):
        x, onset = noisy_batch(images[start:start + batch_size], task, generator)
        out = model(x.to(device), generator=generator)
        correct.append((out["rate"].argmax(1).cpu() == labels[start:start + batch_size]).float())
        awake.append(out["awake"].cpu())
        onsets.append(onset)
        for k in macs:
            macs[k] += out[f"macs_{k}"].sum().item()
    awake = torch.cat(awake)
    macs = {k: v / len(images) for k, v in macs.items()}
    return {"accuracy": torch.cat(correct).mean().item(), "awake_fraction": awake.mean().item(),
            "macs": sum(macs.values()), "macs_by_layer": macs, "awake": awake, "onsets": torch.cat(onsets)}


# --------------------------------------------------------------------------- gathered inference (real skipping)

@torch.no_grad()
def infer_gathered(model: SkipSNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Inference that computes layers only for awake samples (same outputs as ``forward``, no MAC bookkeeping).

    With ``freeze_membrane`` a sleeping sample costs nothing but its controller; with
    ``mask_input`` its hidden layer still leaks and receives the bias, but no matrix product runs.
    """
    if model.gate not in ("controller", "always"):
        raise ValueError("infer_gathered runs the learned controller (or none: gate 'always'); use forward() for other gates")
    batch, steps, _ = x.shape
    hidden, n_out = model.fc1.out_features, model.fc2.out_features
    mem1, mem2, mem_c = x.new_zeros(batch, hidden), x.new_zeros(batch, n_out), x.new_zeros(batch, 1)
    spk1_all = x.new_zeros(batch, hidden)
    ticks = tick_inputs(steps).to(x.device)
    awake = x.new_ones(batch, dtype=torch.bool)
    out_sum, awake_count = x.new_zeros(batch, n_out), x.new_zeros(batch)
    for t in range(steps):
        idx = awake.nonzero(as_tuple=True)[0]
        awake_count += awake.float()
        if model.variant == "freeze_membrane":
            spk1_all = torch.zeros_like(spk1_all)
            if len(idx):
                spk1, mem1[idx] = model.lif1(model.fc1(x[idx, t]), mem1[idx])
                spk2, mem2[idx] = model.lif2(model.fc2(spk1), mem2[idx])
                spk1_all[idx] = spk1
                out_sum[idx] += spk2
        else:
            current = model.fc1.bias.expand(batch, -1).clone()
            if len(idx):
                current[idx] = model.fc1(x[idx, t])
            spk1_all, mem1 = model.lif1(current, mem1)
            spk2, mem2 = model.lif2(model.fc2(spk1_all), mem2)
            out_sum += spk2
        if model.gate == "controller":
            ctrl_in = torch.cat([spk1_all, ticks[t].expand(batch, -1)], dim=1)
            spike, mem_c = model.lif_ctrl(model.ctrl(ctrl_in), mem_c)
            awake = spike[:, 0] > 0
    return {"rate": out_sum / awake_count[:, None]}


