"""One error tree: every error Gapmap raises for a user is a GapmapError carrying its HTTP status,
and the CLI turns it into one clear line in one place."""
import importlib
import inspect
import pkgutil

from click.testing import CliRunner

import geo
from geo.cli import main
from geo.errors import GapmapError, InvalidValue, NotFound, Unavailable


def _error_classes():
    for info in pkgutil.walk_packages(geo.__path__, "geo."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == module.__name__
                    and not name.startswith("_")):
                yield obj


def test_every_public_error_is_a_gapmap_error():
    classes = list(_error_classes())
    assert len(classes) >= 8
    outside = [c.__qualname__ for c in classes if not issubclass(c, GapmapError)]
    assert outside == []


def test_statuses():
    assert GapmapError("x").http_status == 400
    assert NotFound("x").http_status == 404
    assert Unavailable("x").http_status == 503
    assert GapmapError("x", http_status=409).http_status == 409
    assert isinstance(InvalidValue("x"), ValueError)


def test_cli_prints_the_message_once_without_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(tmp_path / "nothing-here"))
    result = CliRunner().invoke(main, ["lsoas", "--lad", "E06000032"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: No Gapmap store at")
    assert "Traceback" not in result.output


def test_cli_refuses_bad_option_values_as_errors(fixture_store, monkeypatch):
    monkeypatch.setenv("GAPMAP_STORE", str(fixture_store.root))
    result = CliRunner().invoke(main, ["analyse", "imd_score", "--stat", "local-moran", "--permutations", "0"])
    assert result.exit_code in (1, 2), result.output
    assert "Error" in result.output and "Traceback" not in result.output
