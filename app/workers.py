"""Several worker processes: ``gapmap serve --workers N`` runs the app under gunicorn.

Each worker makes its own app (and its own database connections) after the fork. Nothing cached
in a worker can go stale: the map and side-panel caches are keyed on the store's
``version_key()`` (the build id and every dataset's version, read from the folder links or from
one PostgreSQL row per dataset at each request), so a new build or a replaced or removed dataset
changes the key in every worker at once. Gunicorn needs a POSIX system (Linux, macOS); waitress
(one process, several threads) is used otherwise.
"""
from __future__ import annotations

from geo.errors import GapmapError


class WorkersUnavailable(GapmapError):
    """Gunicorn cannot run here."""


def serve_workers(host: str, port: int, workers: int, threads: int, timeout: int = 120) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise WorkersUnavailable("--workers needs gunicorn (Linux or macOS): pip install 'gapmap[postgres]', "
                                 "or leave --workers out to serve from one process") from None

    from app import create_app

    options = {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
               "worker_class": "gthread", "timeout": timeout, "preload_app": False,
               "accesslog": None, "errorlog": "-", "loglevel": "warning"}

    class GapmapWorkers(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # in each worker, before its threads start
            from geo.views.process_memory import freeze_startup, settle

            from app import preload, warm

            preload()
            settle()
            app = create_app()
            freeze_startup()
            warm(app)  # England's map polygons, in the background
            return app

    GapmapWorkers().run()
