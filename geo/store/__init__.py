"""Store: where built tables and ingested datasets live. ``folder.Store`` is the embedded
GeoParquet store; ``datasets`` keeps uploaded activity data beside it; ``schema`` documents every
column. Everything that reads or writes stored data goes through here."""
