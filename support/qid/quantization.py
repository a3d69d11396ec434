"""Weight-only post-training quantization: round-to-nearest (RTN) and GPTQ, for any ``transformers`` LM.

Implements GPTQ (Frantar et al., ICLR 2023, Algorithm 1): for a linear layer with weight W [out, in]
and calibration inputs X, H = 2/n sum_x x x^T; after damping (lambda = 0.01 mean diag H) the
upper Cholesky factor U of H^-1 drives column-by-column rounding, where each column's rounding
error e_i = (w_i - q_i) / U_ii is pushed onto the not-yet-quantized columns as W[:, j>i] -= e_i U_ij
("optimal brain surgeon" update), in blocks of 128 columns with lazy batch updates. Quantization
grids are asymmetric min-max (zero point), per output channel or per group of input columns;
optional act-order processes columns by decreasing diag(H).

Sequential by default, as the reference: the transformer blocks are quantized in order, each
block's Hessians collected on the outputs of the blocks already quantized (``sequential=False``
collects every layer's Hessian in one pass of the full-precision model instead, so several bit
widths can share it). With groups, each group's grid is read from the weights as they stood at the
start of the current block of columns (in-block updates not yet applied), as the reference does.

Where this differs from the reference code: a block's Hessians come from one forward pass of the
whole model per block (the reference caches each block's inputs and runs that block alone: the same
inputs, less work); with act-order and groups, groups are formed in the permuted column order (the
reference's default, not its ``static_groups``); a group size at least a layer's width falls back to
one grid per output channel (as RTN here). Weights are stored dequantized (fake quantization) in
float32: this measures the loss of quantization, not speed.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch

VALID_BITS = range(2, 9)


def check_bits(bits: int) -> int:
    """Validate a bit width (2..8)."""
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in VALID_BITS:
        raise ValueError(f"bits={bits!r} must be an integer from 2 to 8")
    return bits


def minmax_grid(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row asymmetric grid of ``w`` [rows, cols]: (scale, zero), each [rows, 1]; the grid contains 0."""
    maxq = 2**bits - 1
    low = w.min(dim=1, keepdim=True).values.clamp(max=0)
    high = w.max(dim=1, keepdim=True).values.clamp(min=0)
    flat = (high - low) == 0
    low, high = torch.where(flat, -1.0, low), torch.where(flat, 1.0, high)
    scale = (high - low) / maxq
    zero = torch.round(-low / scale)
    return scale, zero


