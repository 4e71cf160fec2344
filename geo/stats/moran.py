"""Global Moran's I (Moran 1950) with a permutation pseudo p-value.

With row-standardised weights (S0 = n) and z the demeaned values:

    I = sum_i z_i lag_i / sum_i z_i^2

Inference by random permutation of the values over the areas (``permutations`` times):
the pseudo p-value counts permutations with I at least as extreme, in the stated direction.

Returns a dict: ``moran_i``, ``expected`` (-1 / (n - 1)), ``p_value``, ``z_sim`` (I against the
permutations' mean and sd), ``permutations``, ``direction`` (= ``p_value_convention``: folded by default, as GeoDa and
esda), ``method`` (the test in words), ``n``.
"""
from __future__ import annotations

import numpy as np

from geo.stats.local_statistics import prepare
from geo.stats.permutation import CONVENTIONS, DEFAULT_DIRECTION, p_values
from geo.stats.weights import Weights


def moran(values, weights: Weights, permutations: int = 999, seed: int | None = 12345,
          direction: str = DEFAULT_DIRECTION, chunk: int = 128) -> dict:
    prepared = prepare(weights, values)
    x = np.asarray(values, dtype=float)[prepared.valid]
    z = x - x.mean()
    w = prepared.weights.row_standardised
    observed = float(z @ (w @ z) / (z @ z))
    rng = np.random.default_rng(seed)
    simulated = np.empty(permutations)
    done = 0
    while done < permutations:  # permutations in blocks: one sparse product per block
        size = min(chunk, permutations - done)
        block = np.stack([rng.permutation(z) for _ in range(size)], axis=1)  # (n, size)
        simulated[done:done + size] = np.einsum("ij,ij->j", block, w @ block) / (z @ z)
        done += size
    tol = 1e-12 * (abs(observed) + 1)
    greater = int((simulated >= observed - tol).sum())
    less = int((simulated <= observed + tol).sum())
    p = float(p_values(np.array([greater]), np.array([less]), permutations, direction)[0])
    return {"moran_i": observed, "expected": -1.0 / (len(z) - 1), "p_value": p,
            "z_sim": float((observed - simulated.mean()) / simulated.std(ddof=1)),
            "permutations": permutations, "direction": direction, "p_value_convention": direction,
            "method": f"global Moran's I: random permutation pseudo p-value ({permutations:,} permutations), "
                      + CONVENTIONS[direction], "n": int(len(z))}
