"""The boundary catalogue (data/boundaries/catalog.toml): reading it, checksums, attributions,
and loading every layer it names from the reference data folder."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from geo.boundaries.admin_areas import load_admin_layer
from geo.boundaries.derived import rebuild_derived
from geo.boundaries.features import feature_names, load_feature_layer
from geo.boundaries.frames import read_4326
from geo.boundaries.reports import LoadReport
from geo.errors import ConfigurationError
from geo.models import ADMIN_LEVELS
from geo.settings import PROJECT_ROOT, Settings

CATALOG_PATHS = (
    PROJECT_ROOT / "data" / "boundaries" / "catalog.toml",
    Path.cwd() / "data" / "boundaries" / "catalog.toml",
)


def load_catalog(path: Path | None = None) -> dict[str, dict[str, Any]]:
    candidates = [path] if path else list(CATALOG_PATHS)
    for cand in candidates:
        if cand is not None and cand.exists():
            with cand.open("rb") as fh:
                layers: dict[str, dict[str, Any]] = tomllib.load(fh)["layers"]
                return layers
    raise ConfigurationError("boundary catalogue data/boundaries/catalog.toml not found")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def attributions() -> list[str]:
    """The distinct attributions every map and export made from the reference layers carries."""
    seen: list[str] = []
    for layer in load_catalog().values():
        text_ = str(layer.get("attribution", "")).strip()
        if text_ and text_ not in seen:
            seen.append(text_)
    return seen


# --- loading the catalogue's layers ------------------------------------------------------------


def load_reference_data(
    *, session: Session, settings: Settings, source_dir: Path | None = None
) -> LoadReport:
    """Load every catalogue layer from ``source_dir`` (default: the reference data setting)."""
    directory = Path(source_dir or settings.area.reference_data_dir).resolve()
    if not directory.is_dir():
        raise ConfigurationError(
            f"reference data folder {directory} not found; set TIMPORA_REFERENCE_DATA_DIR "
            "or pass DIR (see data/boundaries/README.md for where to get the files)"
        )
    catalog = load_catalog()
    report = LoadReport(source_dir=directory)
    key_point_names: set[str] = set()
    # Admin levels first (parents before children), then features; key points before towns.
    order = sorted(
        catalog.items(),
        key=lambda kv: (
            kv[1]["target"] != "admin_area",
            ADMIN_LEVELS.index(kv[1]["level"]) if "level" in kv[1] else 0,
            kv[0] != "key_points",
        ),
    )
    for name, spec in order:
        path = directory / spec["file"]
        if not path.exists():
            raise ConfigurationError(
                f"layer {name!r}: {path} not found (catalogue: data/boundaries/catalog.toml; "
                f"how to obtain: {spec.get('obtain', 'see the catalogue')})"
            )
        checksum = "ok" if sha256_of(path) == spec.get("sha256") else "differs from catalogue"
        source = spec["file"]
        frame = read_4326(path, name)
        if spec["target"] == "admin_area":
            layer = load_admin_layer(
                session=session,
                frame=frame,
                level=spec["level"],
                name_field=spec["name_field"],
                code_field=spec["code_field"],
                parent_field=spec.get("parent_field"),
                source=source,
                layer_name=name,
                replace_level=False,
            )
        else:
            layer = load_feature_layer(
                session=session,
                frame=frame,
                spec=spec,
                name=name,
                source=source,
                skip_names=key_point_names if name == "towns" else set(),
            )
            if name == "key_points":
                key_point_names = {str(n) for n in feature_names(frame, spec)}
        layer.checksum = checksum
        report.layers.append(layer)
    rebuild_derived(session=session, settings=settings, report=report, force=False)
    return report
