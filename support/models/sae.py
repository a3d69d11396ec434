"""Sparse autoencoders over a model's activations: TopK and JumpReLU, trained with the book's one loop.

An SAE reads an activation x [d] as f = sigma(W_enc^T (x - b_dec) + b_enc) [width] and writes it
back as x_hat = W_dec^T f + b_dec, with unit-norm decoder rows so that a latent's activation is
its size. Two activation functions, each with its paper's training objective:

- TopK (Gao et al. 2024, "Scaling and evaluating sparse autoencoders", eq. 3): sigma keeps the k
  largest pre-activations of each row (ReLU'd, so a kept negative one is 0); loss = ||x - x_hat||^2,
  sparsity is fixed at L0 <= k. The reference adds an auxiliary loss (AuxK) on dead latents; here
  dead latents are resampled instead (below).
- JumpReLU (Rajamanoharan et al. 2024, "Jumping Ahead", eqs. 3-11; the activation of Gemma Scope):
  sigma(z) = z * H(z - theta) with a learned threshold theta > 0 per latent (theta = exp(log
  theta)); loss = ||x - x_hat||^2 + lambda * sum_i H(z_i - theta_i). H has no useful gradient, so
  both its uses get the paper's straight-through pseudo-derivative in theta:
  d/dtheta H(z - theta) := -(1/eps) K((z - theta)/eps) and d/dtheta [z H(z - theta)] :=
  -(theta/eps) K((z - theta)/eps), K the rectangle kernel 1{|u| < 1/2}; z itself gets the
  ordinary gradient H(z - theta). The reference normalises the inputs to unit mean squared norm
  (so eps = 0.001 is scale-free); :func:`activation_scale` gives that factor.

Both: decoder rows renormalised to unit norm after every optimiser step (the reference projects
the gradient as well; the renormalisation alone keeps the constraint exact), b_dec initialised at
the data's mean (the geometric median in the TopK reference), and dead-latent tracking: a latent
that fired on none of the last ``dead_after`` training rows is dead; every ``resample_every``
steps the dead ones are re-initialised towards inputs the SAE reconstructs worst (Bricken et al.
2023, "Towards Monosemanticity", simplified: encoder row = decoder row = the normalised residual
of a drawn high-loss input, encoder scaled to 0.2 of the live rows' mean norm). Reported: L0,
fraction of variance explained (FVE) and the dead fraction.

``prepare`` makes them through two cached specs: :class:`ActivationSet` (a causal LM's block
outputs over Austen paragraphs, each text's first token left out) and :class:`TrainedSAE` (one SAE
on one block of it, scored on the set's held-out tail).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from .cached import CachedModel

SAE_KINDS = ("topk", "jumprelu")


@dataclass(frozen=True)
class SAEConfig:
    """Shape, activation and training recipe of one SAE."""

    d_in: int
    width: int
    kind: str = "topk"
    k: int = 32  # topk: latents kept per row
    l0_coefficient: float = 1e-3  # jumprelu: lambda of the L0 penalty
    threshold_init: float = 1e-3  # jumprelu: initial theta (in units of the normalised input)
    bandwidth: float = 1e-3  # jumprelu: eps of the pseudo-derivative
    dead_after: int = 10_000  # rows without a firing after which a latent counts as dead
    resample_every: int = 500  # optimiser steps between resamplings (0: never)

    def __post_init__(self):
        if self.kind not in SAE_KINDS:
            raise ValueError(f"kind={self.kind!r} must be one of {SAE_KINDS}")
        if self.d_in < 1 or self.width < 1 or not 1 <= self.k <= self.width:
            raise ValueError(f"an SAE needs d_in >= 1, width >= 1 and 1 <= k <= width (got {self.d_in}, "
                             f"{self.width}, {self.k})")
        if self.l0_coefficient < 0 or self.threshold_init <= 0 or self.bandwidth <= 0:
            raise ValueError("an SAE needs l0_coefficient >= 0, threshold_init > 0 and bandwidth > 0")


class _JumpReLU(torch.autograd.Function):
    """z * H(z - theta), with the straight-through pseudo-derivative in theta (Rajamanoharan et al. eq. 11)."""

    @staticmethod
    def forward(ctx, z, threshold, bandwidth):
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return z * (z > threshold)

    @staticmethod
    def backward(ctx, grad):
        z, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        window = ((z - threshold).abs() < eps / 2).to(z.dtype) / eps
        grad_z = grad * (z > threshold)
        grad_threshold = -(threshold * window * grad).reshape(-1, z.shape[-1]).sum(0)
        return grad_z, grad_threshold, None


class _Step(torch.autograd.Function):
    """H(z - theta) (1 where a latent fires), with the pseudo-derivative -K/eps in theta (eq. 10)."""

    @staticmethod
    def forward(ctx, z, threshold, bandwidth):
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return (z > threshold).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        window = ((z - threshold).abs() < eps / 2).to(z.dtype) / eps
        return torch.zeros_like(z), -(window * grad).reshape(-1, z.shape[-1]).sum(0), None


def topk_activation(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep each row's k largest pre-activations (ReLU'd), zero the rest."""
    values, indices = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, indices, values.relu())


