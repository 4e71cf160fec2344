"""Which ingested datasets are attached to which NHS statement indicator (``--nhs-indicator``)."""
from __future__ import annotations

from geo.store.datasets import DatasetStore
from geo.store.folder import Store


def attached(store: Store) -> dict[str, list[dict]]:
    """NHS indicator code -> metadata of the LSOA datasets attached to it, newest first."""
    out: dict[str, list[dict]] = {}
    for meta in DatasetStore(store).list():
        code = meta.get("nhs_indicator")
        if code:
            out.setdefault(code, []).append(meta)
    for metas in out.values():
        metas.sort(key=lambda m: m.get("ingested_at", ""), reverse=True)
    return out
