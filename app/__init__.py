"""The Gapmap web service: an application factory with a blueprint for pages and one for the API.

Configuration comes from the environment (``GAPMAP_STORE``) or the ``config`` mapping passed to
:func:`create_app`. ``gapmap serve`` runs it under waitress.
"""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request

from geo import ATTRIBUTION
from geo.store import Store

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=str(PROJECT_ROOT / "static"), static_url_path="/static")
    app.config.from_mapping(GAPMAP_STORE=None, DEFAULT_ICB="E54000024", MAX_CONTENT_LENGTH=1 << 30)
    app.config.from_prefixed_env("GAPMAP")
    if config:
        app.config.update(config)
    app.extensions["gapmap_store"] = Store(app.config.get("GAPMAP_STORE") or app.config.get("STORE"))

    from app import api, pages, upload

    app.register_blueprint(pages.bp)
    app.register_blueprint(upload.bp)
    app.register_blueprint(api.bp, url_prefix="/api")

    @app.context_processor
    def attribution():
        return {"attribution": ATTRIBUTION}

    @app.errorhandler(404)
    def not_found(error):
        message = getattr(error, "description", "Not found")
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), 404
        return render_template("error.html", status=404, message=message), 404

    @app.errorhandler(400)
    def bad_request(error):
        message = getattr(error, "description", "Bad request")
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), 400
        return render_template("error.html", status=400, message=message), 400

    return app


def store_of(app: Flask) -> Store:
    return app.extensions["gapmap_store"]
