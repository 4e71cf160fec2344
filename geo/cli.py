"""The ``gapmap`` command."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

from geo import ATTRIBUTION, settings
from geo.sources.catalogue import SourceError, load_catalogue
from geo.store import open_store
from geo.store.folder import LEVELS, StoreError


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _mirror_option(func):
    return click.option(
        "--mirror", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Read the official files from this folder instead of the internet "
             "(default: $GAPMAP_MIRROR when set).")(func)


def _resolve_mirror(mirror: Path | None) -> Path | None:
    mirror = mirror.resolve() if mirror else settings.mirror_dir()
    if mirror is not None and not mirror.is_dir():
        raise click.ClickException(f"The mirror folder {mirror} does not exist.")
    return mirror


def _emit(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False)
    else:
        click.echo(frame.to_json(orient="records", indent=1, force_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gapmap")
def main():
    """Gapmap: maps of health inequality in England, by LSOA.

    \b
    Start here:
      gapmap data fetch        get the official files (or check a mirror)
      gapmap data build        join them into the embedded store
      gapmap areas --level lad summaries of places, wards or ICBs
      gapmap lsoas --icb E54000024   the LSOA table of an ICB

    The store lives in $GAPMAP_STORE (default var/store in the project); official files are
    downloaded to $GAPMAP_DOWNLOADS, or read from $GAPMAP_MIRROR when it is set.
    """


@main.group()
def data():
    """Official source files and the embedded store."""


@data.command("sources")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def data_sources(fmt):
    """List the catalogue: every dataset Gapmap reads, with its address and licence."""
    catalogue = load_catalogue()
    if fmt == "json":
        click.echo(json.dumps([vars(s) for s in catalogue.values()], indent=1, default=list))
        return
    for s in catalogue.values():
        click.echo(f"{s.id}\n  {s.title}\n  {s.publisher}; {s.licence}\n  {s.method}: {s.url or s.landing}\n"
                   f"  file: {s.path}" + (f"\n  note: {s.layout_note}" if s.layout_note else ""))


@data.command("fetch")
@_mirror_option
@click.option("--only", multiple=True, metavar="ID", help="Fetch only these sources (repeatable).")
@click.option("--strict", is_flag=True, help="Fail when a file differs from the catalogued checksum.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for a server.")
@click.option("--retries", type=int, default=3, show_default=True, help="Tries after the first failure.")
def data_fetch(mirror, only, strict, timeout, retries):
    """Download the official files into the downloads folder.

    With a mirror (--mirror or $GAPMAP_MIRROR) nothing is downloaded: each file is looked up
    in the mirror and checked against the catalogued checksum instead.
    """
    from geo.sources.fetch import Downloader, fetch_source, verify_mirror_source

    mirror = _resolve_mirror(mirror)
    catalogue = load_catalogue()
    unknown = [i for i in only if i not in catalogue]
    if unknown:
        raise click.ClickException(f"unknown source {', '.join(unknown)}; see `gapmap data sources`")
    chosen = [catalogue[i] for i in only] if only else list(catalogue.values())
    downloads = settings.downloads_dir()
    downloader = Downloader(timeout=timeout, retries=retries)
    problems = 0
    if mirror:
        click.echo(f"Checking the mirror at {mirror}")
    else:
        click.echo(f"Downloading into {downloads}")
    for source in chosen:
        try:
            result = (verify_mirror_source(source, mirror) if mirror
                      else fetch_source(source, downloads, downloader, strict=strict))
        except SourceError as exc:
            raise _fail(exc)
        problems += result.status in {"missing", "manual", "official-only"} or (strict and result.status == "changed")
        click.echo(f"  {result.status:<13} {source.id}: {result.message}")
    if problems:
        raise click.ClickException(f"{problems} source(s) are not ready; see above.")


@data.command("build")
@_mirror_option
@click.option("--icb", metavar="CODE", help="Keep only this ICB's LSOAs (ONS code like E54000024, or NHS code like QHG).")
@click.option("--lad", metavar="CODE", help="Keep only this local authority's LSOAs (e.g. E06000032 for Luton).")
@click.option("--quiet", is_flag=True, help="Print only where the store is.")
def data_build(mirror, icb, lad, quiet):
    """Join the sources into the embedded store (all of England by default).

    The build is written aside and replaces the current store only when complete, so an
    interrupted build leaves the previous store usable. Re-running gives the same store.
    """
    from geo.build.pipeline import BuildError, build

    mirror = _resolve_mirror(mirror)
    store = open_store()
    if not quiet:
        click.echo(f"Building the Gapmap store in {store.identity}" + (f" from the mirror {mirror}" if mirror else ""))
    if mirror is None:
        _fetch_missing(quiet)
    try:
        path = build(store, mirror=mirror, icb=icb, lad=lad, echo=None if quiet else click.echo)
    except (SourceError, BuildError, StoreError) as exc:
        raise _fail(exc)
    manifest = store.manifest()
    if not quiet:
        counts = manifest["counts"]
        click.echo(f"Built in {manifest['seconds']} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        click.echo(f"Reports (rows left out or flagged): " +
                   ", ".join(f"{k} {v:,}" for k, v in manifest["reports"].items()))
    click.echo(f"Store: {path}")


def _fetch_missing(quiet: bool) -> None:
    from geo.sources.fetch import Downloader, fetch_source
    from geo.sources.catalogue import locate

    downloads = settings.downloads_dir()
    for source in load_catalogue().values():
        try:
            locate(source, mirror=None, downloads=downloads)
        except SourceError:
            if not quiet:
                click.echo(f"  fetching {source.id} …")
            try:
                result = fetch_source(source, downloads, Downloader())
            except SourceError as exc:
                raise _fail(exc)
            if result.status in {"manual", "official-only"}:
                raise click.ClickException(f"{source.id}: {result.message}")


@data.command("publish")
@click.option("--from", "source", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder store to publish (default: $GAPMAP_STORE).")
@click.option("--database", "url", metavar="URL", default=None,
              help="The PostgreSQL database (default: $GAPMAP_DATABASE_URL).")
@click.option("--with-datasets", is_flag=True, help="Copy the folder store's datasets too.")
def data_publish(source, url, with_datasets):
    """Load the folder store's current build into PostgreSQL/PostGIS, in one transaction.

    Every table (LSOAs with their polygons, wards, places, ICBs, points, postcodes), every report
    and the manifest are loaded as one build with spatial indexes; readers see the previous
    build until it is complete. Then run Gapmap with GAPMAP_DATABASE_URL set.
    """
    from geo.store.folder import Store
    from geo.store.pg import DatabaseError
    from geo.store.postgis import PostgisStore, publish

    url = url or settings.database_url()
    if not url:
        raise click.ClickException("Say which database to publish to: --database URL or GAPMAP_DATABASE_URL "
                                   "(for example postgresql://gapmap@localhost/gapmap).")
    folder = Store(source)
    try:
        target = PostgisStore(url)
        click.echo(f"Publishing {folder.location()} to {target.identity}")
        where = publish(folder, target, echo=click.echo)
        if with_datasets:
            from geo.store.datasets import DatasetStore

            copies = DatasetStore(target)
            for name in DatasetStore(folder).names():
                dataset = DatasetStore(folder).get(name)
                meta = {k: v for k, v in dataset.meta.items() if k != "name"}
                copies.save(name, meta, dataset.rows_not_used(),
                            counts=dataset.counts() if dataset.kind == "lsoa" else None,
                            practices=dataset.practices() if dataset.kind == "practices" else None)
                click.echo(f"  dataset {name}")
    except (StoreError, DatabaseError) as exc:
        raise _fail(exc)
    click.echo(f"Store: {where}")


@data.command("status")
def data_status():
    """Where the store is, when it was built, what it holds."""
    store = open_store()
    try:
        manifest = store.manifest()
    except StoreError as exc:
        raise _fail(exc)
    click.echo(f"Store: {store.location()}")
    click.echo(f"Built: {manifest['built_at']} ({manifest['seconds']} s), scope: {manifest['scope']}")
    for key, value in manifest["counts"].items():
        click.echo(f"  {key:<14} {value:>8,}")
    click.echo("Reports: " + ", ".join(f"{k} ({v:,} rows)" for k, v in manifest["reports"].items()))
    click.echo(ATTRIBUTION)


@main.command("areas")
@click.option("--level", type=click.Choice(LEVELS), required=True, help="ward, lad (place) or icb.")
@click.option("--icb", metavar="CODE", help="Only areas with LSOAs in this ICB.")
@click.option("--lad", metavar="CODE", help="Only areas with LSOAs in this local authority.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def areas(level, icb, lad, fmt):
    """Deprivation summaries of wards, places (LADs) or ICBs, by MHCLG's definitions.

    Columns are described by `gapmap columns --table lad` (or ward, icb).
    """
    try:
        frame = open_store().areas(level, icb=_icb_code(icb), lad=lad)
    except StoreError as exc:
        raise _fail(exc)
    _emit(frame, fmt)


@main.command("lsoas")
@click.option("--icb", metavar="CODE", help="Only this ICB's LSOAs (E54000024 or QHG).")
@click.option("--lad", metavar="CODE", help="Only this local authority's LSOAs.")
@click.option("--columns", metavar="A,B,…", help="Only these columns (comma-separated).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def lsoas(icb, lad, columns, fmt):
    """The LSOA table without geometry. Columns are described by `gapmap columns`."""
    wanted = [c.strip() for c in columns.split(",")] if columns else None
    try:
        frame = open_store().lsoas(icb=_icb_code(icb), lad=lad, columns=wanted, geometry=False)
    except StoreError as exc:
        raise _fail(exc)
    _emit(frame, fmt)


@main.command("columns")
@click.option("--table", type=click.Choice(["lsoas", "ward", "lad", "icb"]), default="lsoas", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def columns(table, fmt):
    """Describe the columns of the LSOA table or of an area table."""
    from geo.store.schema import TABLES

    described = TABLES[table]()
    if fmt == "markdown":
        click.echo("| column | meaning |\n|---|---|")
        for name, text in described.items():
            click.echo(f"| `{name}` | {text} |")
        return
    width = max(map(len, described))
    for name, text in described.items():
        click.echo(f"{name:<{width}}  {text}")


@main.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name to keep the dataset under, e.g. ae-2024 (re-using a name replaces it).")
@click.option("--shape", type=click.Choice(["aggregated", "records", "fingertips"]),
              help="What one row is: counts per area, one event, or a Fingertips export. Detected when left out.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Say which column holds what, when the name is unusual: lsoa, postcode, count, denominator, "
                   "age, age_band, sex, ethnicity, date, period, record_id. Repeatable.")
@click.option("--by", "by", default="", metavar="A,B", help="Records: keep these breakdowns: age_band, sex, "
              "ethnic_group, period (aggregated files keep the ones they have).")
@click.option("--period-unit", type=click.Choice(["financial-year", "year", "quarter", "month"]),
              default="financial-year", show_default=True, help="Records: how --by period groups dates.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Reject events before this date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Reject events after this date.")
@click.option("--measure", help="What is counted, in words (e.g. 'A&E attendances').")
@click.option("--unit", default="count", show_default=True, help="Unit of the measure.")
@click.option("--higher-is-better", is_flag=True, help="Polarity: by default a higher value is worse.")
@click.option("--synthetic/--real", default=None, help="Label the data (default: read the file's own label).")
@click.option("--nhs-indicator", metavar="CODE", help="The NHS statement metric this dataset reports (e.g. UEC01).")
@click.option("--suppress-to", type=int, default=7, show_default=True,
              help="Disclosure control: counts from 1 to this are suppressed wherever the data is shown.")
@click.option("--round-to", type=int, default=5, show_default=True,
              help="Disclosure control: other counts are rounded to the nearest multiple of this.")
@click.option("--show-rows", type=int, default=10, show_default=True, help="How many unused rows to print.")
def ingest_command(file, name, shape, columns, by, period_unit, date_from, date_to, measure, unit,
                   higher_is_better, synthetic, nhs_indicator, suppress_to, round_to, show_rows):
    """Check an activity file row by row and keep it as a dataset.

    FILE is CSV (any common encoding and delimiter), XLSX or Parquet. Every row is either used
    or listed with its row number, column and reason; the totals reconcile.
    """
    from geo.store.datasets import DatasetError
    from geo.ingest.pipeline import IngestError, IngestOptions, format_report, ingest

    roles = {}
    for item in columns:
        role, sep, column = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write ROLE=NAME, e.g. count=Attendances", param_hint="--column")
        roles[role.strip()] = column.strip()
    options = IngestOptions(
        name=name, shape=shape, columns=roles, by=tuple(b.strip() for b in by.split(",") if b.strip()),
        period_unit=period_unit, date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None, measure=measure, unit=unit,
        higher_is_worse=not higher_is_better, synthetic=synthetic, nhs_indicator=nhs_indicator,
        disclosure={"suppress_to": suppress_to, "round_to": round_to})
    try:
        result = ingest(file, options, open_store())
    except (IngestError, DatasetError, StoreError, ValueError) as exc:
        raise _fail(exc)
    click.echo(format_report(result.report, name))
    rows = result.rows_not_used
    if len(rows) and show_rows:
        click.echo(f"First {min(show_rows, len(rows))} of {len(rows):,} rows not used or flagged "
                   f"(all of them: gapmap datasets rows {name}):")
        for r in rows.head(show_rows).itertuples():
            click.echo(f"  {file.name} row {r.row}, column {r.column or '-'}: {r.reason}")
    if result.meta.get("synthetic"):
        click.echo("This dataset is labelled SYNTHETIC.")


@main.group("datasets", invoke_without_command=True)
@click.pass_context
def datasets(ctx):
    """List the ingested datasets (subcommands: rm, rows)."""
    if ctx.invoked_subcommand is not None:
        return
    from geo.store.datasets import DatasetStore

    metas = DatasetStore(open_store()).list()
    if not metas:
        click.echo("No datasets yet: add one with `gapmap ingest FILE --name NAME`.")
        return
    for m in metas:
        r = m["report"]
        flag = " [SYNTHETIC]" if m.get("synthetic") else ""
        click.echo(f"{m['name']}{flag}: {m['measure']} ({m['shape']}, {m['source_file']}, {m['ingested_at']}); "
                   f"rows used {r['rows_used']:,} of {r['rows_read']:,}; counts {r['counts_used']:,.0f}")


@datasets.command("rm")
@click.argument("name")
def datasets_rm(name):
    """Remove a dataset."""
    from geo.store.datasets import DatasetError, DatasetStore

    try:
        DatasetStore(open_store()).remove(name)
    except DatasetError as exc:
        raise _fail(exc)
    click.echo(f"Removed {name}.")


@datasets.command("rows")
@click.argument("name")
def datasets_rows(name):
    """Print (as CSV) every row of a dataset's file that was not used or was flagged."""
    from geo.store.datasets import DatasetError, DatasetStore

    try:
        frame = DatasetStore(open_store()).get(name).rows_not_used()
    except DatasetError as exc:
        raise _fail(exc)
    frame.to_csv(sys.stdout, index=False)


