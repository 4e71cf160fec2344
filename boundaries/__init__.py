"""The source catalogue (``sources.toml``) lives here; downloaded files land in ``downloads/``."""
