"""Sum a table's value columns per combination of its key columns, by integer codes.

The same result as ``frame.groupby(keys, sort=True, dropna=False)[values].sum().reset_index()``
(one row per combination present, sorted by the keys, text keys in Python's order), made by
numbering each key column's distinct values in sorted order, combining the numbers into one
64-bit key and summing with ``bincount``: several times quicker than grouping on text columns,
which the ingest of a large file does once per chunk.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    over integers (:meth:`add_coded`: a table whose keys are numbered already, without the
    ``factorize``), and text is made once, by :meth:`frame`. Memory is one row per combination."""

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
        columns = []
        for name in self.keys:
            code, unique = pd.factorize(frame[name], use_na_sentinel=False)
            columns.append((unique.tolist(), code))
        self._add(columns, frame[self.values].to_numpy(dtype=np.float64), lambda: frame[self.keys + self.values])

    def add_coded(self, table: "Coded") -> None:
        """Add a :class:`Coded` table (its key columns already numbered, as a streamed chunk's
        counts are): the same as :meth:`add` of ``table.frame()``, without making its text."""
        if not len(table):
            return
        if self.dtypes is None:
            self.dtypes = {c: table.dtypes[c] for c in self.keys}
        if self._frames is not None:
            self._frames.append(table.frame()[self.keys + self.values])
            return
        columns = [(table.keys[name][0].tolist(), table.keys[name][1]) for name in self.keys]
        sums = np.column_stack([table.values[name] for name in self.values]).astype(np.float64, copy=False)
        self._add(columns, sums.reshape(len(table), len(self.values)), lambda: table.frame()[self.keys + self.values])

    def _add(self, columns: list[tuple[list, np.ndarray]], sums: np.ndarray, as_frame) -> None:
        """Add rows given per key column as (distinct values, each row's index into them), with
        their ``sums`` (rows x values); ``as_frame()`` is the rows as a table (kept whole when the
        combinations outgrow 64 bits)."""
        numbers = []
        for (unique, code), table in zip(columns, self.numbers):
            number = np.array([table.setdefault(u, len(table)) for u in unique], dtype=np.int64)
            numbers.append(number[code])
        bits = [max(old, max(len(t) - 1, 1).bit_length()) for old, t in zip(self.bits, self.numbers)]
        if sum(bits) > 63:  # too many combinations for one integer: sum the tables at the end instead
            self._frames = [self.frame(), as_frame()]
            return
        if bits != self.bits:
            self.key = self._pack(self._unpack(self.key), bits)
            self.bits = bits
        key = np.concatenate([self.key, self._pack(numbers, bits)])
        sums = np.concatenate([self.sums, sums])
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
        """The sums so far: one row per combination, sorted by the keys. Each key column's distinct
        values are put in order once (as ``sort_values`` orders them: missing last) and the rows by
        those ranks, so text is made once per row, by one ``take``."""
        if self._frames is not None:
            return sum_by(pd.concat(self._frames, ignore_index=True), self.keys, self.values)
        if self.dtypes is None:
            return pd.DataFrame(columns=self.keys + self.values)
        numbers = self._unpack(self.key)
        distinct, ranks = [], []
        for name, number, table in zip(self.keys, numbers, self.numbers):
            values = np.empty(len(table), dtype=object)
            values[list(table.values())] = list(table.keys())
            column = pd.Series(values).astype(self.dtypes[name])  # the distinct values only
            rank = pd.Categorical(column, ordered=True).codes.astype(np.int64)  # sort_values' order
            rank[rank < 0] = len(table)  # missing values last
            distinct.append(column)
            ranks.append(rank[number])
        order = np.lexsort(ranks[::-1]) if ranks else np.arange(len(self.key))  # the first key sorts first
        out = {name: pd.Series(column.array.take(number[order])) for name, column, number in
               zip(self.keys, distinct, numbers)}
        for j, name in enumerate(self.values):
            out[name] = self.sums[order, j]
        return pd.DataFrame(out)


@dataclass
class Coded:
    """A table held as numbers: each key column as (its distinct values, each row's index into
    them), each value column as an array, with the types the key columns take as text or numbers
    (``dtypes``) and the columns' order (``columns``). A streamed chunk's counts are kept so, to be
    summed by :meth:`Tally.add_coded` without making their text."""

    keys: dict[str, tuple[np.ndarray, np.ndarray]]
    values: dict[str, np.ndarray]
    dtypes: dict[str, object]
    columns: list[str]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0

    def distinct(self, name: str) -> int:
        """How many distinct values the rows have in key column ``name``."""
        unique, code = self.keys[name]
        return len(set(np.asarray(unique, dtype=object)[np.unique(code)].tolist()))

    def frame(self) -> pd.DataFrame:
        """The rows as a table, in their order (a key column as its type)."""
        out = {}
        for name in self.columns:
            if name in self.keys:
                unique, code = self.keys[name]
                column = pd.Series(np.asarray(unique, dtype=object)).astype(self.dtypes[name])
                out[name] = pd.Series(column.array.take(np.asarray(code, dtype=np.int64)))
            else:
                out[name] = np.asarray(self.values[name], dtype=np.float64)
        return pd.DataFrame(out, columns=self.columns)


__all__ = ["Coded", "Tally", "sum_by"]