@main.command("demo-data")
@click.option("--icb", required=True, metavar="CODE", help="ICB to draw the population from (E54000024 or QHG).")
@click.option("--rows", type=click.IntRange(1, 100_000_000), default=100_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--dirty", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of rows to spoil as real extracts are spoiled (bad codes, dates, ages, repeated ids).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV or .parquet file to write; a <file>.json sidecar labels it synthetic.")
def demo_data(icb, rows, seed, dirty, out):
    """Write SYNTHETIC record-level A&E attendances for an ICB, shaped like an SUS extract."""
    from geo.ingest import synthetic

    try:
        if rows > synthetic.PIECE_ROWS:  # too large to draw at once: written piece by piece
            synthetic.write_in_pieces(open_store(), _icb_code(icb), rows, out, seed=seed, dirty=dirty, echo=click.echo)
        else:
            table, meta = synthetic.generate(open_store(), _icb_code(icb), rows, seed=seed, dirty=dirty)
            synthetic.write(table, meta, out)
    except (StoreError, ValueError) as exc:
        raise _fail(exc)
    click.echo(f"Wrote {rows:,} SYNTHETIC attendances to {out} (labelled in {out.name}.json).")


@main.command("analyse")
@click.argument("indicator")
@click.option("--icb", metavar="CODE", help="Analyse this ICB's LSOAs (E54000024 or QHG).")
@click.option("--lad", metavar="CODE", help="Analyse this local authority's LSOAs.")
@click.option("--ward", metavar="CODE", help="Analyse this ward's LSOAs.")
@click.option("--stat", "statistic", default="local-moran", show_default=True,
              type=click.Choice(["local-moran", "gi-star", "bivariate", "moran", "classes", "bivariate-classes",
                                 "by-group"]),
              help="What to compute. by-group needs a dataset as INDICATOR.")
