"""GPTQ vs RTN cost, and blocked GPTQ vs the plain column-by-column loop, measured in one run.

Prints (1) per-layer seconds of RTN, blocked GPTQ and the reference column loop on SmolLM2-sized
layers, as ratios; (2) whole-model quantization time of SmolLM2-135M (Hessian collection + all
210 linear layers) for RTN and GPTQ, as a ratio. Run: ``python benchmarks/quantization.py``.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_seconds

from support import models, resources
from support.qid.quantization import QuantConfig, quantize_gptq, quantize_gptq_reference, quantize_model, quantize_rtn


def layer_benchmark(rows: int, cols: int, bits: int) -> dict[str, float]:
    """Seconds per layer of RTN, blocked GPTQ and the column loop on a random [rows, cols] layer."""
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(rows, cols, generator=gen)
    x = torch.randn(2048, cols, generator=gen)
    hessian = 2 * x.T @ x / x.shape[0]
    return {"rtn": best_seconds(lambda: quantize_rtn(weight, bits), warmup=False),
            "gptq": best_seconds(lambda: quantize_gptq(weight, hessian, bits), warmup=False),
            "gptq_column_loop": best_seconds(lambda: quantize_gptq_reference(weight, hessian, bits), warmup=False)}


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--calibration-windows", type=int, default=16)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, bits={args.bits}")
    for rows, cols in [(576, 576), (1536, 576), (576, 1536)]:
        t = layer_benchmark(rows, cols, args.bits)
        print(f"layer {rows}x{cols}: rtn {t['rtn'] * 1e3:7.1f} ms  gptq {t['gptq'] * 1e3:7.1f} ms  "
              f"column loop {t['gptq_column_loop'] * 1e3:7.1f} ms  | gptq/rtn {t['gptq'] / t['rtn']:6.1f}x  "
              f"column loop/gptq {t['gptq_column_loop'] / t['gptq']:5.2f}x")
    model, tokenizer = models.smollm2()
    text = resources.english_corpus()[:200_000]
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
    calibration = ids[: args.calibration_windows * 128].view(args.calibration_windows, 128)
    rtn = best_seconds(lambda: quantize_model(model, QuantConfig(args.bits, method="rtn")), repeats=1, warmup=False)
    gptq = best_seconds(lambda: quantize_model(model, QuantConfig(args.bits), calibration), repeats=1, warmup=False)
    print(f"SmolLM2-135M whole model ({args.calibration_windows}x128 calibration tokens): rtn {rtn:.1f} s, "
          f"gptq {gptq:.1f} s (incl. Hessians) | gptq/rtn {gptq / rtn:.1f}x")


if __name__ == "__main__":
    main()
