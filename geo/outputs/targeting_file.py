"""A targeting list (:func:`geo.views.targeting.answer`) as the CSV a team opens in a spreadsheet:
the SYNTHETIC DATA line first when any dataset behind it is made up, the question in words and the
disclosure rule of each dataset used, the rows (no cell can start a formula), then the notes and the
licence attribution. ``/targeting.csv``, ``gapmap target`` and the statement's
``statement_targets.csv`` all write this."""
from __future__ import annotations

import pandas as pd

from geo import ATTRIBUTION
from geo.outputs.cell_text import neutralise_frame

SYNTHETIC_LINE = "SYNTHETIC DATA: made-up records, not real activity."


def header_lines(attrs: dict) -> list[str]:
    lines = [SYNTHETIC_LINE] if attrs.get("synthetic") else []
    if attrs.get("question"):
        lines.append(f"Targeting: {', '.join(attrs.get('points', []))} in {attrs['question']}"
                     + (f" ({attrs['lsoas']:,} of {attrs['of_lsoas']:,} LSOAs)" if "lsoas" in attrs else ""))
    elif attrs.get("points"):  # several questions (the statement's): each row's group column says which
        lines.append(f"Targeting: {', '.join(attrs['points'])} in each group named in the group column")
    for name, rule in (attrs.get("datasets") or {}).items():
        lines.append(f"Dataset {name}: {rule}" if rule else f"Dataset {name}")
    return lines


def csv_text(table: pd.DataFrame) -> str:
    head = "".join(f"# {line}\n" for line in header_lines(table.attrs))
    tail = "".join(f"# Note: {note}\n" for note in table.attrs.get("notes", []))
    return head + neutralise_frame(table).to_csv(index=False) + tail + f"# {ATTRIBUTION}\n"
