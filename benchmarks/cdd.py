"""Constrained discrete diffusion speed: projected vs plain sampling, and the batched projection vs a per-sample loop.

Part 1 samples the same batch with the same number of reverse steps from the chapter's text MDLM,
without and with the CDD projection (each lexical constraint of the chapter), and prints seconds
per sample, the ratio (target: at most 3x) and the augmented Lagrangian's inner Adam steps per
reverse step: for the paper's operator alone ("projection only", the chapter's row of that name:
multipliers restart at every reverse step, the solver's full budget, projected positions stay
masked, no repair, no search), then with repair and search on ("cold") and with this chapter's two
departures (warm multipliers, projected positions decoded at once), each alone and together
("warm+commit" is the chapter's CDD), and the chapter's CDD with the solver's early give-up
("+ give-up": ``patience`` 2, off in the chapter); the unconstrained sampler is also timed
running the denoiser on every row at every step, against reusing the predictions of rows the last
step left unchanged (the default).
Part 2 projects one batch of real denoiser predictions onto each lexical constraint with the batched
augmented-Lagrangian solver and with the same solver called one sample at a time (medians of three
runs), prints the share of samples each leaves satisfied and the ratio.
Run: ``python benchmarks/cdd.py [--samples 64 --steps 32 --device cpu]`` (trains the tiny MDLM once).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from support.cdd import diffusion
from support.cdd import study
from support.cdd.projection import kl_projection, project_each
from support.profiles import resolve


def main() -> None:
    """Time constrained against unconstrained sampling and the batched projection against a loop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", default="local", choices=("smoke", "local"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    cfg = resolve(args.profile, study.PARAMS, n_text=args.samples, text_steps=args.steps)
    models = study.text_models(cfg, args.device)
    settings = study.alm_settings(cfg)
    print(f"device {args.device}, {args.samples} samples x {cfg.text_len} tokens, {args.steps} reverse steps")
    # the baseline: median of three unconstrained runs after one warm-up (the first call pays allocation)
    plain_seconds = [study.run_sampler(models.mdlm, models.tokenizer, args.samples, cfg.text_len, args.steps,
                                       seed=0, device=args.device)[1].seconds for _ in range(4)][1:]
    base = sorted(plain_seconds)[1] / args.samples
    print(f"{'unconstrained':28s} {1e3 * base:8.2f} ms/sample")
    # the same sampler running the denoiser on every row at every step (before rows the last step left
    # unchanged kept their x_theta): same samples, more denoiser rows
    every_row = [study.run_sampler(models.mdlm, models.tokenizer, args.samples, cfg.text_len, args.steps, seed=0,
                                   device=args.device, reuse_unchanged=False)[1] for _ in range(3)]
    reused = study.run_sampler(models.mdlm, models.tokenizer, args.samples, cfg.text_len, args.steps, seed=0,
                               device=args.device)[1]
    every = sorted(t.seconds for t in every_row)[1] / args.samples
    print(f"{'unconstrained, every row':28s} {1e3 * every:8.2f} ms/sample  -> reusing unchanged rows "
          f"{every / base:.2f}x faster ({reused.denoised_rows / every_row[0].denoised_rows:.0%} of the denoiser rows)")
    # "projection only" is the chapter's row of that name (the paper's operator alone); the others keep the
    # repair and the search on, so that they differ from each other only in warm start, commit and give-up
    variants = {"projection only": {"warm": False, "commit": False, "repair": False, "search": False, "patience": 0},
                "cold": {"warm": False, "commit": False}, "warm": {"warm": True, "commit": False},
                "commit": {"warm": False, "commit": True}, "warm+commit": {"warm": True, "commit": True},
                "... + give-up": {"warm": True, "commit": True, "patience": 2}}
    for name, con in study.lexical_constraints(cfg, models.tokenizer).items():
        for label, options in variants.items():
            sampler_options = {k: v for k, v in options.items() if k != "patience"}
            solver = replace(settings, patience=options.get("patience", settings.patience))
            ids, trace = study.run_sampler(models.mdlm, models.tokenizer, args.samples, cfg.text_len, args.steps, con,
                                           solver, seed=0, device=args.device, **sampler_options)
            per = trace.seconds / args.samples
            inner = sum(trace.inner_steps) / len(trace.inner_steps)
            print(f"{'CDD ' + name:24s} {label:15s} {1e3 * per:8.2f} ms/sample  ratio {per / base:5.2f}x  "
                  f"inner steps/reverse step {inner:7.1f}  searched {trace.searched:3d}  "
                  f"violations {int((~con.hard(ids)).sum()):3d}")

    # Part 2: one reverse step's predictions, halfway through sampling, projected onto each lexical constraint
    noisy = torch.full((args.samples, cfg.text_len), models.tokenizer.mask_token_id, device=args.device)
    noisy[:, ::2] = torch.randint(3, len(models.tokenizer), (args.samples, (cfg.text_len + 1) // 2),
                                  generator=torch.Generator().manual_seed(0))
    x_theta = diffusion.clean_token_probs(models.mdlm, noisy, models.tokenizer.mask_token_id)
    free = noisy == models.tokenizer.mask_token_id
    for name, con in study.lexical_constraints(cfg, models.tokenizer).items():
        batched_runs, single_runs = [], []
        for _ in range(3):  # medians of three
            start = time.perf_counter()
            batched, info = kl_projection(x_theta, free, con, settings)
            batched_runs.append(time.perf_counter() - start)
            start = time.perf_counter()
            single, infos = project_each(x_theta, free, con, settings)
            single_runs.append(time.perf_counter() - start)
        batched_s, single_s = sorted(batched_runs)[1], sorted(single_runs)[1]
        ok_b = float(con.hard(batched.argmax(-1)).float().mean())
        ok_s = float(con.hard(single.argmax(-1)).float().mean())
        print(f"projection {name:22s} {info['changed']:3d} violating samples: batched {batched_s:.3f} s, one at a "
              f"time {single_s:.3f} s -> {single_s / batched_s:.1f}x; satisfied afterwards {ok_b:.2f} / {ok_s:.2f}")

if __name__ == "__main__":
    main()
