"""The ``gapmap`` command."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geo import ATTRIBUTION, settings
from geo.errors import GapmapError
from geo.sources.catalogue import SourceError, load_catalogue
from geo.store import open_store
from geo.store.folder import LEVELS, Store  # light: pandas and pyarrow are imported where used


class GapmapGroup(click.Group):
    """The one place the CLI handles errors: any :class:`GapmapError` (an unknown place, a bad
    file, an option a statistic cannot take) is printed as ``Error: <message>`` with exit status 1;
    anything else is a bug and shows its traceback."""

    def invoke(self, ctx):
        import errno

        try:
            return super().invoke(ctx)
        except GapmapError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # a full disk is reported in words, not as a traceback
            if exc.errno != errno.ENOSPC:
                raise
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"The disk is full{where}: nothing was changed. Free some space (or point "
                                       f"GAPMAP_STORE at a larger disk) and run the command again.") from None


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


def _emit(frame, fmt: str) -> None:
    """Print ``frame`` (a pandas DataFrame) as CSV or JSON records."""
    if fmt == "csv":
        from geo.outputs.cell_text import neutralise_frame

        neutralise_frame(frame).to_csv(sys.stdout, index=False)
    else:
        click.echo(frame.to_json(orient="records", indent=1, force_ascii=False))


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _accounts():
    from geo.store import open_accounts

    store = open_store()
    return open_accounts(store if getattr(store, "url", None) else Store())


def _audit(event: str, outcome: str, detail: str) -> None:
    """Record a dataset change made on the command line; a log that cannot be written is reported,
    and does not undo the change."""
    import sqlite3

    try:
        _accounts().audit(event, _cli_actor(), outcome, detail)
    except (sqlite3.Error, OSError) as exc:
        click.echo(f"Warning: could not write the audit log ({exc}).", err=True)


@click.group(cls=GapmapGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    downloaded to $GAPMAP_DOWNLOADS, or read from $GAPMAP_MIRROR when it is set. Where nothing
    can be downloaded, install a store pack: `gapmap data unpack FILE` or GAPMAP_STORE_PACK=FILE.
    """
    if settings.store_pack() is not None:  # a pack made elsewhere, installed once
        from geo.store.pack import install_from_env

        try:
            installed = install_from_env()
        except GapmapError as exc:
            raise click.ClickException(f"GAPMAP_STORE_PACK: {exc}")
        if installed:
            click.echo(f"Installed the store pack {settings.store_pack()} (build {installed['build_id']})", err=True)


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
                   f"  file: {s.path}" + (f"\n  note: {s.layout_note}" if s.layout_note else "")
                   + (f"\n  official layout: {s.official['layout']}" if s.official.get("layout") else "")
                   + ("\n  optional: the build goes on without it, and says so" if s.optional else "")
                   + (f"\n  layout confirmed: {s.layout_confirmed}" if s.layout_confirmed else ""))


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
    from geo.sources.fetch import Downloader, FetchResult, fetch_source, verify_mirror_source

    mirror = _resolve_mirror(mirror)
    catalogue = load_catalogue()
    unknown = [i for i in only if i not in catalogue]
    if unknown:
        raise click.ClickException(f"unknown source {', '.join(unknown)}; see `gapmap data sources`")
    # in the catalogue's order: some sources are reshaped with others (hospitals with Code-Point Open)
    chosen = [s for s in catalogue.values() if not only or s.id in only]
    downloads = settings.downloads_dir()
    downloader = Downloader(timeout=timeout, retries=retries)
    problems = 0
    if mirror:
        click.echo(f"Checking the mirror at {mirror}")
    else:
        click.echo(f"Downloading into {downloads}")
    for source in chosen:
        if source.ingest_only and source.id not in only:  # read by `gapmap ingest` when given, never by the build
            click.echo(f"  {'on request':<13} {source.id}: read by `gapmap ingest` when you give it; get it "
                       f"from {source.landing}")
            continue
        try:
            result = (verify_mirror_source(source, mirror) if mirror
                      else fetch_source(source, downloads, downloader, strict=strict))
        except SourceError as exc:
            if not source.optional:
                raise
            result = FetchResult(source, None, "absent", f"not fetched ({exc}); it is optional: the build goes on "
                                                         f"without it and says so")
        problems += result.status in {"missing", "manual"} or (strict and result.status == "changed")
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
    from geo.build.pipeline import build

    mirror = _resolve_mirror(mirror)
    store = open_store()
    if not quiet:
        click.echo(f"Building the Gapmap store in {store.identity}" + (f" from the mirror {mirror}" if mirror else ""))
    if mirror is None:
        _fetch_missing(quiet)
    path = build(store, mirror=mirror, icb=icb, lad=lad, echo=None if quiet else click.echo)
    manifest = store.manifest()
    if not quiet:
        counts = manifest["counts"]
        click.echo(f"Built in {manifest['seconds']} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        click.echo("Reports (rows left out or flagged): " +
                   ", ".join(f"{k} {v:,}" for k, v in manifest["reports"].items()))
    click.echo(f"Store: {path}")


def _fetch_missing(quiet: bool) -> None:
    from geo.sources.fetch import Downloader, fetch_source
    from geo.sources.catalogue import locate

    downloads = settings.downloads_dir()
    for source in load_catalogue().values():
        if source.ingest_only:
            continue
        try:
            locate(source, mirror=None, downloads=downloads)
        except SourceError:
            if not quiet:
                click.echo(f"  fetching {source.id} …")
            try:
                result = fetch_source(source, downloads, Downloader())
            except SourceError as exc:
                if not source.optional:
                    raise
                click.echo(f"  {source.id} not fetched ({exc}); it is optional: building without it", err=True)
                continue
            if result.status == "manual":
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
    from geo.store.postgis import PostgisStore, publish

    url = url or settings.database_url()
    if not url:
        raise click.ClickException("Say which database to publish to: --database URL or GAPMAP_DATABASE_URL "
                                   "(for example postgresql://gapmap@localhost/gapmap).")
    folder = Store(source)
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
    click.echo(f"Store: {where}")


