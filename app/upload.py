"""The upload page: an activity file goes through the same ingest as `gapmap ingest`, and the page
shows its validation report. The datasets page lists what is held, with who uploaded it, and lets
its owner (or an analyst of its ICB, or an admin) remove it. Uploads and removals are audited.

The file's own synthetic label is kept: Parquet files carry it in their metadata, CSV and XLSX
files in the ``<file>.json`` sidecar that ``gapmap demo-data`` writes, which the form takes as a
second file. The "synthetic" box can add the label but never removes one the file carries.
A refused upload shows the form again as it was filled in, with messages that name the
uploaded file (never a path on the server) and the form's own fields.
"""
from __future__ import annotations

import errno
import json
import re
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from app import params
from app.auth import audit, current_user, may_change
from geo.errors import GapmapError
from geo.ingest.pipeline import BREAKDOWNS, IngestOptions, describe_file, format_report, ingest
from geo.ingest.wide import KINDS as WIDE_KINDS
from geo.sources.nhs_indicators import catalogue
from geo.store.dataset_scope import unscoped
from geo.store.datasets import DatasetError, DatasetStore

bp = Blueprint("upload", __name__)

# the column roles the form lets a user name (the rest are found by their usual names)
COLUMN_FIELDS = {"lsoa": "LSOA code", "postcode": "Postcode", "count": "Count", "denominator": "Population",
                 "age": "Age", "age_band": "Age band", "sex": "Sex", "ethnicity": "Ethnic category", "date": "Date",
                 "period": "Period", "record_id": "Record id", "outcome": "Outcome (yes/no)",
                 "practice": "GP practice code"}
DEFINITION_FIELDS = ("measure_type", "ages", "sex", "standardisation", "period_type")
SIDECAR_LIMIT = 1 << 20  # a label file is a few hundred bytes


CHECK_LIMIT = 64 << 20  # the "check the file" step reads a CSV's first part, or a workbook or Parquet whole


def _page(errors=None, status=200):
    return render_template("upload.html", indicators=catalogue().to_dict("records"), breakdowns=BREAKDOWNS,
                           column_fields=COLUMN_FIELDS, wide_kinds=WIDE_KINDS, form=request.form,
                           errors=errors), status