class SparseAutoencoder(torch.nn.Module):
    """A TopK or JumpReLU SAE (see the module docstring)."""

    def __init__(self, cfg: SAEConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.cfg = cfg
        w = torch.randn(cfg.width, cfg.d_in, generator=generator)
        w = w / w.norm(dim=-1, keepdim=True)
        self.W_dec = torch.nn.Parameter(w.clone())  # [width, d_in], unit rows
        self.W_enc = torch.nn.Parameter(w.T.clone())  # [d_in, width], tied at initialisation
        self.b_enc = torch.nn.Parameter(torch.zeros(cfg.width))
        self.b_dec = torch.nn.Parameter(torch.zeros(cfg.d_in))
        self.log_threshold = torch.nn.Parameter(torch.full((cfg.width,), float(torch.tensor(cfg.threshold_init).log())),
                                                requires_grad=cfg.kind == "jumprelu")
        self.register_buffer("rows_since_fired", torch.zeros(cfg.width, dtype=torch.long))

    @property
    def threshold(self) -> torch.Tensor:
        """JumpReLU's theta per latent."""
        return self.log_threshold.exp()

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """W_enc^T (x - b_dec) + b_enc, [..., width]."""
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        """sigma(pre): TopK or JumpReLU."""
        if self.cfg.kind == "topk":
            return topk_activation(pre, self.cfg.k)
        return _JumpReLU.apply(pre, self.threshold, self.cfg.bandwidth)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent activations f [..., width] of activations x [..., d_in]."""
        return self._activate(self.pre_activation(x))

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """x_hat = W_dec^T f + b_dec."""
        return f @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_hat, f)."""
        f = self.encode(x)
        return self.decode(f), f

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The training objective on a batch [n, d_in]; also counts which latents fired (dead tracking)."""
        pre = self.pre_activation(x)
        f = self._activate(pre)
        sparsity = torch.zeros((), dtype=x.dtype) if self.cfg.kind == "topk" else (
            self.cfg.l0_coefficient * _Step.apply(pre, self.threshold, self.cfg.bandwidth).sum(-1).mean())
        with torch.no_grad():
            fired = (f > 0).any(0)
            self.rows_since_fired.add_(len(x)).masked_fill_(fired, 0)
        reconstruction = ((self.decode(f) - x) ** 2).sum(-1).mean()
        return reconstruction + sparsity

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Unit-norm decoder rows (the constraint that makes a latent's activation its size)."""
        self.W_dec.div_(self.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-12))

    def dead(self) -> torch.Tensor:
        """[width] bool: latents that fired on none of the last ``dead_after`` training rows."""
        return self.rows_since_fired >= self.cfg.dead_after

    @torch.no_grad()
    def resample_dead(self, x: torch.Tensor, generator: torch.Generator) -> int:
        """Point each dead latent at a row of ``x`` [n, d_in], drawn by squared error; return the count."""
        dead = self.dead().nonzero().squeeze(1)
        if len(dead) == 0:
            return 0
        x_hat, _ = self(x)
        error = ((x - x_hat) ** 2).sum(-1)
        drawn = torch.multinomial(error + 1e-12, len(dead), replacement=len(dead) > len(x), generator=generator)
        direction = x[drawn] - self.b_dec
        direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        live = ~self.dead()
        scale = 0.2 * (self.W_enc[:, live].norm(dim=0).mean() if live.any() else 1.0)
        self.W_dec[dead] = direction
        self.W_enc[:, dead] = direction.T * scale
        self.b_enc[dead] = 0.0
        self.rows_since_fired[dead] = 0
        return len(dead)


