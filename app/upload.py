"""The upload page: an activity file goes through the same ingest as `gapmap ingest`, and the page
shows its validation report."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, render_template, request
from werkzeug.utils import secure_filename

from app import params
from geo.store.datasets import DatasetError
from geo.ingest.pipeline import BREAKDOWNS, IngestError, IngestOptions, format_report, ingest
from geo.sources.nhs_indicators import catalogue

bp = Blueprint("upload", __name__)


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    indicators = catalogue().to_dict("records")
    if request.method == "GET":
        return render_template("upload.html", indicators=indicators, breakdowns=BREAKDOWNS)
    file = request.files.get("file")
    name = request.form.get("name", "").strip()
    errors = []
    if file is None or not file.filename:
        errors.append("Choose a file to upload (CSV, XLSX or Parquet).")
    if not name:
        errors.append("Give the dataset a name, e.g. ae-2024.")
    if errors:
        return render_template("upload.html", indicators=indicators, breakdowns=BREAKDOWNS, errors=errors), 400
    options = IngestOptions(
        name=name, shape=request.form.get("shape") or None,
        by=tuple(b for b in BREAKDOWNS if request.form.get(f"by_{b}")),
        measure=request.form.get("measure") or None,
        higher_is_worse=request.form.get("polarity", "higher-is-worse") == "higher-is-worse",
        nhs_indicator=request.form.get("nhs_indicator") or None,
        synthetic=True if request.form.get("synthetic") else None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(file.filename) or "upload.csv")
        file.save(path)
        try:
            result = ingest(path, options, params.store())
        except (IngestError, DatasetError, ValueError) as exc:
            return render_template("upload.html", indicators=indicators, breakdowns=BREAKDOWNS,
                                   errors=[str(exc)]), 400
    rows = result.rows_not_used.head(200).to_dict("records")
    return render_template("upload_report.html", name=name, report=result.report, meta=result.meta,
                           text=format_report(result.report, name), rows=rows,
                           total_rows=len(result.rows_not_used))
