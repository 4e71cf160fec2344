"""`gapmap serve` before it listens: start-up objects are frozen out of the garbage collector's
walks (geo.views.process_memory.freeze_startup), so full collections do not pause every thread
for the whole start-up heap; what is made afterwards is still collected."""
import gc
import weakref

import pytest
from click.testing import CliRunner

from geo.cli import main


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_serve_freezes_start_up_objects_before_waitress_starts(folder_fixture_store, monkeypatch, unfrozen):
    seen = {}

    def fake_serve(app, **options):
        seen["frozen"] = gc.get_freeze_count()
        seen["options"] = options

    monkeypatch.setattr("waitress.serve", fake_serve)
    monkeypatch.setenv("GAPMAP_STORE", str(folder_fixture_store.root))
    monkeypatch.setenv("GAPMAP_SINGLE_USER", "true")
    result = CliRunner().invoke(main, ["serve", "--threads", "4"])
    assert result.exit_code == 0, result.output
    assert seen["options"]["threads"] == 4
    assert seen["frozen"] > 10_000  # the modules, functions and tables of start-up


def test_what_is_made_after_freezing_is_still_collected(unfrozen):
    from geo.views.process_memory import freeze_startup

    assert freeze_startup() == gc.get_freeze_count() > 0

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
