"""Knowledge-editing speed: seconds per edit of MEMIT, ENCORE and AlphaEdit (with/without MPES), and batched z.

Part 1 edits the same cases with each editor from the same unedited model and prints seconds per
edit and the ratio to MEMIT and to AlphaEdit (the paper: ENCORE 2.6x faster than MEMIT and 2.75x
faster than AlphaEdit on Llama-3-8B), then where each editor's time goes (z, keys, solves). Part 2
times the value-target optimisation of one batch computed at once (one delta row per edit, frozen
layers cached) against a loop computing the same deltas one edit at a time, checks they agree, and
prints the ratio; then against recomputing every position above the injection layer at every step
(instead of reusing the keys and values of the positions left of the subject token).
Run: ``python benchmarks/editing.py [--model world|smollm2 --edits 200 --batch 50 --device cpu]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from support.editing import compute_z, context_prefixes, encore_methods
from support.editing.compute import ZConfig
from support.editing.settings import make_editor, smollm2_setting, world_setting
from support.encore.study import PARAMS, phase_profile, run_methods
from support.profiles import resolve


def main() -> None:
    """Time the editors and the batched z, print ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="world", choices=("world", "smollm2"))
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--lam-p", type=float, default=None, help="default: 100 (world), 15000 (smollm2)")
    parser.add_argument("--skip-editors", action="store_true", help="only time the batched z")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    layers = tuple(resolve("local", PARAMS).layers) if args.model == "world" else (4, 5, 6, 7, 8)
    lam_p = args.lam_p or (100.0 if args.model == "world" else 15000.0)
    if args.model == "world":
        setting = world_setting(args.edits, layers, device=args.device)
    else:
        setting = smollm2_setting(args.edits, layers, device=args.device, n_probe=10, n_c0=300, n_mc=5)
    editor = make_editor(setting, lam_p, 1e-2, null_relative=True, progress=False)
    prefixes = context_prefixes(setting.model, setting.tokenizer, n_tokens=10 if args.model == "world" else 5)

    if not args.skip_editors:
        runs = run_methods(setting, encore_methods(20.0, 1), editor, prefixes, args.batch, args.edits,
                           with_downstream=False, progress=False)
        final = runs.final.set_index("method")
        per_edit = final.ms_per_edit / 1000
        print(f"{args.model}: {args.edits} edits in batches of {args.batch}, seconds per edit")
        print(f"{'method':<16}{'s/edit':>10}{'z steps':>9}{'MEMIT/x':>9}{'AlphaEdit/x':>13}")
        for name in final.index:
            print(f"{name:<16}{per_edit[name]:>10.4f}{final.z_steps[name]:>9.1f}"
                  f"{per_edit['MEMIT'] / per_edit[name]:>9.2f}{per_edit['AlphaEdit'] / per_edit[name]:>13.2f}")
        print("\nwhere the time goes, ms per edit (z: value targets; keys: keys and current outputs; solve: "
              "closed forms and weight updates)")
        print(phase_profile(runs.batches, runs.checkpoints, args.batch).round(2).to_string())

    cases = setting.cases[: args.batch]
    cfg = ZConfig()
    start = time.perf_counter()
    together = compute_z(setting.anatomy, setting.tokenizer, cases, setting.layers[-1], prefixes, cfg)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    alone = [compute_z(setting.anatomy, setting.tokenizer, [c], setting.layers[-1], prefixes, cfg) for c in cases]
    looped = time.perf_counter() - start
    gap = float((together.z - torch.cat([a.z for a in alone], 1)).norm() / together.z.norm())
    print(f"\nz for {len(cases)} edits: batched {batched:.2f} s, one at a time {looped:.2f} s, "
          f"ratio {looped / batched:.1f}x (relative difference of the targets {gap:.1e}, float32)")

    start = time.perf_counter()
    recomputed = compute_z(setting.anatomy, setting.tokenizer, cases, setting.layers[-1], prefixes,
                           ZConfig(cache_prefix=False))
    every_position = time.perf_counter() - start
    gap = float((together.z - recomputed.z).norm() / together.z.norm())
    print(f"z for {len(cases)} edits, blocks above the injection layer: from the subject token on (keys and values "
          f"left of it reused) {batched:.2f} s, every position recomputed {every_position:.2f} s, ratio "
          f"{every_position / batched:.1f}x (relative difference of the targets {gap:.1e}, float32)")


if __name__ == "__main__":
    main()
