"""The upload page: an activity file goes through the same ingest as `gapmap ingest`, and the page
shows its validation report.

The file's own synthetic label is kept: Parquet files carry it in their metadata, CSV and XLSX
files in the ``<file>.json`` sidecar that ``gapmap demo-data`` writes, which the form takes as a
second file. The "synthetic" box can add the label but never removes one the file carries.
A refused upload shows the form again as it was filled in, with messages that name the
uploaded file (never a path on the server) and the form's own fields.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from flask import Blueprint, render_template, request
from werkzeug.utils import secure_filename

from app import params
from geo.datasets import DatasetError
from geo.ingest import BREAKDOWNS, IngestError, IngestOptions, format_report, ingest
from geo.nhs_indicators import catalogue

bp = Blueprint("upload", __name__)

# the column roles the form lets a user name (the rest are found by their usual names)
COLUMN_FIELDS = {"lsoa": "LSOA code", "postcode": "Postcode", "count": "Count", "denominator": "Population",
                 "age": "Age", "age_band": "Age band", "sex": "Sex", "ethnicity": "Ethnic category", "date": "Date",
                 "period": "Period", "record_id": "Record id"}
SIDECAR_LIMIT = 1 << 20  # a label file is a few hundred bytes


def _page(errors=None, status=200):
    return render_template("upload.html", indicators=catalogue().to_dict("records"), breakdowns=BREAKDOWNS,
                           column_fields=COLUMN_FIELDS, form=request.form, errors=errors), status


def form_words(message: str, file_name: str, tmp: str) -> str:
    """An ingest message in the form's words: the uploaded file's name for the server path, and
    the form's "Column names" boxes for the CLI's ``--column ROLE=NAME``."""
    message = message.replace(str(Path(tmp) / secure_filename(file_name)), file_name).replace(tmp + "/", "")
    message = message.replace(tmp, "")

    def box(match):
        role = match.group(1)
        return f'the "{COLUMN_FIELDS[role]} column" box' if role in COLUMN_FIELDS else 'the "Column names" boxes'

    def roles(match):  # "no age or age_band column found": the boxes' own names
        words = [COLUMN_FIELDS.get(w, w) for w in match.group(1).split(" or ")]
        return f"no {' or '.join(words)} column found"

    message = re.sub(r"no ([a-z_]+(?: or [a-z_]+)*) column found", roles, message)
    message = re.sub(r"break down by ([a-z_]+)", lambda m: "break down by " + m.group(1).replace("_", " "), message)
    return re.sub(r"--column ([A-Za-z_]+)=NAME", box, message)


def _sidecar_label(upload, errors: list[str]) -> dict | None:
    """The ``<file>.json`` label file, checked: a JSON object, under 1 MB."""
    if upload is None or not upload.filename:
        return None
    raw = upload.read(SIDECAR_LIMIT + 1)
    if len(raw) > SIDECAR_LIMIT:
        errors.append(f"{upload.filename}: a label file is at most 1 MB; this one is larger.")
        return None
    try:
        label = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        errors.append(f"{upload.filename}: not a JSON label file ({exc}). Leave the label box empty or choose "
                      "the .json file written alongside the data.")
        return None
    if not isinstance(label, dict):
        errors.append(f"{upload.filename}: a label file holds a JSON object such as {{\"synthetic\": true}}.")
        return None
    return label


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    if request.method == "GET":
        return _page()
    file = request.files.get("file")
    name = request.form.get("name", "").strip()
    errors = []
    if file is None or not file.filename:
        errors.append("Choose a file to upload (CSV, XLSX or Parquet).")
    if not name:
        errors.append("Give the dataset a name, e.g. ae-2024.")
    label = _sidecar_label(request.files.get("sidecar"), errors)
    if errors:
        return _page(errors, 400)
    columns = {role: request.form.get(f"column_{role}", "").strip() for role in COLUMN_FIELDS}
    options = IngestOptions(
        name=name, shape=request.form.get("shape") or None,
        columns={role: column for role, column in columns.items() if column},
        by=tuple(b for b in BREAKDOWNS if request.form.get(f"by_{b}")),
        measure=request.form.get("measure") or None,
        higher_is_worse=request.form.get("polarity", "higher-is-worse") == "higher-is-worse",
        nhs_indicator=request.form.get("nhs_indicator") or None,
        synthetic=True if request.form.get("synthetic") else None)  # unticked: the file's own label
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(file.filename) or "upload.csv")
        file.save(path)
        if label is not None:  # where ingest looks for it, as beside a file on disk
            path.with_name(path.name + ".json").write_text(json.dumps(label))
        try:
            result = ingest(path, options, params.store())
        except (IngestError, DatasetError, ValueError) as exc:
            return _page([form_words(str(exc), file.filename, tmp)], 400)
        looks_synthetic = not result.meta.get("synthetic") and _demo_columns(path)
    rows = result.rows_not_used.head(200).to_dict("records")
    return render_template("upload_report.html", name=name, report=result.report, meta=result.meta,
                           text=format_report(result.report, name), rows=rows,
                           total_rows=len(result.rows_not_used), looks_synthetic=looks_synthetic)


def _demo_columns(path: Path) -> bool:
    """True when the file has exactly the columns `gapmap demo-data` writes. Real SUS extracts can
    have them too, so this asks the user rather than labelling the data."""
    from geo.synthetic import COLUMNS
    from geo.tabular_input import UnreadableFile, peek

    try:
        return list(peek(path).columns) == list(COLUMNS)
    except UnreadableFile:
        return False
