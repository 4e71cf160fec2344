"""Polygons as a map at a given level draws them: simplified together as one coverage, so
neighbouring LSOAs keep a shared border, with the coordinate precision each level opens at."""
from __future__ import annotations

from geo.build.simplified import DECIMALS, coverage_simplify  # one definition, used at build and here


def simplify(frame, level: str):
    """Simplify the polygons together so neighbours keep a shared border. Coordinates are rounded
    when written (``decimals`` in ``frame.attrs``), alike for shared vertices, so borders stay shared.
    (The LSOAs of a map are simplified at ``gapmap data build``: see :mod:`geo.build.simplified`.)"""
    frame = frame.copy()
    frame["geometry"] = coverage_simplify(frame.geometry.values, level)
    frame.attrs["decimals"] = DECIMALS[level]
    return frame
