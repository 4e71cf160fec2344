"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, the server on a
unix socket in that folder (no TCP port), PostGIS created in each new database, stopped and
deleted at the end.

PostgreSQL refuses to run as root; when the tests run as root the server runs as the
``postgres`` system user (made by Debian's package), else as the current user. Debian keeps the
binaries in /usr/lib/postgresql/<version>/bin; ``GAPMAP_PG_BIN`` names another folder.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bin() -> Path | None:
    given = os.environ.get("GAPMAP_PG_BIN", "").strip()
    candidates = [given] if given else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found and not given:
        candidates.append(str(Path(found).parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def has_postgis(bin_dir: Path) -> bool:
    share = subprocess.run([str(bin_dir / "pg_config"), "--sharedir"], capture_output=True, text=True)
    if share.returncode != 0:  # pg_config lives in another package on some systems: guess Debian's layout
        version = bin_dir.parent.name
        folder = Path(f"/usr/share/postgresql/{version}/extension")
    else:
        folder = Path(share.stdout.strip()) / "extension"
    return (folder / "postgis.control").exists()


def missing_reason() -> str | None:
    bin_dir = find_bin()
    if bin_dir is None:
        return "PostgreSQL is not installed (apt-get install postgresql postgis; .ci/run does)"
    if not has_postgis(bin_dir):
        return f"PostGIS is not installed for {bin_dir} (apt-get install postgis)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    return None


class Cluster:
    def __init__(self):
        self.bin = find_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="gapmap-pg-"))
        self.data = self.dir / "data"
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pwd.getpwnam(self.user)  # KeyError when the user is missing
            os.chmod(self.dir, 0o755)
            shutil.chown(self.dir, user=self.user)

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=True)

    def start(self) -> "Cluster":
        self._run("initdb", "-D", str(self.data), "-U", "gapmap", "--auth=trust", "-E", "UTF8", "--no-sync",
                  "--locale=C")
        options = (f"-k {self.dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://gapmap@/{database}?host={self.dir}"

    def new_database(self, prefix: str = "gapmap") -> str:
        """A fresh database with PostGIS; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
