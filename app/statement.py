"""The /statement pages: the health inequalities statement of an ICB (or place) as a web report, with
its PowerPoint deck and its numbers (CSV, XLSX) to download.

The statement is computed once per store build, datasets version and extent, and kept (a few at a
time); the web pages leave out the map images (the map page shows the hot spots live) so that a
request costs the statistics only: the by-group tables of each indicator with data (at most 23).
"""
from __future__ import annotations

import io
import tempfile
import threading
from pathlib import Path

from flask import Blueprint, Response, abort, url_for

from app import params

bp = Blueprint("statement", __name__)
_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()


def _statement():
    from geo.views.analysis import AnalysisError

    extent = params.extent()
    if extent.level not in ("icb", "lad"):
        abort(400, description="a statement is made for an ICB (?icb=) or a place (?lad=)")
    store = params.store()
    key = (store.identity, store.version_key(), extent.level, extent.code)  # build and dataset versions
    with _locks_guard:  # one computation per statement at a time; others wait for its result
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        try:
            return STATEMENTS.memo(key, lambda: _build(*key)), extent
        except (AnalysisError, ValueError) as exc:
            abort(400, description=str(exc))


def _make_statement_cache():
    from geo.views.cache_budget import LruEntries

    return LruEntries(max_entries=4, max_bytes=128 << 20, name="statements")  # and the one budget of every cache


STATEMENTS = _make_statement_cache()


def _build(store_identity: str, version: str, level: str, code: str):
    from geo.views import statement
    from geo.views import statement_targets
    from geo.views.analysis import Extent

    store = params.store()
    extent = Extent(level, code)
    return statement.build(store, extent, targets=tuple(statement_targets.default_groups(store, extent)))


def _query(extent) -> dict:
    return {extent.level: extent.code}


def _context(st, extent):
    from geo.outputs.statement_files import environment

    env = environment()
    query = _query(extent)

    def link(slug):
        return url_for("statement.index", **query) if slug == "index" else \
            url_for("statement.indicator", code=slug.upper(), **query)

    downloads = [("Deck (PowerPoint)", url_for("statement.download", kind="pptx", **query)),
                 ("Numbers (XLSX)", url_for("statement.download", kind="xlsx", **query)),
                 ("Numbers (CSV)", url_for("statement.download", kind="csv", **query))]
    return env, link, downloads


@bp.get("/statement")
def index():
    from geo.outputs.statement_files import page_context

    st, extent = _statement()
    env, link, downloads = _context(st, extent)
    html = env.get_template("statement/index.html").render(
        css_href=url_for("static", filename="css/statement.css"),
        **page_context(st, None, link, downloads=downloads))
    return Response(html, mimetype="text/html")


@bp.get("/statement/<code>")
def indicator(code: str):
    from geo.outputs.statement_files import page_context

    st, extent = _statement()
    section = next((s for s in st.with_data if s.code == code.upper()), None)
    if section is None:
        known = ", ".join(s.code for s in st.with_data) or "none"
        abort(404, description=f"no indicator {code!r} with data in this statement (with data: {known})")
    env, link, downloads = _context(st, extent)
    html = env.get_template("statement/indicator.html").render(
        css_href=url_for("static", filename="css/statement.css"),
        map_link=url_for("pages.map_page", indicator=section.dataset, **_query(extent)),
        **page_context(st, section, link, None, downloads))
    return Response(html, mimetype="text/html")


@bp.get("/statement/download.<kind>")
def download(kind: str):
    from geo.outputs import statement_deck
    from geo.outputs import statement_files as statement_output

    if kind not in ("pptx", "xlsx", "csv"):
        abort(404, description="downloads are pptx, xlsx and csv")
    st, extent = _statement()
    name = f"gapmap_statement_{extent.level}-{extent.code}"
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "pptx":
            path = statement_deck.write(st, Path(tmp) / "statement.pptx")
            mime = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        else:
            csv_path, xlsx_path = statement_output.write_tables(st, Path(tmp))
            path = csv_path if kind == "csv" else xlsx_path
            mime = "text/csv" if kind == "csv" else \
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        body = io.BytesIO(path.read_bytes())
    return Response(body.getvalue(), mimetype=mime,
                    headers={"Content-Disposition": f"attachment; filename={name}.{kind}"})