def _header_row(errors: list[str]) -> int | None:
    text = (request.form.get("header_row") or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 20:
        errors.append(f"Header row {text!r}: give the number of the row the column names are on, from 1 (the "
                      f"file's first row) to 20, or leave it empty to have it found.")
        return None
    return int(text)


def _scrub(message: str, *paths) -> str:
    from app.security_headers import scrub_paths

    return current_app.extensions["gapmap_scrub"](scrub_paths(message, *paths))


def form_words(message: str, file_name: str, tmp: str) -> str:
    """An ingest message in the form's words: the uploaded file's name for the server path, no
    server folder, and the form's "Column names" boxes for the CLI's ``--column ROLE=NAME``."""
    message = message.replace(str(Path(tmp) / secure_filename(file_name)), file_name).replace(tmp + "/", "")
    message = _scrub(message.replace(tmp, ""), tmp)

    def roles(match):  # "no age or age_band column found": the boxes' own names
        words = [COLUMN_FIELDS.get(w, w) for w in match.group(1).split(" or ")]
        return f"no {' or '.join(words)} column found"

    message = re.sub(r"no ([a-z_]+(?: or [a-z_]+)*) column found", roles, message)
    return option_words(message)


def option_words(message: str) -> str:
    """The CLI's options in a message or report, as the upload form's boxes."""

    def box(match):
        role = match.group(1)
        return f'the "{COLUMN_FIELDS[role]} column" box' if role in COLUMN_FIELDS else 'the "Column names" boxes'

    message = re.sub(r"break down by ([a-z_]+)", lambda m: "break down by " + m.group(1).replace("_", " "), message)
    message = re.sub(r"--registrations(?: [\w.-]+\.csv| FILE)?", 'the "Registrations by LSOA" box', message)
    message = re.sub(r"--measure-type (\w+)", r'the "Measure type" box (\1)', message)
    message = re.sub(r"\(--by [a-z_,]+ keeps them\)", '(tick them under "Keep these breakdowns")', message)
    message = re.sub(r"--header-row (?:N|\d+)", 'the "Header row" box', message)
    message = re.sub(r"Give --wide ([a-z_]+)", r'Choose "\1" in the "Wide file" box', message)
    message = re.sub(r"\(--wide ([a-z_]+)\)", r'("\1" in the "Wide file" box)', message)
    message = re.sub(r"--wide ([a-z_]+)", r'the "Wide file" box (\1)', message)
    message = re.sub(r"--multiplier N(?: \(e\.g\. --multiplier \d+\))?", 'the "Per" box', message)
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
    header_row = _header_row(errors)
    wide = request.form.get("wide") or None
    if wide is not None and wide not in WIDE_KINDS:
        errors.append(f"Wide file {wide!r}: choose what the count columns are named by: {', '.join(WIDE_KINDS)}.")
    if errors:
        return _page(errors, 400)
    user = current_user()
    datasets = DatasetStore(params.store())
    if name in DatasetStore(unscoped(params.store())).names():
        if name not in datasets.names():  # another ICB's: its existence is not theirs to know
            audit("upload", "refused", f"{name}: the name is another ICB's dataset")
            return _page([f"The name {name!r} cannot be used: choose another name."], 403)
        if not may_change(user, datasets.get(name).meta):
            audit("upload", "refused", f"{name}: not theirs to replace")
            return _page([f"A dataset called {name!r} exists and was uploaded by someone else: only they, "
                          f"analysts of their ICB or an admin may replace it. Choose another name."], 403)
    columns = {role: request.form.get(f"column_{role}", "").strip() for role in COLUMN_FIELDS}
    multiplier = (request.form.get("multiplier") or "").strip().replace(",", "")
    if multiplier and not multiplier.isdigit():
        return _page([f"Per {multiplier!r}: choose 100 (%), 1,000, 10,000, 100,000 or 1,000,000."], 400)
    multiplier = int(multiplier) if multiplier else None
    options = IngestOptions(
        name=name, shape=request.form.get("shape") or None,
        columns={role: column for role, column in columns.items() if column},
        by=tuple(b for b in BREAKDOWNS if request.form.get(f"by_{b}")),
        measure=request.form.get("measure") or None,
        higher_is_worse=request.form.get("polarity", "higher-is-worse") == "higher-is-worse",
        nhs_indicator=request.form.get("nhs_indicator") or None,
        synthetic=True if request.form.get("synthetic") else None,  # unticked: the file's own label
        owner=user.name, owner_icb=user.icb, multiplier=multiplier, header_row=header_row, wide=wide,
        **{f: (request.form.get(f) or "").strip() or None for f in DEFINITION_FIELDS})
    registrations = request.files.get("registrations")
    original = Path(file.filename).name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(file.filename) or "upload.csv")
        try:
            file.save(path)
            if label is not None:  # where ingest looks for it, as beside a file on disk
                path.with_name(path.name + ".json").write_text(json.dumps(label))
            if registrations is not None and registrations.filename:
                folder = Path(tmp) / "registrations"
                folder.mkdir()
                options.registrations = folder / (secure_filename(registrations.filename) or "registrations.csv")
                registrations.save(options.registrations)
            result = ingest(path, options, params.store())
        except (GapmapError, ValueError) as exc:
            message = form_words(str(exc), file.filename, tmp)
            audit("upload", "refused", f"{name} from {original}: {message}")
            return _page([message], 400)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            audit("upload", "failed", f"{name} from {original}: disk full")
            return _page(["The server's disk is full, so the dataset could not be saved; nothing was changed. "
                          "Ask whoever runs Gapmap to free some space."], 507)
        looks_synthetic = not result.meta.get("synthetic") and _demo_columns(path)
    audit("upload", "ok", f"{name} from {original}: {result.report['rows_used']:,} of "
                          f"{result.report['rows_read']:,} rows used")
    rows = result.rows_not_used.head(200).to_dict("records")
    not_listed = (result.report.get("rows_not_listed") or {}).get("rows", 0)
    return render_template("upload_report.html", name=name, report=result.report, meta=result.meta,
                           text=option_words(format_report(result.report, name)), rows=rows,
                           total_rows=len(result.rows_not_used) + not_listed, looks_synthetic=looks_synthetic)


