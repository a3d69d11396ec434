"""Bend-VLM's step 2: the closed form batched over queries against the reference's per-query SLSQP solve.

Both find the unit vector nearest a query with equal inner products to its attribute groups' mean
reference embeddings (``support.vlm.debias``). Prints seconds per query for each, their ratio, and
the smallest cosine between the two answers (1.0 when they agree). Embeddings are random unit
vectors of CLIP ViT-B/16's width (512). Run: ``python benchmarks/vlm.py [--queries 64]``.
"""

from __future__ import annotations

import argparse

import torch
from timing import best_seconds

from support.vlm import debias


def main() -> None:
    """Time both solvers per query for two and seven groups and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    for n_groups in (2, 7):
        queries = torch.nn.functional.normalize(torch.randn(args.queries, args.dim, generator=generator), dim=-1)
        means = torch.nn.functional.normalize(torch.randn(args.queries, n_groups, args.dim, generator=generator),
                                              dim=-1)
        closed = debias.equalize_closed_form(queries, means)
        closed_seconds = best_seconds(lambda: debias.equalize_closed_form(queries, means)) / args.queries
        answers = []

        def slsqp_all():
            answers.clear()
            answers.extend(debias.equalize_slsqp(q.numpy(), m.numpy()) for q, m in zip(queries, means))

        slsqp_seconds = best_seconds(slsqp_all, repeats=1, warmup=False) / args.queries
        agreement = min(float(c.double() @ torch.from_numpy(a)) for c, a in zip(closed, answers))
        print(f"groups={n_groups} d={args.dim} queries={args.queries}: "
              f"closed form {closed_seconds * 1e6:.1f} us/query, SLSQP {slsqp_seconds * 1e3:.2f} ms/query, "
              f"ratio {slsqp_seconds / closed_seconds:.0f}x, min cosine between answers {agreement:.8f}")


if __name__ == "__main__":
    main()
