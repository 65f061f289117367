"""Bulk import and export of the registry layers.

``import_file`` / ``import_frame`` validate every row, then load all of them or none through a
COPY staging table and one set-based upsert (the steps are listed in ``geo.io.importer``);
``export_layer`` writes GeoJSON, CSV, GeoPackage or XLSX with personal fields only for roles
that may see them (docs/privacy.md).
"""

from geo.io.exporter import EXPORT_FORMATS, export_layer
from geo.io.importer import ImportOptions, ImportReport, ImportSource, import_file, import_frame
from geo.io.layers import LAYERS, layer_spec

__all__ = [
    "EXPORT_FORMATS",
    "LAYERS",
    "ImportOptions",
    "ImportReport",
    "ImportSource",
    "export_layer",
    "import_file",
    "import_frame",
    "layer_spec",
]