@data.command("status")
def data_status():
    """Where the store is, when it was built, what it holds."""
    store = open_store()
    manifest = store.manifest()
    click.echo(f"Store: {store.location()}")
    click.echo(f"Built: {manifest['built_at']} ({manifest['seconds']} s), scope: {manifest['scope']}")
    for key, value in manifest["counts"].items():
        click.echo(f"  {key:<14} {value:>8,}")
    click.echo("Reports: " + ", ".join(f"{k} ({v:,} rows)" for k, v in manifest["reports"].items()))
    if manifest.get("population_for_summaries"):
        click.echo(f"Area summaries weighted by: {manifest['population_for_summaries']}")
    for note in manifest.get("notes", []):
        click.echo(f"Note: {note}")
    click.echo(ATTRIBUTION)


@data.command("pack")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default gapmap-store-<build>.tar here; .tar.gz compresses it).")
@click.option("--with-datasets", is_flag=True,
              help="Include the activity datasets (`gapmap datasets`). They may hold health data: carry the "
                   "pack as such.")
def data_pack(out, with_datasets):
    """Write the built store as one file to carry to a machine that cannot download the sources.

    The pack holds the current build (and, with --with-datasets, the activity datasets) and a
    manifest with the SHA-256 of every file. Install it with `gapmap data unpack FILE` or by
    starting Gapmap with GAPMAP_STORE_PACK=FILE.
    """
    from geo.store.pack import pack

    store = Store()
    build_id = store.manifest()["build_id"]
    out = out or Path(f"gapmap-store-{build_id}.tar")
    manifest = pack(store, out, datasets=with_datasets)
    size = out.stat().st_size
    click.echo(f"Packed build {manifest['build_id']} ({manifest['scope']}), {len(manifest['files'])} files"
               + (f" and datasets {', '.join(manifest['datasets'])}" if manifest["datasets"] else "")
               + f": {out} ({size / 1e6:,.1f} MB)")
    click.echo("On the other machine: gapmap data unpack " + out.name)


@data.command("unpack")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Only check that the pack is whole; install nothing.")
def data_unpack(file, check_only):
    """Install a store pack made by `gapmap data pack` as the current store.

    Every file is checked against the pack's manifest before the store changes; a truncated,
    corrupt or partial pack is refused and the store stays as it was.
    """
    from geo.store.pack import check, unpack

    store = Store()
    if check_only:
        manifest = check(file)
        click.echo(f"{file}: whole: build {manifest['build_id']} ({manifest['scope']}), "
                   f"{len(manifest['files'])} files match their checksums")
        return
    manifest = unpack(file, store)
    click.echo(f"Installed build {manifest['build_id']} ({manifest['scope']}, built {manifest['built_at']} "
               f"by Gapmap {manifest.get('gapmap_version', '?')}) into {store.root}"
               + (f", with datasets {', '.join(manifest['datasets'])}" if manifest["datasets"] else ""))


AREA_MEASURES = {"imd": "imd", "income": "income", "employment": "employment", "education": "education",
                 "health": "health", "crime": "crime", "barriers": "barriers", "living": "living_environment",
                 "living_environment": "living_environment"}