@click.option("--deprivation", default="imd_score", show_default=True,
              help="Deprivation measure for bivariate statistics: imd_score, a domain score, or a decile column.")
@click.option("--group", "grouping", default="imd_quintile", show_default=True,
              help="For by-group: imd_quintile, imd_decile, imd_quintile_in_icb, imd_quintile_in_lad, ..., "
                   "ethnic_group, ward24cd, lad24cd.")
@click.option("--permutations", type=click.IntRange(99, 99_999), default=999, show_default=True)
@click.option("--seed", type=int, default=12345, show_default=True, help="Same seed, same map.")
@click.option("--alpha", type=click.Choice(["0.05", "0.01", "0.001"]), default="0.05", show_default=True)
@click.option("--fdr", is_flag=True, help="Control the false discovery rate (Benjamini-Hochberg) instead.")
@click.option("--direction", type=click.Choice(["two-sided", "folded", "greater", "less"]), default="two-sided",
              show_default=True, help="Test direction of the permutation p-values (folded: GeoDa's).")
@click.option("--inference", type=click.Choice(["analytic", "permutation"]), default="analytic", show_default=True,
              help="Gi*: normal z-scores or conditional permutations.")
@click.option("--weights", "weights_kind", type=click.Choice(["queen", "rook", "knn", "distance"]), default="queen",
              show_default=True)
