"""Reference geography: load the catalogue's layers, import an office's own boundaries, and
derive the zones and lookup pieces that location derivation uses.

Loading is idempotent: a row whose name, parent, source and geometry are unchanged is not
touched, and when nothing changed nothing downstream is rebuilt.

- :mod:`geo.boundaries.catalog` — the catalogue file, checksums, attributions, loading its layers;
- :mod:`geo.boundaries.office_import` — an office's own file replacing one admin level;
- :mod:`geo.boundaries.admin_areas` — validating and upserting admin areas;
- :mod:`geo.boundaries.features` — upserting reference features (border, places, land);
- :mod:`geo.boundaries.derived` — locate pieces, border-band and PLB-area zones, re-location;
- :mod:`geo.boundaries.status` — what the database holds, with sources and licences;
- :mod:`geo.boundaries.frames`, :mod:`geo.boundaries.reports` — reading files, what runs report.
"""

from geo.boundaries.admin_areas import validate_admin_frame
from geo.boundaries.catalog import (
    CATALOG_PATHS,
    attributions,
    load_catalog,
    load_reference_data,
    sha256_of,
)
from geo.boundaries.derived import BORDER_BANDS, PLB_ZONE_NAME, derive_zones
from geo.boundaries.features import KEY_POINT_KINDS
from geo.boundaries.office_import import (
    CODE_FIELD_CANDIDATES,
    NAME_FIELD_CANDIDATES,
    import_boundaries,
)
from geo.boundaries.reports import FeatureProblem, LayerReport, LoadReport
from geo.boundaries.status import boundary_status

__all__ = [
    "BORDER_BANDS",
    "CATALOG_PATHS",
    "CODE_FIELD_CANDIDATES",
    "KEY_POINT_KINDS",
    "NAME_FIELD_CANDIDATES",
    "PLB_ZONE_NAME",
    "FeatureProblem",
    "LayerReport",
    "LoadReport",
    "attributions",
    "boundary_status",
    "derive_zones",
    "import_boundaries",
    "load_catalog",
    "load_reference_data",
    "sha256_of",
    "validate_admin_frame",
]