@main.command("areas")
@click.option("--level", type=click.Choice(LEVELS), required=True, help="ward, lad (place) or icb.")
@click.option("--icb", metavar="CODE", help="Only areas with LSOAs in this ICB.")
@click.option("--lad", metavar="CODE", help="Only areas with LSOAs in this local authority.")
@click.option("--measure", "measures", default="imd", show_default=True, metavar="M[,M...]",
              help="Which summaries: imd, income, employment, education, health, crime, barriers, living "
                   "(Living Environment), comma-separated, or all (the IMD and the seven domains).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def areas(level, icb, lad, measures, fmt):
    """Deprivation summaries of wards, places (LADs) or ICBs, by MHCLG's definitions (IoD2025
    Files 10 and 13), of the IMD and of each of its seven domains.

    Each row holds the area's code and name, its LSOAs, its population (and which population
    weighted it) and, for each --measure: average score, average rank, extent, local
    concentration and the proportion of its LSOAs in the most deprived 10% nationally, with each
    one's rank among the areas of the level (1 = most deprived). The IMD's columns are
    average_score ... rank_local_concentration; a domain's carry its name in front
    (income_average_score, rank_income_extent, living_environment_local_concentration). Columns
    are described by `gapmap columns --table lad` (or ward, icb).
    """
    from geo.build.deprivation_summaries import DOMAIN_MEASURES, measure_columns

    asked = [m.strip().lower() for m in measures.split(",") if m.strip()]
    unknown = [m for m in asked if m not in AREA_MEASURES and m != "all"]
    if unknown or not asked:
        raise click.UsageError(f"unknown --measure {', '.join(unknown) or repr(measures)}: choose from "
                               f"{', '.join(k for k in AREA_MEASURES if k != 'living_environment')}, or all")
    chosen = list(DOMAIN_MEASURES) if "all" in asked else list(dict.fromkeys(AREA_MEASURES[m] for m in asked))
    if icb and lad:
        raise click.UsageError("choose one of --icb and --lad")
    frame = open_store().areas(level, icb=_place("icb", icb), lad=_place("lad", lad))
    every = {c for d in DOMAIN_MEASURES for c in measure_columns(d)}
    wanted = [c for d in chosen for c in measure_columns(d)]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise click.ClickException("this store was built before Gapmap summarised the domains (it lacks "
                                   f"{missing[0]}): rebuild it with `gapmap data build` for --measure "
                                   f"{', '.join(d for d in chosen if d != 'imd')}")
    keep = [c for c in frame.columns if c not in every] + wanted
    _emit(frame[keep], fmt)


@main.command("lsoas")
@click.option("--icb", metavar="CODE", help="Only this ICB's LSOAs (E54000024 or QHG).")
@click.option("--lad", metavar="CODE", help="Only this local authority's LSOAs.")
@click.option("--columns", metavar="A,B,…", help="Only these columns (comma-separated).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def lsoas(icb, lad, columns, fmt):
    """The LSOA table without geometry. Columns are described by `gapmap columns`."""
    wanted = [c.strip() for c in columns.split(",")] if columns else None
    if icb and lad:
        raise click.UsageError("choose one of --icb and --lad")
    frame = open_store().lsoas(icb=_place("icb", icb), lad=_place("lad", lad), columns=wanted, geometry=False)
    _emit(frame, fmt)


@main.command("columns")
@click.option("--table", type=click.Choice(["lsoas", "ward", "lad", "icb", "population_by_age", "population_by_sex_age"]),
              default="lsoas", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True)
def columns(table, fmt):
    """Describe the columns of the LSOA table, an area table or a population table."""
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
@click.option("--shape", type=click.Choice(["aggregated", "records", "fingertips", "practice"]),
              help="What one row is: counts per area, one event, a Fingertips practice export, or a GP practice's "
                   "numerator and denominator. Detected when left out.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Say which column holds what, when the name is unusual: lsoa, postcode, count, denominator, "
                   "age, age_band, sex, ethnicity, date, period, record_id, outcome (records: yes/no per row, "
                   "e.g. preterm; every row is in the denominator), practice (a GP practice code). Repeatable.")
@click.option("--by", "by", default="", metavar="A,B", help="Records: keep these breakdowns: age_band, sex, "
              "ethnic_group, period (aggregated files keep the ones they have).")
@click.option("--period-unit", type=click.Choice(["financial-year", "year", "quarter", "month"]),
              default="financial-year", show_default=True, help="Records: how --by period groups dates.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Reject events before this date.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Reject events after this date.")
@click.option("--measure", help="What is counted, in words (e.g. 'A&E attendances').")
@click.option("--unit", default="count", show_default=True,
              help="The figure's unit, applied as the multiplier: '%', 'per 1,000', 'per 10,000', 'per 100,000', "
                   "'per 1,000,000' (others are refused: use --multiplier).")
@click.option("--measure-type", type=click.Choice(["rate", "proportion", "ratio", "count"]),
              help="What the indicator is (default: the --nhs-indicator's definition, else a rate).")
@click.option("--ages", metavar="0-17|18+|all", help="The population at risk's ages; records outside them are listed "
              "as not used (default: the --nhs-indicator's, else all).")
@click.option("--sex", "population_sex", type=click.Choice(["persons", "male", "female"]),
              help="Who is at risk (default: the --nhs-indicator's, else persons).")
@click.option("--standardisation", type=click.Choice(["none", "age", "age-sex"]),
              help="Crude, or directly standardised by age or by age and sex (ESP 2013).")
@click.option("--multiplier", type=int, metavar="N", help="Per N: 100 (%), 1,000, 100,000 ... (or say it with --unit).")
@click.option("--period-type", type=click.Choice(["year", "snapshot"]),
              help="year: rates per year of data; snapshot: a proportion at one point.")
@click.option("--registrations", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="GP practice files: NHS England's patients registered at each practice by LSOA "
                   "(gp-reg-pat-prac-lsoa-all.csv), to share each practice's values among its patients' LSOAs.")
@click.option("--higher-is-better", is_flag=True, help="Polarity: by default a higher value is worse.")
@click.option("--synthetic/--real", default=None, help="Label the data (default: read the file's own label).")
@click.option("--nhs-indicator", metavar="CODE", help="The NHS statement metric this dataset reports (e.g. UEC01).")
@click.option("--suppress-to", type=click.IntRange(0, 1000), default=None,
              help="Disclosure control: counts from 1 to this are suppressed wherever the data is shown "
                   "[default: the server's floor, GAPMAP_MIN_SUPPRESS, 7 unless set; a lower number is refused].")
@click.option("--round-to", type=click.IntRange(1, 1000), default=None,
              help="Disclosure control: other counts are rounded to the nearest multiple of this "
                   "[default: GAPMAP_MIN_ROUND, 5 unless set; a lower number is refused].")
@click.option("--wide", type=click.Choice(["period", "sex", "age_band", "ethnic_group"]),
              help="A wide file, with a count column per period (LSOA, 2021/22, 2022/23, ...) or per group (LSOA, "
                   "Male, Female): read each such column as the count of the period or group its name says.")
@click.option("--header-row", type=click.IntRange(1, 20), metavar="N",
              help="The row the column names are on, counting the file's first row as 1 (default: found below "
                   "any title rows of a CSV or XLSX; the report says which row was taken).")
@click.option("--show-rows", type=int, default=10, show_default=True, help="How many unused rows to print.")
@click.option("--icb", metavar="CODE", help="The ICB whose data this is (E54000024 or QHG): its users see the "
              "dataset on a shared server. Without it only admins do, until `gapmap datasets share NAME`.")
def ingest_command(file, name, shape, columns, by, period_unit, date_from, date_to, measure, unit, measure_type,
                   ages, population_sex, standardisation, multiplier, period_type, registrations,
                   higher_is_better, synthetic, nhs_indicator, suppress_to, round_to, wide, header_row, show_rows, icb):
    """Check an activity file row by row and keep it as a dataset.

    FILE is CSV (any common encoding and delimiter), XLSX or Parquet. Every row is either used
    or listed with its row number, column and reason; the totals reconcile.

    The indicator's definition (measure type, ages, sex, standardisation, multiplier, period) is
    the --nhs-indicator's shipped one, with the definition options given over it.
    """
    from geo.ingest.pipeline import IngestOptions, format_report, ingest

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
        measure_type=measure_type, ages=ages, sex=population_sex, standardisation=standardisation,
        multiplier=multiplier, period_type=period_type, registrations=registrations,
        higher_is_worse=not higher_is_better, synthetic=synthetic, nhs_indicator=nhs_indicator,
        disclosure={k: v for k, v in (("suppress_to", suppress_to), ("round_to", round_to)) if v is not None} or None,
        owner=_cli_actor(), owner_icb=_icb_code(icb) if icb else None, header_row=header_row, wide=wide)
    try:
        result = ingest(file, options, open_store())
    except GapmapError as exc:
        _audit("upload", "refused", f"{name} from {file.name}: {exc}")
        raise
    _audit("upload", "ok", f"{name} from {file.name}")
    click.echo(format_report(result.report, name))
    definition = result.meta["definition"]
    years = result.meta.get("years_of_data")
    click.echo(f"  indicator: {definition['measure_type']} {result.meta['unit']} "
               f"(standardisation {definition['standardisation']}); years of data: "
               f"{'unknown' if years is None else f'{years:g}'}")
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
        flag = (" [SYNTHETIC]" if m.get("synthetic") else "") + (" [shared]" if m.get("shared") else "")
        owner = f", by {m['owner']}" + (f" ({m['owner_icb']})" if m.get("owner_icb") else "") if m.get("owner") else ""
        click.echo(f"{m['name']}{flag}: {m['measure']} ({m['shape']}, {m['source_file']}, {m['ingested_at']}{owner}); "
                   f"rows used {r['rows_used']:,} of {r['rows_read']:,}; counts {r['counts_used']:,.0f}")


@datasets.command("share")
@click.argument("name")
@click.option("--off", is_flag=True, help="Stop sharing: only the dataset's ICB (and admins) see it again.")
def datasets_share(name, off):
    """Let users of every ICB see a dataset (national open data, or data its ICB agreed to share)."""
    from geo.store.datasets import DatasetStore

    DatasetStore(open_store()).set_shared(name, not off)
    _audit("share", "ok", f"{name}: {'its ICB only' if off else 'shared with every ICB'}")
    click.echo(f"{name} is now {'seen by its ICB only' if off else 'shared with every ICB'}.")


@datasets.command("rm")
@click.argument("name")
def datasets_rm(name):
    """Remove a dataset."""
    from geo.store.datasets import DatasetStore

    DatasetStore(open_store()).remove(name)
    _audit("remove", "ok", name)
    click.echo(f"Removed {name}.")


@datasets.command("rows")
@click.argument("name")
def datasets_rows(name):
    """Print (as CSV) every row of a dataset's file that was not used or was flagged."""
    from geo.store.datasets import DatasetStore

    from geo.outputs.cell_text import neutralise_frame

    frame = DatasetStore(open_store()).get(name).rows_not_used()
    neutralise_frame(frame).to_csv(sys.stdout, index=False)  # the file's own values: no cell starts a formula


@main.command("demo-data")
@click.option("--icb", required=True, metavar="CODE", help="ICB to draw the population from (E54000024 or QHG).")
@click.option("--rows", type=click.IntRange(1, 100_000_000), default=100_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--dirty", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of rows to spoil as real extracts are spoiled (bad codes, dates, ages, repeated ids).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="CSV or .parquet file to write; a <file>.json sidecar labels it synthetic. With --indicators, "
                   "a folder.")
@click.option("--indicators", metavar="CODES", help="Instead of A&E attendances, write SYNTHETIC files of these NHS "
              "statement indicators, each shaped as its definition says (comma-separated, or 'all': UEC01, CVD01, "
              "ORA01, MAT01 births with a preterm flag, RES02 flu uptake per LSOA, CVD03 per GP practice with a "
              "synthetic registrations file).")
@click.option("--ingest", "do_ingest", is_flag=True, help="With --indicators: also ingest each file, attached to its "
              "indicator, ready for `gapmap statement`.")
def demo_data(icb, rows, seed, dirty, out, indicators, do_ingest):
    """Write SYNTHETIC record-level A&E attendances for an ICB, shaped like an SUS extract.

    With --indicators, SYNTHETIC records of NHS statement indicators instead (--rows and --dirty
    do not apply to them and are refused), for example:

    \b
      gapmap demo-data --icb QHG --indicators all --ingest --out demo/
      gapmap statement --icb QHG --out statement/
    """
    from geo.ingest import synthetic

    if indicators:
        _demo_indicators(icb, seed, out, indicators, do_ingest, rows_given=click.get_current_context()
                         .get_parameter_source("rows").name != "DEFAULT", dirty=dirty)
        return
    if do_ingest:
        raise click.UsageError("--ingest goes with --indicators")
    if out.is_dir():
        raise click.UsageError(f"--out {out} is a folder; give a .csv or .parquet file to write")
    if rows > synthetic.PIECE_ROWS:  # too large to draw at once: written piece by piece
        synthetic.write_in_pieces(open_store(), _icb_code(icb), rows, out, seed=seed, dirty=dirty, echo=click.echo)
    else:
        table, meta = synthetic.generate(open_store(), _icb_code(icb), rows, seed=seed, dirty=dirty)
        synthetic.write(table, meta, out)
    click.echo(f"Wrote {rows:,} SYNTHETIC attendances to {out} (labelled in {out.name}.json).")


def _demo_indicators(icb, seed, out, indicators, do_ingest, rows_given, dirty):
    from geo.ingest import synthetic
    from geo.ingest.pipeline import IngestOptions, ingest

    if rows_given or dirty:
        raise click.UsageError("--rows and --dirty apply to A&E attendances, not to --indicators profiles")
    codes = list(synthetic.DEMO_INDICATORS) if indicators.strip().lower() == "all" else \
        [c.strip().upper() for c in indicators.split(",") if c.strip()]
    unknown = [c for c in codes if c not in synthetic.DEMO_INDICATORS]
    if unknown:
        raise click.UsageError(f"no demo profile for {', '.join(unknown)}; profiles: "
                               f"{', '.join(synthetic.DEMO_INDICATORS)}")
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"--out {out} is a file; with --indicators give a folder")
    store = open_store()
    for made in synthetic.demo_indicators(store, _icb_code(icb), codes, out, seed=seed):
        indicator, path = made["code"], made["path"]
        click.echo(f"Wrote {made['rows']:,} SYNTHETIC rows of {indicator} to {path} (labelled in {path.name}.json)")
        if "registrations" in made["options"]:
            click.echo(f"  with SYNTHETIC registrations by LSOA in {made['options']['registrations']}")
        if do_ingest:
            name = f"demo-{indicator.lower()}"
            options = IngestOptions(name=name, measure=made["measure"], synthetic=True, nhs_indicator=indicator,
                                    owner=_cli_actor(), owner_icb=_icb_code(icb),  # seen by that ICB's users
                                    **made["options"])
            result = ingest(path, options, store)
            report = result.report
            click.echo(f"  ingested as {name} (attached to {indicator}: {result.meta['unit']}); rows used "
                       f"{report['rows_used']:,} of {report['rows_read']:,}, {report['rows_rejected']:,} listed as "
                       f"not used; years of data {result.meta['years_of_data']}")


