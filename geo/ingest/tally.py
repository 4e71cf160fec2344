"""Sum a table's value columns per combination of its key columns, by integer codes.

The same result as ``frame.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()``
(one row per combination present, sorted by the keys, text keys in Python's order), made by
numbering each key column's distinct values in sorted order, combining the numbers into one
64-bit key and summing with ``bincount``: several times quicker than grouping on text columns,
which the ingest of a large file does once per chunk.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MAX_KEY = np.iinfo(np.int64).max


def sum_by(frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """``frame``'s ``values`` summed per distinct combination of ``keys``, sorted by the keys;
    the key columns keep their types, the sums are float64."""
    if frame.empty:
        return frame[keys + values].iloc[:0].reset_index(drop=True)
    codes, uniques = [], []
    for name in keys:  # on the column itself: Arrow text is numbered by Arrow, without Python strings
        code, unique = pd.factorize(frame[name], sort=True, use_na_sentinel=False)
        codes.append(code.astype(np.int64))
        uniques.append(unique)
    sizes = [max(len(u), 1) for u in uniques]
    if float(np.prod(sizes, dtype=np.float64)) >= MAX_KEY:  # too many combinations for one integer key
        return frame.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()
    combined = np.ravel_multi_index(codes, sizes)
    present, inverse = np.unique(combined, return_inverse=True)
    digits = np.unravel_index(present, sizes)
    out = {name: pd.Series(unique.take(digit)).astype(frame[name].dtype)
           for name, unique, digit in zip(keys, uniques, digits)}
    for name in values:
        out[name] = np.bincount(inverse, weights=frame[name].to_numpy(dtype=np.float64), minlength=len(present))
    return pd.DataFrame(out)


class Tally:
    """Sums per combination of key columns, added to one table at a time (a streamed file's chunks),
    the same as :func:`sum_by` over all the tables at once (the key columns keep the first table's
    types). Each key column's distinct values are numbered as they first come, the numbers are
    packed into one 64-bit key (as many bits per column as its values need, repacked when a column
    outgrows them) and the sums kept per key: adding a table costs a ``unique`` and a ``bincount``
    over integers, and text is made once, by :meth:`frame`. Memory is one row per combination."""

    def __init__(self, keys: list[str], values: list[str]):
        self.keys, self.values = list(keys), list(values)
        self.numbers: list[dict] = [{} for _ in self.keys]  # per key column: value -> its number
        self.bits = [1] * len(self.keys)
        self.key = np.empty(0, dtype=np.int64)
        self.sums = np.empty((0, len(self.values)))
        self.dtypes: dict | None = None
        self._frames: list[pd.DataFrame] | None = None  # more combinations than 64 bits hold: kept as tables

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if self.dtypes is None:
            self.dtypes = {c: frame[c].dtype for c in self.keys}
        if self._frames is not None:
            self._frames.append(frame[self.keys + self.values])
            return
        numbers = []
        for i, name in enumerate(self.keys):
            code, unique = pd.factorize(frame[name], use_na_sentinel=False)
            table = self.numbers[i]
            number = np.array([table.setdefault(u, len(table)) for u in unique.tolist()], dtype=np.int64)
            numbers.append(number[code])
        bits = [max(old, max(len(t) - 1, 1).bit_length()) for old, t in zip(self.bits, self.numbers)]
        if sum(bits) > 63:  # too many combinations for one integer: sum the tables at the end instead
            self._frames = [self.frame(), frame[self.keys + self.values]]
            return
        if bits != self.bits:
            self.key = self._pack(self._unpack(self.key), bits)
            self.bits = bits
        key = np.concatenate([self.key, self._pack(numbers, bits)])
        sums = np.concatenate([self.sums, frame[self.values].to_numpy(dtype=np.float64)])
        self.key, inverse = np.unique(key, return_inverse=True)
        self.sums = np.column_stack([np.bincount(inverse, weights=sums[:, j], minlength=len(self.key))
                                     for j in range(len(self.values))]).reshape(len(self.key), len(self.values))

    def _pack(self, numbers: list[np.ndarray], bits: list[int]) -> np.ndarray:
        key = np.zeros(len(numbers[0]) if numbers else 0, dtype=np.int64)
        for number, width in zip(numbers, bits):
            key = (key << width) | number
        return key

    def _unpack(self, key: np.ndarray) -> list[np.ndarray]:
        numbers = []
        for width in reversed(self.bits):
            numbers.append(key & ((1 << width) - 1))
            key = key >> width
        return numbers[::-1]

    def frame(self) -> pd.DataFrame:
        """The sums so far: one row per combination, sorted by the keys."""
        if self._frames is not None:
            return sum_by(pd.concat(self._frames, ignore_index=True), self.keys, self.values)
        if self.dtypes is None:
            return pd.DataFrame(columns=self.keys + self.values)
        out = {}
        for name, number, table in zip(self.keys, self._unpack(self.key), self.numbers):
            values = np.empty(len(table), dtype=object)
            values[list(table.values())] = list(table.keys())
            out[name] = pd.Series(values[number]).astype(self.dtypes[name])
        for j, name in enumerate(self.values):
            out[name] = self.sums[:, j]
        return pd.DataFrame(out).sort_values(self.keys, kind="stable").reset_index(drop=True)


__all__ = ["Tally", "sum_by"]
