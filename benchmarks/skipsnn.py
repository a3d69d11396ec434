"""SkipSNN inference cost: MACs and wall time against the always-awake SNN on the same test batch.

Trains (briefly) an always-awake SNN and a SkipSNN of each variant on the `local` noisy
Fashion-MNIST task, then prints per-sample MACs, wall time of the masked forward (every sample
computes every step), wall time of gathered inference (sleeping samples skip their layers), and
the accuracy difference, all as ratios to the always-awake network measured in the same run.
Run: ``python benchmarks/skipsnn.py [--epochs 3 --budget 0.1 --device cpu]``.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_seconds

from support.skipsnn import network, study, task
from support.profiles import resolve


def main() -> None:
    """Train, measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=0.1)
    parser.add_argument("--train-samples", type=int, default=3000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    cfg = resolve("local", study.PARAMS, epochs=args.epochs, train_samples=args.train_samples)
    data = study.load_data(cfg)
    noisy = study.task_config(cfg)
    x, _ = task.noisy_batch(data["test_x"], noisy, torch.Generator().manual_seed(10_000))
    x = x.to(args.device)
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, device={args.device}, "
          f"test batch {tuple(x.shape)}, budget lambda={args.budget}")
    always, row_always = study.run_method("always", data, cfg, "mask_input", device=args.device, progress=False)
    with torch.no_grad():
        t_always = best_seconds(lambda: network.infer_gathered(always, x))
    print(f"always-awake: accuracy {row_always['accuracy']:.3f}, {row_always['macs']:,.0f} MACs/sample, "
          f"inference {t_always * 1e3:.0f} ms")
    for variant in network.VARIANTS:
        model, row = study.run_method("controller", data, cfg, variant, budget=args.budget, device=args.device,
                                  progress=False)
        with torch.no_grad():
            t_masked = best_seconds(lambda: model(x))
            t_gathered = best_seconds(lambda: network.infer_gathered(model, x))
        print(f"SkipSNN {variant:15s}: awake {row['awake_fraction']:.3f}, accuracy {row['accuracy']:.3f} "
              f"({row['accuracy'] - row_always['accuracy']:+.3f} vs always), MACs {row_always['macs'] / row['macs']:.2f}x "
              f"fewer | wall-time speed-up vs always-awake: gathered {t_always / t_gathered:.2f}x "
              f"({t_gathered * 1e3:.0f} ms); masked training forward {t_masked * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