@main.command("statement")
@click.option("--icb", metavar="CODE", help="The ICB (E54000024 or QHG).")
@click.option("--lad", metavar="CODE", help="Or a local authority (place).")
@click.option("--indicator", "codes", multiple=True, metavar="CODE",
              help="Only these NHS indicators (repeatable; default: all 23, those without data listed as such).")
@click.option("--target", "targets", multiple=True, metavar="GROUP",
              help="Targeting questions to list schools, wards and GP practices for (repeatable), as `gapmap "
                   "target --where` takes them: e.g. most-deprived-40, core20, hotspots:ORA01, \"most-deprived-40 "
                   "and hotspots:ORA01\". Default: most-deprived-40 and the hot spots of ORA01 when it has data (of its smoothed "
                   "view, smoothed-hotspots:ORA01, where more than half of the LSOA counts are hidden).")
@click.option("--points", "points", multiple=True, metavar="TYPE[,TYPE]",
              help="What the targeting lists hold, as `gapmap target --points` (default: primary, secondary, "
                   "special, gp-practices, wards).")
@click.option("--no-maps", is_flag=True, help="Leave out the hot-spot map images (faster).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report, deck and tables into.")
@click.option("--force", is_flag=True, help="Replace a statement already in the --out folder (without it, the "
                                            "command stops and leaves it alone).")
