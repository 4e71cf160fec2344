"""A real HTTP server on loopback that serves files the way the official sites do.

Routes map a path to a handler; every request is recorded so tests can check what was asked
(for example the ArcGIS paging offsets). Nothing here replaces Gapmap's own functions.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Route:
    def respond(self, handler: "Handler", query: dict) -> None:
        raise NotImplementedError


class Static(Route):
    def __init__(self, body: bytes, content_type: str = "application/octet-stream", statuses=(),
                 delay: float = 0.0, truncate: bool = False):
        self.body = body
        self.content_type = content_type
        self.statuses = list(statuses)  # answered first, one per request, before the body
        self.delay = delay
        self.truncate = truncate

    def respond(self, handler, query):
        if self.statuses:
            status = self.statuses.pop(0)
            handler.send_response(status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.delay:
            time.sleep(self.delay)
        handler.send_response(200)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body[: len(self.body) // 2] if self.truncate else self.body)


class FeatureServer(Route):
    """An ArcGIS FeatureServer layer: layer info, returnCountOnly, and paged queries."""

    def __init__(self, features: list[dict], max_record_count: int = 3, drop_last: bool = False,
                 error: str | None = None):
        self.features = features  # GeoJSON features; attributes are their properties
        self.max_record_count = max_record_count
        self.drop_last = drop_last
        self.error = error
        self.page_offsets: list[int] = []

    def respond(self, handler, query):
        if not handler.path_only.endswith("/query"):
            return handler.send_json({"name": "layer", "maxRecordCount": self.max_record_count,
                                      "objectIdField": "FID"})
        if self.error:
            return handler.send_json({"error": {"code": 400, "message": self.error, "details": []}})
        if query.get("returnCountOnly") == "true":
            return handler.send_json({"count": len(self.features)})
        offset = int(query.get("resultOffset", 0))
        count = min(int(query.get("resultRecordCount", self.max_record_count)), self.max_record_count)
        self.page_offsets.append(offset)
        served = self.features[:-1] if self.drop_last else self.features
        page = served[offset: offset + count]
        more = offset + count < len(served)
        if query.get("f") == "geojson":
            payload = {"type": "FeatureCollection", "features": page}
            if more:
                payload["properties"] = {"exceededTransferLimit": True}
        else:
            payload = {"objectIdFieldName": "FID",
                       "features": [{"attributes": {"FID": offset + i + 1, **f["properties"]}}
                                    for i, f in enumerate(page)]}
            if more:
                payload["exceededTransferLimit"] = True
        handler.send_json(payload)


class Observations(Route):
    """ONS's census API: ``observations`` served a page at a time (``limit``, ``offset``)."""

    def __init__(self, payload: dict, page_size: int):
        self.observations = payload["observations"]
        self.page_size = page_size

    def respond(self, handler, query):
        offset = int(query.get("offset", 0))
        limit = min(int(query.get("limit", self.page_size)), self.page_size)
        handler.send_json({"observations": self.observations[offset: offset + limit], "links": {},
                           "limit": limit, "offset": offset, "total_observations": len(self.observations)})


class Handler(BaseHTTPRequestHandler):
    server: "LoopbackServer"

    def log_message(self, *args):
        pass

    def send_json(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parsed = urlparse(self.path)
        self.path_only = parsed.path
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        self.server.requests.append((parsed.path, query))
        route = self.server.match(parsed.path, parsed.query)
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        route.respond(self, query)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict]] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def match(self, path: str, query: str = "") -> Route | None:
        if query and f"{path}?{query}" in self.routes:  # ONS's /file?uri=...: one address per query
            return self.routes[f"{path}?{query}"]
        for prefix, route in self.routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return route
        return None

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base + path

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def serve_catalogue(server: LoopbackServer, mirror, official: dict[str, bytes], folder, gias_date: str) -> "Path":
    """Serve every catalogued source from ``server`` as its publisher does, and write a catalogue
    whose addresses point there (the real catalogue with each host replaced by the server).

    ArcGIS layers are served by :class:`FeatureServer` from the fixture mirror's files; every
    other source by :class:`Static` from ``official`` (source id -> the file's bytes). GIAS is
    served only under its dated name for ``gias_date`` (YYYYMMDD), so fetch must look for it.
    Returns the path of the catalogue written in ``folder``.
    """
    import re
    from pathlib import Path
    from urllib.parse import urlparse

    import geopandas as gpd
    import pandas as pd

    from geo.sources.catalogue import CATALOGUE_PATH, load_catalogue

    mirror, folder = Path(mirror), Path(folder)
    for source in load_catalogue(CATALOGUE_PATH).values():
        if source.ingest_only:  # read by `gapmap ingest` when a user gives it: never fetched
            continue
        path = urlparse(source.url).path
        if source.method == "arcgis":
            if source.format == "gpkg":
                features = json.loads(gpd.read_file(mirror / source.path).to_json())["features"]
            else:
                frame = pd.read_csv(mirror / source.path, dtype=str, keep_default_na=False)
                features = [{"type": "Feature", "geometry": None, "properties": row}
                            for row in frame.to_dict("records")]
            server.add(path, FeatureServer(features, max_record_count=4))
        elif source.official.get("dated_url"):
            dated = urlparse(source.official["dated_url"].format(date=gias_date)).path
            server.add(dated, Static(official[source.id], "text/csv"))
        elif urlparse(source.url).query.startswith("uri="):  # ONS's /file?uri=<the file>
            server.add(f"{path}?{urlparse(source.url).query}", Static(official[source.id]))
        else:
            server.add(path, Static(official[source.id]))
    text = Path(CATALOGUE_PATH).read_text(encoding="utf-8")
    text = re.sub(r"https?://[A-Za-z0-9.-]+(?=/)", server.base, text)
    target = folder / "sources.toml"
    target.write_text(text, encoding="utf-8")
    return target