@click.option("--k", type=int, default=6, show_default=True, help="Neighbours for --weights knn.")
@click.option("--distance", "distance_m", type=float, help="Metres, for --weights distance.")
@click.option("--scheme", default="quantiles", show_default=True,
              help="classes: quantiles, fisher_jenks, equal_interval, std_mean, imd_deciles, imd_quintiles; "
                   "bivariate-classes: pink-blue, green-blue, blue-red, purple-gold.")
@click.option("--classes", "n_classes", type=int, default=5, show_default=True, help="Number of classes (3 or 4 "
              "for bivariate-classes).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def analyse(indicator, icb, lad, ward, statistic, deprivation, grouping, permutations, seed, alpha, fdr, direction,
            inference, weights_kind, k, distance_m, scheme, n_classes, fmt):
    """Hot spots, clusters, classes and inequality for INDICATOR over an extent (England by default).

    INDICATOR is an LSOA column (imd_score, acute_morbidity_indicator, see `gapmap columns`) or an
    ingested dataset (see `gapmap datasets`). Method details go to stderr; results to stdout.
    """
    from geo.views import analysis

    extent = _extent(icb, lad, ward)
    store = open_store()
    try:
        if statistic == "moran":
            result = analysis.global_moran(store, indicator, extent, permutations, seed, direction, weights_kind)
            click.echo(json.dumps(result, indent=1))
            return
        if statistic in ("local-moran", "gi-star", "bivariate"):
            frame = analysis.local_statistic(store, indicator, extent, statistic, deprivation, permutations, seed,
                                             float(alpha), fdr, direction, inference, weights_kind, k, distance_m)
            frame = frame.reset_index()
        elif statistic == "classes":
            frame = analysis.classes(store, indicator, extent, scheme, n_classes)
        elif statistic == "bivariate-classes":
            frame = analysis.bivariate(store, indicator, extent, deprivation, n_classes if n_classes in (3, 4) else 3,
                                       scheme if scheme != "quantiles" else "pink-blue")
        else:
            frame = analysis.by_group(store, indicator, extent, grouping)
    except (analysis.AnalysisError, StoreError, ValueError) as exc:
        raise _fail(exc)
    attrs = {k: v for k, v in frame.attrs.items()}
    click.echo(json.dumps(attrs, default=str), err=True)
    if attrs.get("synthetic"):
        click.echo("SYNTHETIC DATA: these results are drawn from made-up records.", err=True)
    click.echo(ATTRIBUTION, err=True)
    _emit(frame.drop(columns=["geometry"], errors="ignore"), fmt)


