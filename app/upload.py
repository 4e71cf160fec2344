"""The upload page: an activity file goes through the same ingest as `gapmap ingest`, and the page
shows its validation report. The datasets page lists what is held, with who uploaded it, and lets
its owner (or an analyst of its ICB, or an admin) remove it. Uploads and removals are audited."""
from __future__ import annotations

import errno
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from app import params
from app.auth import audit, current_user, may_change
from geo.store.datasets import DatasetError, DatasetStore
from geo.ingest.pipeline import BREAKDOWNS, IngestError, IngestOptions, format_report, ingest
from geo.sources.nhs_indicators import catalogue

bp = Blueprint("upload", __name__)


def _scrub(message: str, *paths) -> str:
    from app.security_headers import scrub_paths

    return current_app.extensions["gapmap_scrub"](scrub_paths(message, *paths))


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    indicators = catalogue().to_dict("records")
    if request.method == "GET":
        return render_template("upload.html", indicators=indicators, breakdowns=BREAKDOWNS)

    def refuse(errors, status=400):
        return render_template("upload.html", indicators=indicators, breakdowns=BREAKDOWNS, errors=errors), status

    file = request.files.get("file")
    name = request.form.get("name", "").strip()
    errors = []
    if file is None or not file.filename:
        errors.append("Choose a file to upload (CSV, XLSX or Parquet).")
    if not name:
        errors.append("Give the dataset a name, e.g. ae-2024.")
    if errors:
        return refuse(errors)
    user = current_user()
    datasets = DatasetStore(params.store())
    if name in datasets.names() and not may_change(user, datasets.get(name).meta):
        audit("upload", "refused", f"{name}: not theirs to replace")
        return refuse([f"A dataset called {name!r} exists and was uploaded by someone else: only they, analysts "
                       f"of their ICB or an admin may replace it. Choose another name."], 403)
    options = IngestOptions(
        name=name, shape=request.form.get("shape") or None,
        by=tuple(b for b in BREAKDOWNS if request.form.get(f"by_{b}")),
        measure=request.form.get("measure") or None,
        higher_is_worse=request.form.get("polarity", "higher-is-worse") == "higher-is-worse",
        nhs_indicator=request.form.get("nhs_indicator") or None,
        synthetic=True if request.form.get("synthetic") else None,
        owner=user.name, owner_icb=user.icb)
    original = Path(file.filename).name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(file.filename) or "upload.csv")
        try:
            file.save(path)
            result = ingest(path, options, params.store())
        except (IngestError, DatasetError, ValueError) as exc:
            message = _scrub(str(exc).replace(str(path), original), tmp)
            audit("upload", "refused", f"{name} from {original}: {message}")
            return refuse([message])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            audit("upload", "failed", f"{name} from {original}: disk full")
            return refuse(["The server's disk is full, so the dataset could not be saved; nothing was changed. "
                           "Ask whoever runs Gapmap to free some space."], 507)
    audit("upload", "ok", f"{name} from {original}: {result.report['rows_used']:,} of "
                          f"{result.report['rows_read']:,} rows used")
    rows = result.rows_not_used.head(200).to_dict("records")
    not_listed = (result.report.get("rows_not_listed") or {}).get("rows", 0)
    return render_template("upload_report.html", name=name, report=result.report, meta=result.meta,
                           text=format_report(result.report, name), rows=rows,
                           total_rows=len(result.rows_not_used) + not_listed)


@bp.get("/datasets")
def datasets():
    user = current_user()
    metas = DatasetStore(params.store()).list()
    rows = [{**m, "may_change": may_change(user, m)} for m in metas]
    return render_template("datasets.html", datasets=rows, message=request.args.get("message"))


@bp.post("/datasets/<name>/remove")
def remove(name):
    store = DatasetStore(params.store())
    try:
        meta = store.get(name).meta
    except DatasetError as exc:
        abort(404, description=str(exc))
    if not may_change(current_user(), meta):
        audit("remove", "refused", f"{name}: not theirs")
        abort(403, description=f"Only whoever uploaded {name!r}, analysts of their ICB or an admin may remove it.")
    store.remove(name)
    audit("remove", "ok", name)
    return redirect(url_for("upload.datasets", message=f"Removed {name}."))
