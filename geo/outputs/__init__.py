"""Outputs: files made from views: GeoJSON, GeoPackage, CSV and offline HTML exports, slide
images, shared palettes and geometry text."""