def activation_scale(x: torch.Tensor) -> float:
    """The factor that gives activations x [n, d] unit mean squared norm (the JumpReLU reference's normalisation)."""
    return float((x.pow(2).sum(-1).mean()).rsqrt())


@torch.no_grad()
def sae_metrics(sae: SparseAutoencoder, x: torch.Tensor, batch: int = 4096) -> dict:
    """On held-out activations x [n, d_in]: L0, fraction of variance explained, mean-baseline MSE, dead fraction."""
    squared_error, l0, fired = 0.0, 0.0, torch.zeros(sae.cfg.width, dtype=torch.bool)
    for start in range(0, len(x), batch):
        chunk = x[start:start + batch]
        x_hat, f = sae(chunk)
        squared_error += float(((chunk - x_hat) ** 2).sum())
        l0 += float((f != 0).sum())
        fired |= (f != 0).any(0).cpu()
    total = float(((x - x.mean(0)) ** 2).sum())
    return {"l0": l0 / len(x), "fve": 1 - squared_error / total, "mse": squared_error / len(x),
            "mean_baseline_mse": total / len(x), "dead_fraction": float((~fired).float().mean())}


def train_sae(cfg: SAEConfig, activations: torch.Tensor, steps: int, batch_size: int = 1024, lr: float = 2e-4,
              seed: int = 0, progress: bool = False) -> tuple[SparseAutoencoder, list[dict]]:
    """Train an SAE on activations [n, d_in] (rows drawn with replacement) with the book's loop; returns (sae, history).

    b_dec starts at the data's mean; after each step the decoder rows are renormalised and, every
    ``resample_every`` steps, dead latents are resampled from a batch of 8 x ``batch_size`` rows.
    """
    from .training import Schedule, train_loop

    generator = torch.Generator().manual_seed(seed)
    sae = SparseAutoencoder(cfg, generator)
    with torch.no_grad():
        sae.b_dec.copy_(activations.mean(0))
    resample_rng = torch.Generator().manual_seed(seed + 1)

    def sample(g: torch.Generator) -> torch.Tensor:
        return activations[torch.randint(len(activations), (batch_size,), generator=g)]

    def after_step(done: int) -> None:
        sae.normalise_decoder()
        if cfg.resample_every and done % cfg.resample_every == 0 and done < steps:
            pool = activations[torch.randint(len(activations), (8 * batch_size,), generator=resample_rng)]
            sae.resample_dead(pool, resample_rng)

    history = train_loop(sae, sample, lambda model, batch, g: model.loss(batch),
                         Schedule(steps=steps, lr=lr, warmup_steps=min(100, steps // 10), kind="wsd"),
                         data_seed=seed, betas=(0.9, 0.999), progress=progress, on_step=after_step,
                         desc=f"SAE {cfg.kind} x{cfg.width}")
    return sae, history


# --------------------------------------------------------------------------- cached (made by ``prepare``)

@dataclass(frozen=True)
class ActivationSet(CachedModel):
    """Block outputs of a causal LM over Austen paragraphs, every token but each text's first, one file per block."""

    model_name: str
    layers: tuple[int, ...]
    n_texts: int
    max_tokens: int = 64
    seed: int = 0
    kind = "sae-acts"
    version = 1

    def key(self) -> dict:
        """The LM, blocks, texts and extraction settings."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "version": self.version}

    def label(self) -> str:
        """E.g. ``smollm2 blocks (15, 25) x 2000 Austen paragraphs``."""
        return f"{self.model_name} blocks {tuple(self.layers)} x {self.n_texts} Austen paragraphs"

    def texts(self) -> list[str]:
        """The paragraphs read: a seeded draw from Austen's (the chapters' held-out tail left out)."""
        from .corpora import austen_paragraphs

        paragraphs = austen_paragraphs()[0]
        order = torch.randperm(len(paragraphs), generator=torch.Generator().manual_seed(self.seed))
        return [paragraphs[i] for i in order[: self.n_texts].tolist()]

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Extract and save ``block<L>.safetensors`` per block."""
        from safetensors.torch import save_file

        from .activations import residual_activations
        from .smollm2 import language_model

        model, tokenizer = language_model(self.model_name, device)
        acts = residual_activations(model, tokenizer, self.texts(), list(self.layers), max_tokens=self.max_tokens,
                                    device=device)
        for layer in self.layers:
            save_file({"rows": acts.training_rows(layer).contiguous()}, str(folder / f"block{layer}.safetensors"))
        return {"tokens": int(acts.offsets[-1]), "rows": int((acts.positions > 0).sum()), "d": model.config.hidden_size}

    def load_from(self, folder: Path, device: str) -> dict[int, torch.Tensor]:
        """Rows [n, d] per block."""
        return {layer: self.block_rows(folder, layer, device) for layer in self.layers}

    @staticmethod
    def block_rows(folder: Path, layer: int, device: str = "cpu") -> torch.Tensor:
        """Rows [n, d] of one block from a finished folder."""
        from safetensors.torch import load_file

        return load_file(str(folder / f"block{layer}.safetensors"))["rows"].to(device)


@dataclass(frozen=True)
class TrainedSAE(CachedModel):
    """An SAE trained on one block of an :class:`ActivationSet` (inputs scaled to unit mean squared norm)."""

    activations: ActivationSet
    layer: int
    sae: SAEConfig
    steps: int
    batch_size: int = 1024
    lr: float = 2e-4
    heldout_fraction: float = 0.05
    seed: int = 0
    kind = "sae"
    version = 1

    def key(self) -> dict:
        """The activations' key, the block, the SAE config and the training recipe."""
        return {"activations": self.activations.key(), "layer": self.layer, "sae": asdict(self.sae),
                "steps": self.steps, "batch_size": self.batch_size, "lr": self.lr,
                "heldout_fraction": self.heldout_fraction, "seed": self.seed, "version": self.version}

    def label(self) -> str:
        """E.g. ``SAE topk x2304 on smollm2 block 15``."""
        return f"SAE {self.sae.kind} x{self.sae.width} on {self.activations.model_name} block {self.layer}"

    def produce(self, folder: Path, device: str, progress: bool) -> dict:
        """Train on all rows but the last ``heldout_fraction``, score on those, save weights and scale."""
        from safetensors.torch import save_file

        from .cached import ensure

        rows = self.activations.block_rows(ensure(self.activations, device, progress), self.layer)
        split = int(len(rows) * (1 - self.heldout_fraction))
        scale = activation_scale(rows[:split])
        sae, history = train_sae(self.sae, rows[:split] * scale, self.steps, self.batch_size, self.lr, self.seed,
                                 progress)
        save_file({name: value.contiguous() for name, value in sae.state_dict().items()},
                  str(folder / "sae.safetensors"))
        (folder / "scale.json").write_text(json.dumps({"scale": scale}))
        return {"heldout": sae_metrics(sae, rows[split:] * scale), "history": history, "scale": scale}

    def load_from(self, folder: Path, device: str) -> tuple[SparseAutoencoder, float]:
        """``(sae, scale)``: encode ``rows * scale``."""
        from safetensors.torch import load_file

        sae = SparseAutoencoder(self.sae)
        sae.load_state_dict(load_file(str(folder / "sae.safetensors")))
        return sae.to(device).eval(), json.loads((folder / "scale.json").read_text())["scale"]
