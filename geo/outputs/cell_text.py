"""Text that cannot attack whoever opens the file: one rule for every CSV, XLSX and PowerPoint
deck Gapmap writes (the decks' chart workbooks included).

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
as a formula (``=HYPERLINK("http://evil.example","x")``), and python-pptx writes a chart's
categories and series names into the workbook embedded in the deck the same way. Names of
places, datasets, periods and measures come from uploaded files, so :func:`neutralise` gives such
text a leading apostrophe (the spreadsheet convention for "this is text"). Numbers and other
values pass unchanged.
"""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` with a leading ``'`` when it is text that starts with = + - @ tab or CR; any other
    value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame):
    """A copy of ``frame`` with every text cell (and column name) neutralised."""
    out = frame.map(neutralise) if len(frame.columns) else frame.copy()
    out.columns = [neutralise(c) for c in out.columns]
    return out