def fake_quantize(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Round ``w`` onto the grid (scale, zero) and map back to real values."""
    q = torch.clamp(torch.round(w / scale) + zero, 0, 2**bits - 1)
    return scale * (q - zero)


def quantize_rtn(weight: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """Round-to-nearest: per output channel, or per group of ``group_size`` input columns."""
    check_bits(bits)
    rows, cols = weight.shape
    if group_size is None or group_size >= cols:
        scale, zero = minmax_grid(weight, bits)
        return fake_quantize(weight, scale, zero, bits)
    if cols % group_size:
        raise ValueError(f"group_size={group_size} must divide the layer's {cols} input columns")
    grouped = weight.reshape(rows * cols // group_size, group_size)
    scale, zero = minmax_grid(grouped, bits)
    return fake_quantize(grouped, scale, zero, bits).reshape(rows, cols)


def _inverse_hessian_factor(hessian: torch.Tensor, damp: float) -> torch.Tensor:
    """Upper Cholesky factor of (H + damp * mean(diag H) * I)^-1."""
    h = hessian.clone()
    h.diagonal().add_(damp * h.diagonal().mean())
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    return torch.linalg.cholesky(inverse, upper=True)


def quantize_gptq(weight: torch.Tensor, hessian: torch.Tensor, bits: int, group_size: int | None = None,
                  block_size: int = 128, damp: float = 0.01, act_order: bool = False) -> torch.Tensor:
    """GPTQ-quantize ``weight`` [out, in] given the input Hessian ``hessian`` [in, in]; returns dequantized weights."""
    check_bits(bits)
    w = weight.clone()
    h = hessian.clone()
    cols = w.shape[1]
    if group_size is not None and group_size >= cols:
        group_size = None  # one group spans the layer: the per-channel grid (as RTN)
    if group_size is not None and cols % group_size:
        raise ValueError(f"group_size={group_size} must divide the layer's {cols} input columns")
    dead = h.diagonal() == 0  # inputs that never fire carry no information
    h[dead, dead] = 1
    w[:, dead] = 0
    if act_order:
        perm = torch.argsort(h.diagonal(), descending=True)
        w, h = w[:, perm], h[perm][:, perm]
    u = _inverse_hessian_factor(h, damp)
    scale, zero = minmax_grid(w, bits)
    quantized = torch.zeros_like(w)
    for start in range(0, cols, block_size):
        end = min(start + block_size, cols)
        block = w[:, start:end].clone()
        errors = torch.zeros_like(block)
        u_block = u[start:end, start:end]
        for i in range(end - start):
            col = start + i
            if group_size is not None and col % group_size == 0:
                # w holds this block's columns as they were at its start (updates go to ``block``)
                scale, zero = minmax_grid(w[:, col:col + group_size], bits)
            q = fake_quantize(block[:, i:i + 1], scale, zero, bits)
            quantized[:, col:col + 1] = q
            err = (block[:, i:i + 1] - q) / u_block[i, i]
            block[:, i:] -= err * u_block[i:i + 1, i:]
            errors[:, i:i + 1] = err
        w[:, end:] -= errors @ u[start:end, end:]  # lazy batch update of the later blocks
    if act_order:
        quantized = quantized[:, torch.argsort(perm)]
    return quantized


def quantize_gptq_reference(weight: torch.Tensor, hessian: torch.Tensor, bits: int, damp: float = 0.01) -> torch.Tensor:
    """Plain column-by-column GPTQ (no blocks, no groups, no act-order): the baseline for tests and benchmarks."""
    w = weight.clone()
    u = _inverse_hessian_factor(hessian, damp)
    scale, zero = minmax_grid(w, bits)
    quantized = torch.zeros_like(w)
    for i in range(w.shape[1]):
        q = fake_quantize(w[:, i:i + 1], scale, zero, bits)
        quantized[:, i:i + 1] = q
        w[:, i:] -= (w[:, i:i + 1] - q) / u[i, i] * u[i:i + 1, i:]
    return quantized


def quantizable_linears(model) -> dict[str, torch.nn.Linear]:
    """Every ``nn.Linear`` of the model except the output head (which GPTQ leaves in full precision)."""
    head = model.get_output_embeddings()
    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head}


def transformer_blocks(model) -> list[list[str]]:
    """The quantizable layers' names grouped by the numbered block they sit in (``...layers.3.``), in model order."""
    blocks: dict[str, list[str]] = {}
    for name in quantizable_linears(model):
        match = re.match(r"(.*?\.\d+)\.", name)
        blocks.setdefault(match.group(1) if match else name, []).append(name)
    return list(blocks.values())


@torch.no_grad()
def collect_hessians(model, calibration: torch.Tensor, batch_size: int = 8,
                     names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """H = 2/n sum x x^T of the quantizable layers' inputs (all, or ``names``) over windows [n_windows, seq_len]."""
    layers = quantizable_linears(model)
    if names is not None:
        layers = {name: layers[name] for name in names}
    sums = {name: torch.zeros(m.in_features, m.in_features, dtype=torch.float64) for name, m in layers.items()}
    counts = dict.fromkeys(layers, 0)

    def hook(name):
        def accumulate(module, inputs, output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1]).double().cpu()
            sums[name] += x.T @ x
            counts[name] += x.shape[0]
        return accumulate

    handles = [m.register_forward_hook(hook(name)) for name, m in layers.items()]
    device = next(model.parameters()).device
    try:
        for chunk in calibration.split(batch_size):
            model(input_ids=chunk.to(device))
    finally:
        for handle in handles:
            handle.remove()
    return {name: (2 * sums[name] / counts[name]).float() for name in layers}


@dataclass(frozen=True)
class QuantConfig:
    """How to quantize a model: method, bit width and GPTQ options."""

    bits: int
    method: str = "gptq"  # "gptq" or "rtn"
    group_size: int | None = None
    act_order: bool = False
    block_size: int = 128
    damp: float = 0.01
    sequential: bool = True  # each block calibrated on the quantized blocks' outputs (the reference's way)
    embeddings: bool = False  # also round the input embedding matrix (RTN, one grid per token's vector)

    def __post_init__(self):
        check_bits(self.bits)
        if self.method not in ("gptq", "rtn"):
            raise ValueError(f"method={self.method!r} must be 'gptq' or 'rtn'")
        if self.group_size is not None and self.group_size <= 0:
            raise ValueError(f"group_size={self.group_size} must be positive or None")


def _quantize_layer(layer: torch.nn.Linear, config: QuantConfig, hessian: torch.Tensor | None) -> None:
    """Round one linear layer's weights in place with RTN or GPTQ."""
    weight = layer.weight.data.float()
    if config.method == "rtn":
        new = quantize_rtn(weight, config.bits, config.group_size)
    else:
        new = quantize_gptq(weight, hessian.to(weight.device), config.bits, config.group_size,
                            config.block_size, config.damp, config.act_order)
    layer.weight.data.copy_(new.to(layer.weight.dtype))


@torch.no_grad()
def quantize_model(model, config: QuantConfig, calibration: torch.Tensor | None = None,
                   hessians: dict[str, torch.Tensor] | None = None):
    """A quantized copy of ``model``: every linear layer but the head rounded by RTN or GPTQ (and the embeddings if asked).

    GPTQ with ``config.sequential`` quantizes block after block, each calibrated on the quantized
    blocks' outputs; otherwise every layer uses ``hessians`` (from :func:`collect_hessians` on the
    full-precision model, so several bit widths can share one pass) or one pass made here.
    """
    quantized = copy.deepcopy(model)
    if config.embeddings:  # a lookup table has no input Hessian: round each token's vector to its own grid
        table = quantized.get_input_embeddings().weight
        table.data.copy_(quantize_rtn(table.data.float(), config.bits).to(table.dtype))
    layers = quantizable_linears(quantized)
    if config.method == "rtn":
        for layer in layers.values():
            _quantize_layer(layer, config, None)
        return quantized
    if calibration is None and (config.sequential or hessians is None):
        raise ValueError("GPTQ needs calibration token windows [n_windows, seq_len] (or, with sequential=False, "
                         "precomputed hessians)")
    if config.sequential:
        for names in transformer_blocks(quantized):
            block_hessians = collect_hessians(quantized, calibration, names=names)
            for name in names:
                _quantize_layer(layers[name], config, block_hessians[name])
        return quantized
    hessians = hessians if hessians is not None else collect_hessians(model, calibration)
    for name, layer in layers.items():
        _quantize_layer(layer, config, hessians[name])
    return quantized