@main.command("export")
@click.argument("indicator")
@click.option("--icb", metavar="CODE")
@click.option("--lad", metavar="CODE")
@click.option("--ward", metavar="CODE")
@click.option("--format", "fmt", type=click.Choice(["geojson", "gpkg", "csv", "html"]), default="geojson",
              show_default=True, help="html: the map as one self-contained file that opens with no network.")
@click.option("--scheme", default="quantiles", show_default=True, help="Classes, as on the map.")
@click.option("--classes", "n_classes", type=int, default=5, show_default=True)
@click.option("--table", type=click.Choice(["lsoa", "ward"]), default="lsoa", show_default=True,
              help="CSV only: one row per LSOA, or per ward.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to write into; the file name says what is inside.")
def export(indicator, icb, lad, ward, fmt, scheme, n_classes, table, out_dir):
    """Write what the map of INDICATOR shows, per LSOA, as GeoJSON (RFC 7946), GeoPackage or CSV,
    with its metadata, attribution and licence; counts from activity datasets pass disclosure control."""
    from geo.views import analysis
    from geo.outputs import exports

    extent = _extent(icb, lad, ward)
    try:
        if fmt == "html":
            from app.map_layers import offline_page

            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / exports.file_name(indicator, extent, "html")
            path.write_text(offline_page(open_store(), indicator, extent, scheme, n_classes), encoding="utf-8")
            click.echo(f"Wrote {path} (opens with no network)")
            return
        if table == "ward":
            if fmt != "csv":
                raise click.UsageError("--table ward is written as CSV")
            frame, meta = exports.ward_table(open_store(), indicator, extent)
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / exports.file_name(f"{indicator}_wards", extent, "csv")
            path.write_text(exports.to_csv(frame, meta), encoding="utf-8")
            click.echo(f"Wrote {len(frame):,} wards to {path}")
            return
        frame, meta = exports.export_table(open_store(), indicator, extent, scheme, n_classes)
        path = exports.write(frame, meta, fmt, out_dir, indicator, extent)
    except (analysis.AnalysisError, StoreError, ValueError) as exc:
        raise _fail(exc)
    click.echo(f"Wrote {len(frame):,} LSOAs to {path}" + (" (SYNTHETIC DATA)" if meta.get("synthetic") else ""))


