"""The light routes answer from memory (geo.views.catalogue) and still see every change at once:
a dataset ingested, shared or removed, and a new build made current; one user's view is never
served to another."""
import os
import shutil

import pandas as pd
import pytest

from app import create_app
from geo.store.dataset_scope import Scope, scoped
from geo.store.datasets import DatasetStore
from geo.store.folder import Store
from geo.views import catalogue


@pytest.fixture
def store(folder_fixture_store, tmp_path):
    """A copy of the fixture store (these tests change it)."""
    shutil.copytree(folder_fixture_store.root, tmp_path / "store", symlinks=True)
    return Store(tmp_path / "store")


def _save(store, name, **meta):
    counts = pd.DataFrame({"lsoa21cd": ["E01000001", "E01000002"], "count": [30, 40]})
    DatasetStore(store).save(name, {"measure": f"Measure {name}", **meta}, pd.DataFrame({"row": []}), counts=counts)


def _ids(client):
    response = client.get("/api/indicators")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return [row["id"] for row in response.get_json()]


def test_indicator_list_follows_ingest_and_removal(store):
    client = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "TESTING": True,
                         "SINGLE_USER": True}).test_client()
    first = _ids(client)
    assert "imd_score" in first and "light-a" not in first
    assert _ids(client) == first  # from memory: the same answer
    _save(store, "light-a")
    assert sorted(_ids(client)) == sorted(first + ["light-a"])
    assert client.get("/map/frame?lad=E06000001&indicator=light-a").status_code == 200  # known at once
    _save(store, "light-a", measure="Renamed measure")  # re-ingested under the same name
    labels = {row["id"]: row["label"] for row in client.get("/api/indicators").get_json()}
    assert labels["light-a"].startswith("Renamed measure")
    DatasetStore(store).remove("light-a")
    assert _ids(client) == first


def test_sharing_changes_what_a_user_sees_at_once(store):
    _save(store, "light-b", owner="ann", owner_icb="E54000001")
    other = scoped(store, Scope(user="bob", icbs=frozenset({"E54000002"})))
    own = scoped(store, Scope(user="val", icbs=frozenset({"E54000001"})))
    assert [m["name"] for m in catalogue.dataset_metas(own)] == ["light-b"]
    assert catalogue.dataset_metas(other) == [] and catalogue.dataset_names(other) == ()
    DatasetStore(store).set_shared("light-b", True)  # meta.json replaced in place: same version folder
    assert [m["name"] for m in catalogue.dataset_metas(other)] == ["light-b"]
    assert catalogue.dataset_metas(other)[0]["shared"] is True
    DatasetStore(store).set_shared("light-b", False)
    assert catalogue.dataset_names(other) == ()


def test_a_new_build_is_seen_at_once(store):
    before = catalogue.version(store)
    calls = []

    def make():
        calls.append(1)
        return len(calls)

    assert catalogue.per_build(store, "light test", make) == 1
    assert catalogue.per_build(store, "light test", make) == 1  # held
    old = store.path
    new = old.parent / (old.name + "-copy")
    shutil.copytree(old, new)
    os.symlink(os.path.join("builds", new.name), store.root / ".current-new")
    os.replace(store.root / ".current-new", store.root / "current")
    assert Store(store.root).build_id() == new.name
    assert catalogue.per_build(Store(store.root), "light test", make) == 2
    assert catalogue.version(Store(store.root))[1] == new.name != before[1]


def test_places_answer_from_memory_and_are_not_shared_mutable(store):
    client = create_app({**store.environment(), "DEFAULT_ICB": "E54000001", "TESTING": True,
                         "SINGLE_USER": True}).test_client()
    first = client.get("/api/places?icb=E54000001")
    assert first.status_code == 200 and first.get_json()
    from geo.views.extent_areas import places_of_icb

    frame = places_of_icb(store, "E54000001")
    frame["lad24nm"] = "changed by a caller"
    assert client.get("/api/places?icb=E54000001").get_json() == first.get_json()


def test_icb_aliases_read_once_per_build_give_both_codes(store):
    from app.auth import icb_aliases

    assert icb_aliases(store, "qaa") == frozenset({"E54000001", "QAA"})
    assert icb_aliases(store, "E54000001") == frozenset({"E54000001", "QAA"})  # from memory: the same
    assert icb_aliases(store, "E54000099") == frozenset({"E54000099"}) and icb_aliases(store, None) == frozenset()