def statement_command(icb, lad, codes, targets, points, no_maps, out_dir, force):
    """Write the statement on information on health inequalities: a web report (a page per
    indicator), a PowerPoint deck with native charts, and CSV/XLSX of every number."""
    import time
    import warnings

    from geo.outputs import statement_files as statement_output

    started = time.perf_counter()
    if not icb and not lad:
        raise click.UsageError("name the ICB (--icb QHG) or a place (--lad E06000032)")
    if not force:
        statement_output.refuse_to_replace_statement(out_dir)
    extent = _extent(icb, lad, None)
    with warnings.catch_warnings(record=True) as caught:  # said once each, in words, after the files
        warnings.simplefilter("always")
        _write_statement(extent, codes, targets, points, no_maps, out_dir, started)
    for note in statement_output.plain_notes(caught):
        click.echo(f"Note: {note}", err=True)


def _write_statement(extent, codes, targets, points, no_maps, out_dir, started):
    """The statement's work for `gapmap statement` (its warnings caught by the caller)."""
    import time

    from geo.views import statement
    from geo.outputs import statement_files as statement_output
    from geo.views import statement_targets

    codes = [c.strip().upper() for c in codes]
    for c in codes:
        from geo.sources.nhs_indicators import check

        check(c)
    store = open_store()
    if not targets:
        targets = statement_targets.default_groups(store, extent)
    for t in targets:
        statement_targets.check_group(t)
    from geo.views.targeting import check_points

    result = statement.build(store, extent, codes or None, targets=tuple(targets), points=check_points(points))
    if not no_maps:
        statement_output.draw_maps(result, store, out_dir / "maps", replace=True)  # (refused above, or --force)
    paths = statement_output.write_all(result, out_dir)
    for kind, path in paths.items():
        click.echo(f"  {kind:<8} {path}")
    click.echo(f"Statement for {result.place}: {len(result.with_data)} indicator(s) with data, "
               f"{len(result.without_data)} with no data attached, in {time.perf_counter() - started:.1f} s"
               + (" (SYNTHETIC DATA)" if result.synthetic else ""))


@main.command("target")
@click.option("--icb", metavar="CODE", help="The ICB (E54000024 or QHG).")
@click.option("--lad", metavar="CODE", help="Or a local authority (place).")
@click.option("--ward", metavar="CODE", help="Or a ward.")
@click.option("--where", "question", required=True, metavar="QUESTION",
              help="Which LSOAs: groups joined with and / or / not and brackets. Groups: most-deprived-20 and "
                   "most-deprived-40 (of the ICB, or of the place for --lad/--ward), local-quintile:1-2, "
                   "local-decile:1-3, quintile:1, decile:1-2 (national), core20, hotspots:CODE, coldspots:CODE, "
                   "smoothed-hotspots:CODE, clusters:CODE (CODE: an NHS indicator code such as ORA01, a dataset "
                   "or an LSOA column), rural, urban. E.g. \"most-deprived-40 and hotspots:ORA01\".")
