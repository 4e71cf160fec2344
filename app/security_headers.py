"""Headers every response carries, and error pages that tell a user what happened without telling
an attacker where things are.

Content-Security-Policy: scripts, styles, images and data from this server only. The maps are
Folium pages whose scripts and styles are inline, so ``'unsafe-inline'`` is allowed for scripts
and styles, but no other origin is (Leaflet and its plugins are vendored under /static: no CDN);
a basemap named by ``GAPMAP_TILES`` adds its origin to ``img-src``. ``frame-ancestors`` comes from
``GAPMAP_FRAME_ANCESTORS`` (default ``'self'``): list the intranet sites allowed to embed maps,
e.g. ``'self' https://intranet.example.nhs.uk``. Also ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: strict-origin-when-cross-origin``.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import uuid
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request

log = logging.getLogger("gapmap")
FRAME_ANCESTOR = re.compile(r"^('self'|'none'|https?://[A-Za-z0-9.*:-]+|[A-Za-z0-9.*-]+(:\d+)?)$")


def frame_ancestors(value) -> str:
    """The configured frame-ancestors sources; a value that is not a CSP source is refused."""
    parts = value.split() if isinstance(value, str) else list(value or [])
    parts = [p.strip().strip(",") for p in parts if p.strip().strip(",")] or ["'self'"]
    bad = [p for p in parts if not FRAME_ANCESTOR.match(p)]
    if bad:
        raise ValueError(f"GAPMAP_FRAME_ANCESTORS: {', '.join(bad)} is not a page origin; write e.g. "
                         f"\"'self' https://intranet.example.nhs.uk\"")
    return " ".join(parts)


def content_security_policy(app: Flask) -> str:
    images = ["'self'", "data:", "blob:"]
    tiles = os.environ.get("GAPMAP_TILES", "").strip()
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.netloc:
            host = urlsplit(tiles).netloc.replace("{s}", "*")
            images.append(f"{parts.scheme}://{host}")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {' '.join(images)}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors(app.config.get('FRAME_ANCESTORS'))}",
    ])


def scrub_paths(message: str, *paths) -> str:
    """``message`` without server folders (temp folder, project, store): users see file names only."""
    text = str(message)
    folders = {str(p) for p in paths if p and str(p).startswith("/") and len(str(p)) > 1}
    for path in sorted(folders | {tempfile.gettempdir()}, key=len, reverse=True):
        text = re.sub(re.escape(path) + r"[^\s'\":,;)]*/", "", text)  # a folder and its sub-folders
        text = text.replace(path, "<server folder>")
    return text


def init_app(app: Flask, *server_paths) -> None:
    policy = content_security_policy(app)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):  # served over HTTPS: browsers keep to it
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    def page(status: int, message: str):
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), status
        return render_template("error.html", status=status, message=message), status

    def server_error(error):
        """Log the traceback under a reference; show the reference only."""
        original = getattr(error, "original_exception", None) or error
        if isinstance(original, OSError) and original.errno == errno.ENOSPC:
            log.error("disk full: %s", original)
            return page(507, "The server's disk is full, so this could not be saved. Nothing was changed; "
                             "ask whoever runs Gapmap to free some space.")
        reference = uuid.uuid4().hex[:10]
        log.error("error %s on %s %s", reference, request.method, request.path, exc_info=original)
        return page(500, f"Something went wrong on the server. Quote reference {reference} to whoever "
                         f"runs Gapmap; the details are in the server log.")

    app.register_error_handler(500, server_error)
    app.extensions["gapmap_scrub"] = lambda message: scrub_paths(message, *server_paths)
