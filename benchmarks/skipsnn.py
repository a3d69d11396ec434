"""SkipSNN inference cost at the chapter's operating point: MACs and wall time against the always-awake SNN.

Trains the chapter's `local` always-awake SNN (one seed) on the dense-noise task and fine-tunes
from it both SkipSNN at the chapter's operating target (`operating_target`) and the always-awake
baseline, exactly as chapter 10 does, then prints on the same test sequences: per-sample MACs (sparsity-aware and dense), wall
time of gathered inference (sleeping samples skip their input layer) and of the masked training
forward, all as ratios to the always-awake SNN measured in the same run.
Run: ``python benchmarks/skipsnn.py [--device cpu] [--variant mask_input]``.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_seconds

from support.profiles import resolve
from support.skipsnn import network, study


def main() -> None:
    """Train, measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variant", default="mask_input", choices=network.VARIANTS)
    args = parser.parse_args()
    base = resolve("local", study.PARAMS)
    cfg = resolve("local", study.PARAMS, seeds=1, awake_targets=(base.operating_target,), variant=args.variant)
    data = study.load_data(cfg)
    task = study.task_config(cfg)
    x, onsets = network.test_sequences(data["test_x"], task, cfg.seed)
    pretrained, _ = study.pretrain(data, cfg, task, args.device, progress=False)
    always, _ = study.finetune(pretrained, "always", data, cfg, task, device=args.device, progress=False)
    skipsnn, _ = study.finetune(pretrained, "controller", data, cfg, task, device=args.device, progress=False)
    rows = {name: network.evaluate_population(pop, x, onsets, data["test_y"], cfg.signal_len,
                                              device=args.device)[0].iloc[0]
            for name, pop in (("always", always), ("skipsnn", skipsnn))}
    x = x.to(args.device)
    always, skipsnn = always.member(0), skipsnn.member(0)
    with torch.no_grad():
        t_always = best_seconds(lambda: network.infer_gathered(always, x))
        t_gathered = best_seconds(lambda: network.infer_gathered(skipsnn, x))
        t_masked = best_seconds(lambda: skipsnn(x[None]))
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, device={args.device}, "
          f"test batch {tuple(x.shape)}, {cfg.noise_events} noise draws/frame, target {cfg.operating_target:g}, "
          f"{args.variant}")
    a, s = rows["always"], rows["skipsnn"]
    print(f"always-awake: accuracy {a.accuracy:.3f}, {a.macs_sparse:,.0f} sparse / {a.macs_dense:,.0f} dense "
          f"MACs per sample, gathered inference {t_always * 1e3:.0f} ms")
    print(f"SkipSNN: awake {s.awake_fraction:.3f} (signal {s.signal_recall:.2f}, noise {s.noise_wake:.3f}), "
          f"accuracy {s.accuracy:.3f} ({s.accuracy - a.accuracy:+.3f}); MACs {a.macs_sparse / s.macs_sparse:.2f}x "
          f"fewer sparse, {a.macs_dense / s.macs_dense:.2f}x fewer dense; wall-time speed-up of gathered "
          f"inference {t_always / t_gathered:.2f}x ({t_gathered * 1e3:.0f} ms); masked forward "
          f"{t_masked * 1e3:.0f} ms ({t_always / t_masked:.2f}x)")


if __name__ == "__main__":
    main()