@click.option("--points", "points", multiple=True, metavar="TYPE[,TYPE]",
              help="What to list (repeatable or comma-separated): primary, secondary, special (state-funded "
                   "schools), alternative-provision, nursery, post-16, independent, colleges, other-schools, "
                   "gp-practices, hospitals, wards, or all. Default: primary, secondary, special, gp-practices, "
                   "wards.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table: readable lines; csv: the same file as the map's 'Download the full list'; json: "
                   "the rows with the question and notes.")
def target_command(icb, lad, ward, question, points, fmt):
    """The schools, GP practices, hospitals and wards in the LSOAs that answer a targeting question,
    each with its reasons: the same list as the map's targeting list, /targeting.csv and the
    statement's "Where to act" for the same question. Hot spots and clusters are the map's own,
    computed from the published (disclosure-controlled) counts.

    \b
    Example: state-funded primary schools in Bedford's ORA01 hot spots that are in its 40% most
    deprived LSOAs:
      gapmap target --lad E06000055 --where "most-deprived-40 and hotspots:ORA01" --points primary
    """
    from geo.outputs.targeting_file import csv_text, header_lines
    from geo.views import targeting

    extent = _extent(icb, lad, ward)
    table = targeting.answer(open_store(), extent, question, targeting.check_points(points))
    if fmt == "csv":
        click.echo(csv_text(table), nl=False)
        return
    if fmt == "json":
        from geo.views.map_table import json_rows

        click.echo(json.dumps({**{k: table.attrs[k] for k in ("question", "points", "lsoas", "of_lsoas", "synthetic",
                                                              "datasets", "notes")},
                               "attribution": ATTRIBUTION, "rows": json_rows(table)}, indent=1, ensure_ascii=False))
        return
    for line in header_lines(table.attrs):
        click.echo(line)
    for note in table.attrs["notes"]:
        click.echo(f"Note: {note}")
    click.echo(f"{len(table):,} found.")
    for r in table.itertuples():
        click.echo(f"  {r.type}: {r.name} ({r.code}) in {r.ward}: {r.why}")
    click.echo(ATTRIBUTION)


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
@click.option("--permutations", type=click.IntRange(99, 99_999), default=999, show_default=True,
              help="Permutations for the pseudo p-values (local-moran, gi-star, bivariate, moran).")
@click.option("--seed", type=int, default=12345, show_default=True, help="Same seed, same map.")
@click.option("--alpha", type=click.Choice(["0.05", "0.01", "0.001"]),
              help="Significance level. Default: 0.05 for local-moran and bivariate; for gi-star the 90, 95 and "
                   "99% confidence levels, two-sided as ArcGIS's (|z| >= 1.645, 1.960, 2.576; with --alpha, only "
                   "spots significant at alpha).")
@click.option("--fdr", is_flag=True, help="Control the false discovery rate (Benjamini-Hochberg) instead "
              "(local-moran, bivariate, gi-star).")
@click.option("--direction", type=click.Choice(["folded", "two-sided", "greater", "less"]), default="folded",
              show_default=True, help="p-value convention: folded as GeoDa and esda (one tail, in the direction "
                                      "observed), or two-sided (twice that), or one-sided greater/less.")
@click.option("--inference", type=click.Choice(["analytic", "permutation"]), default="analytic", show_default=True,
              help="Gi*: normal z-scores or conditional permutations.")
@click.option("--weights", "weights_kind", type=click.Choice(["queen", "rook", "knn", "distance"]), default="queen",
              show_default=True)
@click.option("--k", type=int, default=6, show_default=True, help="Neighbours for --weights knn.")
@click.option("--distance", "distance_m", type=float, help="Metres, for --weights distance.")
@click.option("--scheme", help="classes: quantiles (default), fisher_jenks, equal_interval, std_mean, imd_deciles, "
                               "imd_quintiles; bivariate-classes: pink-blue (default), green-blue, blue-red, "
                               "purple-gold.")
@click.option("--classes", "n_classes", type=int, help="Number of classes: 5 by default for classes; 3 (default) "
              "or 4 for bivariate-classes.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def analyse(indicator, icb, lad, ward, statistic, deprivation, grouping, permutations, seed, alpha, fdr, direction,
            inference, weights_kind, k, distance_m, scheme, n_classes, fmt):
    """Hot spots, clusters, classes and inequality for INDICATOR over an extent (England by default).

    INDICATOR is an LSOA column (imd_score, acute_morbidity_indicator, see `gapmap columns`) or an
    ingested dataset (see `gapmap datasets`). Method details go to stderr (the test used is in
    "method"); results to stdout. An option that the chosen --stat does not use is refused.
    """
    from click.core import ParameterSource

    from geo.views import analysis

    ctx = click.get_current_context()
    given = {name for name in ("deprivation", "grouping", "permutations", "seed", "alpha", "fdr", "direction",
                               "inference", "weights_kind", "k", "distance_m", "scheme", "n_classes")
             if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)}
    options = analysis.AnalysisOptions(
        deprivation=deprivation, grouping=grouping, permutations=permutations, seed=seed,
        alpha=float(alpha) if alpha else None, fdr=fdr, direction=direction, inference=inference,
        weights_kind=weights_kind, k=k, distance_m=distance_m, scheme=scheme, n_classes=n_classes)
    extent = _extent(icb, lad, ward)
    store = open_store()
    try:
        options.check(statistic, given)
    except analysis.AnalysisError as exc:
        raise click.UsageError(str(exc))
    if statistic == "by-group":  # published as the web publishes it: group totals under disclosure control
        from geo.views import map_table

        result = map_table.group_table(store, indicator, extent, options.grouping)
    else:
        result = analysis.analyse(store, indicator, extent, statistic, options, given)
    if statistic == "moran":  # one figure for the extent: one JSON object, or a CSV of one row
        if analysis.is_synthetic(store, indicator):
            click.echo("SYNTHETIC DATA: these results are drawn from made-up records.", err=True)
        click.echo(ATTRIBUTION, err=True)
        if fmt == "json":
            click.echo(json.dumps(result, indent=1, default=str))
        else:
            row = {k: (json.dumps(v, default=str) if isinstance(v, (dict, list, tuple)) else v)
                   for k, v in result.items()}
            import pandas as pd

            _emit(pd.DataFrame([row]), fmt)
        return
    frame = result.reset_index() if statistic in ("local-moran", "gi-star", "bivariate") else result
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
    from geo.outputs import exports

    extent = _extent(icb, lad, ward)
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
    frame, meta = exports.export_table(open_store(), indicator, extent, scheme, n_classes,
                                       geometry=exports.GEOMETRY_OF.get(fmt, True))
    path = exports.write(frame, meta, fmt, out_dir, indicator, extent)
    click.echo(f"Wrote {len(frame):,} LSOAs to {path}" + (" (SYNTHETIC DATA)" if meta.get("synthetic") else ""))


