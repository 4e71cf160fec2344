"""Files written aside and moved into place only when complete, so an interrupted download or
reshaping never leaves a half-written file where a complete one is expected."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_aside(dest: Path, write) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``dest`` only when it succeeded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=dest.suffix)
    os.close(fd)
    os.unlink(tmp)  # writers such as pyogrio want to create the file themselves
    try:
        write(Path(tmp))
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dest