@main.command("slide")
@click.argument("indicator")
@click.option("--icb", metavar="CODE")
@click.option("--lad", metavar="CODE")
@click.option("--ward", metavar="CODE")
@click.option("--view", type=click.Choice(["indicator", "hotspots", "clusters", "bivariate", "deciles-local"]),
              default="indicator", show_default=True, help="What the map shows.")
@click.option("--format", "fmt", type=click.Choice(["png", "print", "svg"]), default="png", show_default=True,
              help="png: 1920x1080; print: PNG at 300 dpi; svg.")
@click.option("--title", help="A title of your own.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True)
def slide(indicator, icb, lad, ward, view, fmt, title, out_dir):
    """Draw a slide-ready map image of INDICATOR (no browser needed)."""
    from geo.views import analysis
    from geo.outputs import slides

    extent = _extent(icb, lad, ward)
    try:
        path = slides.render(open_store(), indicator, extent, view, fmt, out_dir, title)
    except (analysis.AnalysisError, StoreError, ValueError) as exc:
        raise _fail(exc)
    click.echo(f"Wrote {path}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--threads", type=int, default=8, show_default=True, help="Threads per process.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes (more than 1: gunicorn, Linux and macOS). Their caches follow the store's "
                   "build and datasets, so every worker sees a new build or dataset at once.")
def serve(host, port, threads, workers):
    """Run the web service: waitress in one process, or gunicorn with --workers N."""
    from app import create_app

    store = open_store()
    try:
        store.manifest()
    except StoreError as exc:
        raise _fail(exc)
    click.echo(f"Gapmap on http://{host}:{port}/ (store {store.location()}, {workers} process(es))")
    if workers > 1:
        from app.workers import WorkersUnavailable, serve_workers

        try:
            serve_workers(host, port, workers, threads)
        except WorkersUnavailable as exc:
            raise _fail(exc)
        return
    from waitress import serve as waitress_serve

    waitress_serve(create_app(), host=host, port=port, threads=threads)


def _extent(icb: str | None, lad: str | None, ward: str | None):
    """The extent named by one of --icb, --lad and --ward (England when none is given)."""
    from geo.views import analysis

    chosen = [(lvl, code) for lvl, code in (("icb", _icb_code(icb)), ("lad", lad), ("ward", ward)) if code]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --icb, --lad and --ward")
    return analysis.Extent(*chosen[0]) if chosen else analysis.Extent()


def _icb_code(code: str | None) -> str | None:
    """Accept an ICB's NHS code (QHG) as well as its ONS code (E54000024)."""
    if not code or code.upper().startswith("E54"):
        return code
    store = open_store()
    frame = store.areas("icb")
    match = frame[frame["icb24cdh"].str.upper() == code.upper()]
    if match.empty:
        raise click.ClickException(f"unknown ICB {code!r}; ICB codes look like E54000024 or QHG")
    return match["icb24cd"].iloc[0]


if __name__ == "__main__":
    main()
