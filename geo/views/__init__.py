"""Views: what the maps, panels, exports and slides show for an indicator on an extent, read from
the store and computed with ``stats`` and ``rates`` (``analysis``, ``targeting``, weights per
extent)."""