@main.command("slide")
@click.argument("indicator")
@click.option("--icb", metavar="CODE")
@click.option("--lad", metavar="CODE")
@click.option("--ward", metavar="CODE")
@click.option("--view", type=click.Choice(["indicator", "hotspots", "smoothed-hotspots", "clusters", "bivariate",
                                           "deciles-local"]),
              default="indicator", show_default=True, help="What the map shows.")
@click.option("--format", "fmt", type=click.Choice(["png", "print", "svg"]), default="png", show_default=True,
              help="png: 1920x1080; print: PNG at 300 dpi; svg.")
@click.option("--title", help="A title of your own (default: what the map shows, from the measure).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True)
@click.option("--force", is_flag=True, help="Replace a slide of the same name (without it, an existing file is "
                                            "left alone and the command stops).")
def slide(indicator, icb, lad, ward, view, fmt, title, out_dir, force):
    """Draw a slide-ready map image of INDICATOR (no browser needed)."""
    from geo.outputs import slides

    extent = _extent(icb, lad, ward)
    path = slides.render(open_store(), indicator, extent, view, fmt, out_dir, title, replace=force)
    click.echo(f"Wrote {path}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--threads", type=int, default=32, show_default=True,
              help="Threads per process; heavy work takes at most GAPMAP_WORK_SLOTS + GAPMAP_WORK_QUEUE of them.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes (more than 1: gunicorn, Linux and macOS). Their caches follow the store's "
                   "build and datasets, so every worker sees a new build or dataset at once.")
def serve(host, port, threads, workers):
    """Run the web service: waitress in one process, or gunicorn with --workers N.

    On loopback (the default, 127.0.0.1) it may run single-user, with no sign-in. On any other
    address it refuses to start until sign-in is configured (`gapmap users add`, or a single
    sign-on header) and GAPMAP_ALLOWED_HOSTS names the addresses users type.
    """
    from waitress import serve as waitress_serve

    from app import auth, create_app, preload, warm

    store = open_store()
    store.manifest()
    preload()  # the map's libraries, before the first request rather than during it
    try:
        app = create_app()
    except ValueError as exc:  # a setting that cannot be used, e.g. GAPMAP_FRAME_ANCESTORS
        raise click.ClickException(str(exc)) from None
    problem = serve_refusal(app, host)
    if problem:
        raise click.ClickException(problem)
    mode = "single-user, no sign-in (loopback only)" if auth.single_user(app) else "sign-in required"
    click.echo(f"Gapmap on http://{host}:{port}/ (store {store.location()}; {mode}; {workers} process(es))")
    if workers > 1:
        from app.workers import serve_workers

        serve_workers(host, port, workers, threads)
        return
    from geo.views.process_memory import freeze_startup, settle

    settle()  # before waitress starts its threads: freed memory is handed back, not kept per thread
    freeze_startup()  # full garbage collections walk only what is made from now on: no 0.2 s pauses
    warm(app)  # England's map polygons, in the background
    # channel_request_lookahead: the app can tell that a client has gone and stop waiting for it.
    # connection_limit: waitress stops accepting at 100 open connections (its default), which 100
    # users' browsers (several keep-alive connections each) pass; poll() has no 1,024-descriptor limit.
    waitress_serve(app, host=host, port=port, threads=threads, channel_request_lookahead=1,
                   connection_limit=CONNECTION_LIMIT, asyncore_use_poll=True)


CONNECTION_LIMIT = 1000  # open connections waitress accepts at once (`gapmap serve`)


def serve_refusal(app, host: str) -> str | None:
    """Why the service must not listen on ``host``, or None when it may."""
    from app import auth

    if auth.is_loopback(host):
        return None
    if auth.single_user(app):
        return (f"Gapmap will not listen on {host} without sign-in: anyone who can reach this machine could read "
                f"and change the data. Either keep the default --host 127.0.0.1 (this machine only), or set up "
                f"sign-in first: add an admin with `gapmap users add NAME --role admin` (local accounts), or put "
                f"your organisation's single sign-on in front and set GAPMAP_TRUSTED_USER_HEADER (and "
                f"GAPMAP_TRUSTED_PROXIES, the proxy's address). See README, 'Running Gapmap for a team'.")
    if not auth._as_list(app.config.get("ALLOWED_HOSTS")):
        return (f"Set GAPMAP_ALLOWED_HOSTS to the names users type to reach Gapmap (for example "
                f"GAPMAP_ALLOWED_HOSTS=gapmap.example.nhs.uk) before listening on {host}; requests for other "
                f"names are refused.")
    return None


@main.group("users")
def users():
    """Who may use the service (sign-in, roles, API tokens). Adding the first user turns sign-in on."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), default="viewer", show_default=True,
              help="viewer: maps and exports; analyst: also upload and remove datasets; admin: also manage users.")
@click.option("--icb", metavar="CODE", help="Their ICB (E54000024 or QHG): analysts may change their ICB's datasets.")
@click.option("--no-password", is_flag=True, help="No password: the user signs in through single sign-on or a token.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def users_add(name, role, icb, no_password, password_stdin):
    """Add a user (asks for their password unless --no-password)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = click.prompt("Password (10 characters or more)", hide_input=True, confirmation_prompt=True)
    from geo.store.accounts import icb_code

    book = _accounts()
    user = book.add_user(name, role, password, icb_code(icb, open_store()))
    book.audit("user-add", _cli_actor(), "ok", f"{name}: {role}" + (f", ICB {user.icb}" if user.icb else ""))
    click.echo(f"Added {name} ({role}). Sign-in is now required on the web service.")


@users.command("list")
def users_list():
    """List the users, their roles, ICBs and how many API tokens they have."""
    rows = _accounts().users()
    if not rows:
        click.echo("No users: the service runs single-user on loopback. Add one with `gapmap users add NAME`.")
        return
    for u in rows:
        click.echo(f"{u['name']:<30} {u['role']:<8} {u['icb'] or '-':<10} "
                   f"{'password' if u['password'] else 'no password':<12} tokens {u['tokens']}  "
                   f"since {u['created_at']}")


@users.command("remove")
@click.argument("name")
def users_remove(name):
    """Remove a user (and their API tokens)."""
    book = _accounts()
    book.remove_user(name)
    book.audit("user-remove", _cli_actor(), "ok", name)
    click.echo(f"Removed {name}.")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "analyst", "admin"]))
