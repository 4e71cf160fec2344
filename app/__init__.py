"""The Gapmap web service: an application factory with a blueprint for pages and one for the API.

Configuration comes from the environment (``GAPMAP_STORE``, or ``GAPMAP_DATABASE_URL`` for PostGIS) or the ``config`` mapping passed to
:func:`create_app`. ``gapmap serve`` runs it under waitress.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request

from geo import ATTRIBUTION
from geo.store import open_store

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(PROJECT_ROOT / "static"), static_url_path="/static")
    app.config.from_mapping(GAPMAP_STORE=None, GAPMAP_DATABASE_URL=None, DEFAULT_ICB="E54000024", MAX_CONTENT_LENGTH=1 << 30)
    app.config.from_prefixed_env("GAPMAP")
    if config:
        app.config.update(config)
    url = app.config.get("GAPMAP_DATABASE_URL") or app.config.get("DATABASE_URL")
    app.extensions["gapmap_store"] = open_store(root=app.config.get("GAPMAP_STORE") or app.config.get("STORE"),
                                                url=url or "")

    from app import api, pages, upload

    app.register_blueprint(pages.bp)
    app.register_blueprint(upload.bp)
    app.register_blueprint(api.bp, url_prefix="/api")

    @app.context_processor
    def attribution():
        return {"attribution": ATTRIBUTION}

    def error_page(error):
        """API errors as JSON, page errors as a page; both say what was wrong."""
        status = getattr(error, "code", 500)
        message = getattr(error, "description", "Something went wrong")
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), status
        return render_template("error.html", status=status, message=message), status

    for status in (400, 404, 503):
        app.register_error_handler(status, error_page)

    return app


def store_of(app: Flask):
    return app.extensions["gapmap_store"]
