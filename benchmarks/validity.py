"""Chapter 9's 2PL fit: the batched EM of ``support.validity.irt`` against girth's ``twopl_mml``.

Both fit the two-parameter logistic model by marginal maximum likelihood to the same simulated
responses. Prints seconds per fit for each, their ratio, and the largest difference between the two
fits' difficulties and discriminations (the test suite checks that they agree). Run:
``python benchmarks/validity.py [--examinees 2000 --items 100 --repeats 3]`` (needs ``girth``,
which ``pip install -e .[dev]`` brings).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from support.validity import irt, simulate


def best_seconds(run, repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Time both fits on one simulated response matrix and print the ratio and the largest disagreement."""
    import girth

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examinees", type=int, default=2000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    items = simulate.item_bank(args.items, rng)
    responses = simulate.answer(rng.standard_normal(args.examinees), items, rng)
    ours = irt.fit_2pl(responses)
    theirs = girth.twopl_mml(responses.T.astype(int))
    ours_s = best_seconds(lambda: irt.fit_2pl(responses), args.repeats)
    theirs_s = best_seconds(lambda: girth.twopl_mml(responses.T.astype(int)), args.repeats)
    print(f"examinees={args.examinees} items={args.items}: batched EM {ours_s:.3f} s, girth {theirs_s:.3f} s, "
          f"ratio {theirs_s / ours_s:.1f}x; largest |difference| difficulty "
          f"{np.abs(ours.items.difficulty - theirs['Difficulty']).max():.3f}, discrimination "
          f"{np.abs(ours.items.discrimination - theirs['Discrimination']).max():.3f}")


if __name__ == "__main__":
    main()
