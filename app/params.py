"""Reading and checking request parameters, with messages that say what was wrong."""
from __future__ import annotations

from functools import lru_cache

from flask import abort, current_app, request

from geo.views import analysis
from geo.stats.classify import SCHEMES
from geo.store.folder import StoreError

SCOPE_ENVIRON = "gapmap.dataset_scope"  # the request's dataset scope, as :func:`store` applied it


def store():
    """The app's store as the current user may see it: its build pointer resolved once per request
    (every consumer of the request reads the same build, see :class:`geo.views.map_table.PinnedStore`)
    and only the datasets their ICB may see (:func:`app.auth.dataset_scope`): every route reads
    datasets through here, so a dataset of another ICB is unknown on every page, API and download."""
    from flask import g, has_request_context

    from app.auth import dataset_scope
    from geo.store.dataset_scope import scoped
    from geo.views.map_table import pinned

    base = current_app.extensions["gapmap_store"]
    if not has_request_context():
        return base
    if "gapmap_store" not in g:
        build = pinned(base)
        scope = dataset_scope(build)
        request.environ[SCOPE_ENVIRON] = scope  # whom the answer is made for (app.light_responses)
        g.gapmap_store = scoped(build, scope)
    return g.gapmap_store


def extent() -> analysis.Extent:
    """The extent asked for by ?icb=, ?lad= or ?ward= (one of them); 404 when it is unknown."""
    if request.args.get("extent") == "england":
        return analysis.Extent()
    given = [(level, request.args.get(level)) for level in ("icb", "lad", "ward") if request.args.get(level)]
    if len(given) > 1:
        abort(400, description="give one of icb, lad and ward")
    if not given:
        return analysis.Extent("icb", current_app.config["DEFAULT_ICB"])
    level, code = given[0]
    try:
        if level == "icb":
            code = icb_code(code)
        known = _extent_known(store().identity, store().build_id(), level, code)
    except StoreError as exc:
        abort(503, description=str(exc))
    if not known:
        hint = "; ICB codes look like E54000024 (ONS) or QHG (NHS)" if level == "icb" else ""
        abort(404, description=f"no {level} with code {code!r} in this store{hint}")
    return analysis.Extent(level, code)


def icb_code(code: str) -> str:
    """An ICB's ONS code (E54000024) for its ONS or NHS code (QHG, any case); unknown codes pass through."""
    code = code.strip()
    return _icb_codes(store().identity, store().build_id()).get(code.upper(), code)


@lru_cache(maxsize=16)
def _icb_codes(root: str, build: str) -> dict[str, str]:
    icbs = store().areas("icb")
    codes = {str(c).upper(): c for c in icbs["icb24cd"]}
    if "icb24cdh" in icbs:
        codes.update({str(h).upper(): c for h, c in zip(icbs["icb24cdh"], icbs["icb24cd"]) if isinstance(h, str)})
    return codes


@lru_cache(maxsize=4096)
def _extent_known(root: str, build: str, level: str, code: str) -> bool:
    return not store().lsoas(geometry=False, columns=["lsoa21cd"], **{level: code}).empty


@lru_cache(maxsize=16)
def _numeric_columns(root: str, build: str) -> frozenset:
    return frozenset(analysis.numeric_columns(store()))


def indicator() -> str:
    name = request.args.get("indicator", "imd_score")
    from geo.views import catalogue

    if name not in _numeric_columns(store().identity, store().build_id()) and name not in catalogue.dataset_names(store()):
        abort(404, description=f"unknown indicator {name!r}")
    return name


def scheme() -> tuple[str, int]:
    name = request.args.get("scheme", "quantiles")
    if name not in SCHEMES or name == "user":
        abort(400, description=f"scheme must be one of {', '.join(s for s in SCHEMES if s != 'user')}")
    try:
        k = int(request.args.get("k", 5))
    except ValueError:
        abort(400, description="k must be a whole number")
    if not 2 <= k <= 9:
        abort(400, description="k must be between 2 and 9")
    return name, k


def focus() -> str | None:
    value = request.args.get("focus", "").strip()
    if value and not value.replace("E", "").isdigit():
        abort(400, description="focus must be an LSOA or ward code")
    return value or None


def pin() -> str | None:
    """``pin=postcode:<key>`` or ``pin=school:<urn>``: a marker on what a search found."""
    value = request.args.get("pin", "").strip().upper().replace(" ", "")
    if not value:
        return None
    kind, _, code = value.partition(":")
    if kind not in ("POSTCODE", "SCHOOL") or not code.isalnum() or len(code) > 12:
        abort(400, description="pin must be postcode:<postcode> or school:<URN>")
    return f"{kind.lower()}:{code}"


def indicator_choices() -> list[tuple[str, str]]:
    """What a map can be coloured by: the LSOA indicators, then the LSOA datasets (not GP practice
    files). Read from memory once per store version (:mod:`geo.views.catalogue`)."""
    from geo.views import catalogue

    return catalogue.cached(store(), "indicator choices", _indicator_choices)


def _indicator_choices() -> list[tuple[str, str]]:
    from geo.views import catalogue
    from geo.store.schema import lsoa_columns

    described = lsoa_columns()
    current = store()
    numeric = [c for c in analysis.numeric_columns(current) if c.endswith(("_score", "_indicator", "_rate", "_decile",
                                                                           "_quintile", "_ratio"))]
    choices = [(c, described.get(c, c)) for c in numeric]
    for meta in catalogue.dataset_metas(current):
        if meta.get("shape") == "fingertips":  # GP practice values: they cannot colour LSOAs
            continue
        marked = meta.get("synthetic") and "SYNTHETIC" not in str(meta["measure"]).upper()  # say it once
        label = f"{meta['measure']} (uploaded{', SYNTHETIC' if marked else ''})"
        choices.append((meta["name"], label))
    return choices


def targeting(indicator_name: str) -> tuple[str, tuple[str, ...]]:
    """The targeting question (``?where=``, a group expression; default: the map indicator's hot
    spots, High-High clusters or Core20) and the point types to list (``?points=``, comma-separated;
    default state-funded primary, secondary and special schools, GP practices and wards); 400 with the
    reason when either cannot be read."""
    from geo.errors import InvalidValue
    from geo.views import target_groups
    from geo.views import targeting as engine

    question = request.args.get("where", "").strip() or engine.default_question(indicator_name)
    try:
        target_groups.parse(question)
        points = engine.check_points(request.args.getlist("points"))
    except InvalidValue as exc:
        abort(400, description=str(exc))
    return question, points
