"""Build: turns the sources into the store. ``pipeline.build`` is the entry point; beside it the
2011-2021 LSOA changes, PHE quantiles, area polygons, points (schools, GP practices, hospitals)
and MHCLG's area summaries."""
