"""Bend-VLM's step 2: the closed form batched over queries against the reference's per-query SLSQP solve.

Both find the unit vector nearest a query with equal inner products to its attribute groups' mean
reference embeddings (``support.vlm.debias``). Prints seconds per query for each, their ratio, and
the smallest cosine between the two answers (1.0 when they agree). Embeddings are random unit
vectors of CLIP ViT-B/16's width (512). Run: ``python benchmarks/vlm.py [--queries 64]``
(the chapter shows the same comparison, ``debias.step2_solver_comparison``, on its own run).
"""

from __future__ import annotations

import argparse

from support.vlm import debias


def main() -> None:
    """Time both solvers per query for two and seven groups and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    for n_groups in (2, 7):
        row = debias.step2_solver_comparison(args.queries, args.dim, n_groups)
        print(f"groups={n_groups} d={args.dim} queries={args.queries}: "
              f"closed form {row['closed_form_s'] * 1e6:.1f} us/query, SLSQP {row['slsqp_s'] * 1e3:.2f} ms/query, "
              f"ratio {row['ratio']:.0f}x, min cosine between answers {row['min_cosine']:.8f}")


if __name__ == "__main__":
    main()
