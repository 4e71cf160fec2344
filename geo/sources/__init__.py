"""Sources: the catalogue of official datasets (``catalogue``), downloading them or reading a
mirror (``fetch``), reading each file by its official column names (``loaders``), postcode keys
(``postcodes``) and the NHS statement's indicator list (``nhs_indicators``).

Nothing here reads or writes the store."""