@bp.post("/upload/check")
def check():
    """The "check the file" step: what the chosen file holds (its columns, the row taken as the
    header, the breakdowns it can keep, wide columns), as JSON, so the form ticks the breakdowns
    the file has before it is uploaded (static/js/upload-form.js). Nothing is stored. A CSV may
    be sent in part: only its first rows are read."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return jsonify({"error": "Choose a file to check (CSV, XLSX or Parquet)."}), 400
    errors: list[str] = []
    header_row = _header_row(errors)
    if errors:
        return jsonify({"error": errors[0]}), 400
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (secure_filename(file.filename) or "upload.csv")
        raw = file.read(CHECK_LIMIT + 1)
        if len(raw) > CHECK_LIMIT:
            if path.suffix.lower() in (".xlsx", ".xlsm", ".parquet"):
                return jsonify({"error": f"{file.filename} is too large to check before it is uploaded; upload it "
                                         f"and read its report."}), 413
            raw = raw[:raw.rfind(b"\n", 0, CHECK_LIMIT) + 1] or raw[:CHECK_LIMIT]
        path.write_bytes(raw)
        try:
            described = describe_file(path, header_row=header_row)
        except GapmapError as exc:
            return jsonify({"error": form_words(str(exc), file.filename, tmp)}), 400
    words = {b: b.replace("_", " ") for b in BREAKDOWNS}
    found = described["breakdowns"]
    described["message"] = (
        f"{file.filename}: column names on row {described['header_row']}"
        + (" (the rows above are titles)" if described["header_found"] else "")
        + (f"; it has {', '.join(words[b] + ' (' + ', '.join(c) + ')' for b, c in found.items())}, ticked below"
           if found and described["shape"] == "records" else "")
        + (f"; a column per {next(iter(described['wide'])).replace('_', ' ')}: chosen under \"Wide file\""
           if described["wide"] else "") + ".")
    return jsonify(described)


def _demo_columns(path: Path) -> bool:
    """True when the file has exactly the columns `gapmap demo-data` writes. Real SUS extracts can
    have them too, so this asks the user rather than labelling the data."""
    from geo.ingest.reading import UnreadableFile, peek
    from geo.ingest.synthetic import DEMO_COLUMN_SETS

    try:
        return list(peek(path).columns) in [list(c) for c in DEMO_COLUMN_SETS]
    except UnreadableFile:
        return False


@bp.get("/datasets")
def datasets():
    user = current_user()
    metas = DatasetStore(params.store()).list()
    rows = [{**m, "may_change": may_change(user, m)} for m in metas]
    return render_template("datasets.html", datasets=rows, message=request.args.get("message"),
                           may_share=bool(user and user.can("admin")))


@bp.post("/datasets/<name>/remove")
def remove(name):
    store = DatasetStore(params.store())
    try:
        meta = store.get(name).meta
    except DatasetError as exc:  # unknown, or another ICB's: the same answer (the log says which)
        if name in DatasetStore(unscoped(params.store())).names():
            audit("remove", "refused", f"{name}: another ICB's dataset")
        abort(404, description=str(exc))
    if not may_change(current_user(), meta):
        audit("remove", "refused", f"{name}: not theirs")
        abort(403, description=f"Only whoever uploaded {name!r}, analysts of their ICB or an admin may remove it.")
    store.remove(name)
    audit("remove", "ok", name)
    return redirect(url_for("upload.datasets", message=f"Removed {name}."))


@bp.post("/datasets/<name>/share")
def share(name):
    """An admin marks a dataset shared (seen by users of every ICB) or not (its ICB's only)."""
    store = DatasetStore(params.store())
    shared = request.form.get("shared", "1") == "1"
    try:
        store.set_shared(name, shared)
    except DatasetError as exc:
        abort(404, description=str(exc))
    audit("share", "ok", f"{name}: {'shared with every ICB' if shared else 'its ICB only'}")
    return redirect(url_for("upload.datasets", message=f"{name} is now {'shared with every ICB' if shared else 'seen by its ICB only'}."))
