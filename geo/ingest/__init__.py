"""Ingest: activity files into datasets. ``reading`` opens CSV/XLSX/Parquet, ``codes`` checks
LSOA codes, postcodes, ages, sexes, ethnic categories and dates, ``pipeline`` runs an ingest,
``report`` holds its result and reasons, ``fingertips`` reads OHID exports, and ``synthetic``
writes labelled demo data."""