@click.option("--icb", metavar="CODE", help="Also set their ICB.")
def users_role(name, role, icb):
    """Change a user's role."""
    from geo.store.accounts import icb_code

    book = _accounts()
    user = book.set_role(name, role, icb_code(icb, open_store()) if icb else None)
    book.audit("user-role", _cli_actor(), "ok", f"{name}: {role}" + (f", ICB {user.icb}" if user.icb else ""))
    click.echo(f"{name} is now {role}.")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_password(name, password_stdin):
    """Set a user's password."""
    password = (sys.stdin.readline().rstrip("\n") if password_stdin else
                click.prompt("New password (10 characters or more)", hide_input=True, confirmation_prompt=True))
    book = _accounts()
    book.set_password(name, password)
    book.audit("user-password", _cli_actor(), "ok", name)
    click.echo(f"Password of {name} changed.")


@users.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke all of this user's tokens instead.")
def users_token(name, revoke):
    """Make an API token for NAME (shown once; send it as `Authorization: Bearer TOKEN`)."""
    book = _accounts()
    if revoke:
        n = book.revoke_tokens(name)
        book.audit("user-token", _cli_actor(), "ok", f"{name}: revoked {n} token(s)")
        click.echo(f"Revoked {n} token(s) of {name}.")
        return
    token = book.new_token(name)
    book.audit("user-token", _cli_actor(), "ok", f"{name}: new token")
    click.echo(token)
    click.echo("Keep it secret: it is shown only this once. Scripts send it as `Authorization: Bearer TOKEN`.",
               err=True)


@main.command("audit")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True)
@click.option("--event", help="Only this event: sign-in, sign-out, upload, remove, user-add, user-remove, "
                              "user-role, user-password, user-token.")
@click.option("--user", "actor", help="Only what this user did.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def audit(limit, event, actor, fmt):
    """The audit log, newest first: uploads, removals, sign-ins and user changes."""
    rows = _accounts().audit_log(limit, event, actor)
    if fmt != "table":
        import pandas as pd

        _emit(pd.DataFrame(rows, columns=["id", "at", "event", "actor", "outcome", "detail", "address"]), fmt)
        return
    if not rows:
        click.echo("The audit log is empty.")
    for r in rows:
        click.echo(f"{r['at']}  {r['event']:<13} {r['outcome']:<8} {r['actor'] or '-':<24} "
                   f"{r['address'] or '':<15} {r['detail'] or ''}")


def _extent(icb: str | None, lad: str | None, ward: str | None):
    """The extent named by one of --icb, --lad and --ward (England when none is given); a code the
    store holds no LSOAs of at that level is refused, saying what it is (see :func:`_place`)."""
    from geo.views import analysis

    given = [(lvl, code) for lvl, code in (("icb", icb), ("lad", lad), ("ward", ward)) if code]
    if len(given) > 1:
        raise click.UsageError("choose one of --icb, --lad and --ward")
    return analysis.Extent(given[0][0], _place(*given[0])) if given else analysis.Extent()


def _place(level: str, code: str | None) -> str | None:
    """The ONS code of the ICB (E54000024 or its NHS code QHG), local authority or ward ``code``
    names; a code the store holds no LSOAs of at that level is an error saying what the code is
    ("QHG is an ICB (...), not a local authority: use --icb QHG"), never an empty answer."""
    if not code:
        return code
    from geo.sources.area_codes import resolve

    store = open_store()
    wanted = ["lsoa21cd", "lsoa21nm", "icb24cd", "icb24cdh", "icb24nm", "lad24cd", "lad24nm", "ward24cd", "ward24nm"]
    held = set(store.column_types("lsoas"))
    lsoas = store.lsoas(columns=[c for c in wanted if c in held], geometry=False)
    return resolve(lsoas, level, code)


def _icb_code(code: str | None) -> str | None:
    """Accept an ICB's NHS code (QHG) as well as its ONS code (E54000024)."""
    return _place("icb", code)


if __name__ == "__main__":
    main()
