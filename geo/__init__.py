"""Gapmap's domain: data sources, the embedded store, joins, statistics and classification.

Data flows one way: :mod:`geo.sources.catalogue` and :mod:`geo.sources.fetch` find the official files,
:mod:`geo.sources.loaders` read them by their official column names, :mod:`geo.build.pipeline` joins them into
the tables that :mod:`geo.store.folder` keeps, and everything downstream reads the store.
"""

ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data \u00a9 Crown copyright and database right 2025. "
    "Source: Office for National Statistics, MHCLG English Indices of Deprivation 2025, "
    "DfE GIAS, NHS ODS, OHID Fingertips."
)
