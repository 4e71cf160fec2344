"""The Gapmap web service: an application factory with a blueprint for pages and one for the API.

Configuration comes from the environment (``GAPMAP_STORE``, or ``GAPMAP_DATABASE_URL`` for
PostGIS, and any ``GAPMAP_<KEY>`` sets ``<KEY>``) or the ``config`` mapping passed to
:func:`create_app`. ``gapmap serve`` runs it under waitress (or gunicorn with ``--workers``).
Sign-in, roles, CSRF and allowed hosts: :mod:`app.auth`; response headers and the 500 page:
:mod:`app.security_headers`; upload limits: :mod:`geo.ingest.limits`.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request

from geo import ATTRIBUTION, settings
from geo.errors import GapmapError
from geo.store import open_store

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# what the first map page, side panel and export need: imported by `gapmap serve` before it takes
# requests, so that the first user after a start does not wait for them (``gapmap --help`` and
# the other commands import none of them)
SERVICE_MODULES = ("mapclassify", "folium", "geopandas", "app.map_layers", "geo.stats.classify",
                   "geo.stats.bivariate_classes", "geo.stats.getis_ord", "geo.stats.local_moran",
                   "geo.rates.smoothing", "geo.views.map_table", "geo.views.group_statistics",
                   "geo.views.targeting", "geo.outputs.exports")


def preload() -> None:
    """Import :data:`SERVICE_MODULES` (a server about to take requests, not the CLI)."""
    import importlib

    for name in SERVICE_MODULES:
        importlib.import_module(name)


def warm(app: Flask):
    """Start making, in the background, what every England map needs whatever its indicator (the
    simplified polygons and their rings, about a second): `gapmap serve` calls it as it starts, so
    the first England map after a start does not wait for them. Returns the thread."""
    import logging
    import threading

    def run():
        try:
            from app.map_layers import warm_england

            warm_england(app.extensions["gapmap_store"])
        except Exception:  # a store without England's polygons: the first map makes what it needs
            logging.getLogger("gapmap").warning("could not prepare England's map polygons", exc_info=True)

    thread = threading.Thread(target=run, name="gapmap-warm", daemon=True)
    thread.start()
    return thread


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(PROJECT_ROOT / "static"), static_url_path="/static")
    from geo.ingest.limits import IngestLimits

    app.config.from_mapping(GAPMAP_STORE=None, GAPMAP_DATABASE_URL=None, DEFAULT_ICB="E54000024",
                            MAX_CONTENT_LENGTH=IngestLimits.from_env().max_upload_bytes,
                            SESSION_COOKIE_NAME="gapmap_session", SESSION_COOKIE_SAMESITE="Lax",
                            SESSION_COOKIE_HTTPONLY=True, PERMANENT_SESSION_LIFETIME=8 * 3600)
    app.config.from_prefixed_env("GAPMAP")
    if config:
        app.config.update(config)
    url = app.config.get("GAPMAP_DATABASE_URL") or app.config.get("DATABASE_URL")
    store = app.extensions["gapmap_store"] = open_store(root=app.config.get("GAPMAP_STORE") or app.config.get("STORE"),
                                                        url=url or "")

    from app import api, auth, compression, pages, security_headers, statement, upload

    # the folder for the accounts file and the secret key: the folder store's own, or (PostGIS) GAPMAP_STORE
    home = Path(getattr(store, "root", None) or app.config.get("GAPMAP_STORE") or app.config.get("STORE")
                or settings.store_dir())
    auth.init_app(app, home)
    security_headers.init_app(app, home.absolute(), home.resolve(), PROJECT_ROOT)

    compression.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(upload.bp)
    app.register_blueprint(statement.bp)
    app.register_blueprint(api.bp, url_prefix="/api")

    @app.before_request
    def _watch_client():
        """Let waits for heavy work end when the client has gone (waitress with channel_request_lookahead)."""
        from geo.views.map_table import set_client_check

        set_client_check(request.environ.get("waitress.client_disconnected"))

    @app.teardown_request
    def _forget_client(exc=None):
        from geo.views.map_table import set_client_check

        set_client_check(None)

    @app.context_processor
    def attribution():
        return {"attribution": ATTRIBUTION}

    def error_page(error):
        """API errors as JSON, page errors as a page; both say what was wrong."""
        status = getattr(error, "code", 500)
        message = app.extensions["gapmap_scrub"](getattr(error, "description", "Something went wrong"))
        if status == 413:
            message = (f"The upload is larger than this server's limit of {app.config['MAX_CONTENT_LENGTH'] / 1e6:,.0f} "
                       f"MB (GAPMAP_MAX_UPLOAD_MB). Split the file, or ask whoever runs Gapmap to raise the limit.")
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), status
        return render_template("error.html", status=status, message=message), status

    def gapmap_error(error):
        """The one handler for every :class:`geo.errors.GapmapError` a page or the API raises (an
        unknown place, an option a statistic cannot take, the server busy): its message, with the
        HTTP status it carries; JSON for the API, a page otherwise."""
        from geo.views.map_table import ClientGone

        if isinstance(error, ClientGone):
            return "", 503  # nobody is there to read it
        status = error.http_status
        headers = {"Retry-After": "30"} if status == 503 else {}
        message = app.extensions["gapmap_scrub"](str(error))
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), status, headers
        return render_template("error.html", status=status, message=message), status, headers

    for status in (400, 403, 404, 405, 413, 503):
        app.register_error_handler(status, error_page)
    app.register_error_handler(GapmapError, gapmap_error)
    app.register_error_handler(401, auth.unauthorised)

    from app import light_responses

    light_responses.init_app(app)  # last: it answers the light API routes in front of all the above
    return app


def store_of(app: Flask):
    return app.extensions["gapmap_store"]
