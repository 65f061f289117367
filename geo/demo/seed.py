"""Load the generated demo tables through the bulk importer, record the demo's inspections
(``geo.demo.inspections``) and write the answer key."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.demo.followup import seed_followup
from geo.demo.generate import SIZES, describe, generate, load_geography
from geo.demo.inspections import plant_inspections
from geo.demo.truth import ground_truth
from geo.io.importer import ImportOptions, ImportSource, Progress, import_frame
from geo.settings import AreaSettings
from geo.times import today_wib


@dataclass
class DemoReport:
    seed: int
    size: str
    end: dt.date
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    ground_truth: dict[str, Any] = field(default_factory=dict)
    ground_truth_path: Path | None = None
    seconds: float = 0.0
    followup: dict[str, int] = field(default_factory=dict)  # meetings and actions added
    inspections: int = 0  # recorded by this run (geo.demo.inspections)


FIRST_RUN_SQL = text(
    """
    SELECT EXISTS (SELECT 1 FROM foreigner) AS has_people,
           EXISTS (SELECT 1 FROM admin_area WHERE level = 'kecamatan') AS has_areas
    """
)


def first_run_skip_reason(*, session: Session) -> str | None:
    """Why a first-run set-up must not seed the demo set, or None when it may."""
    row = session.execute(FIRST_RUN_SQL).one()
    if row.has_people:
        return "the registry already holds foreigners"
    if not row.has_areas:
        return "no reference geography loaded"
    return None


def default_ground_truth_path(data_dir: Path, seed: int, size: str) -> Path:
    """Where the CLI writes the answer key: DATA_DIR/demo/ground_truth_seed{N}_{size}.json."""
    return Path(data_dir) / "demo" / f"ground_truth_seed{seed}_{size}.json"


def seed(
    *,
    session: Session,
    seed: int = 7,
    size: str = "small",
    end: dt.date | None = None,
    area: AreaSettings | None = None,
    ground_truth_path: Path | None = None,
    evaluate_alerts: bool | None = None,
    progress: Progress | None = None,
) -> DemoReport:
    """Generate and load the demo set in the caller's transaction; deterministic for
    (``seed``, ``size``, ``end``). ``end`` (default: today, WIB) closes the twelve months.

    Loading again with the same arguments changes nothing (rows are keyed by ``DEMO-…``
    external refs). Alerts are evaluated on write for the small set; for the large set run
    ``timpora alerts run`` afterwards (evaluate_alerts=True forces it).
    """
    started = time.perf_counter()
    end = end or today_wib()
    area = area or AreaSettings()
    geo = load_geography(session)
    data = generate(geo=geo, seed=seed, size=size, end=end)
    alerts = (size == "small") if evaluate_alerts is None else evaluate_alerts
    report = DemoReport(seed=seed, size=size, end=end)
    digests = describe(data)
    for layer, frame in data.tables():
        loaded = import_frame(
            session=session,
            layer=layer,
            source=ImportSource(frame=frame, name=f"demo seed={seed} size={size}", first_row=1),
            area=area,
            options=ImportOptions(evaluate_alerts=alerts),
            progress=progress,
        )
        report.layers[layer] = {**loaded.as_dict(), "digest": digests[layer]["digest"]}
    # Coordination meetings and their follow-up actions, linked to the incidents just loaded.
    report.followup = seed_followup(session=session, end=end, seed=seed)
    report.ground_truth = ground_truth(
        seed=seed, size=size, end=end, n_incidents=SIZES[size]["incidents"], planted=data.truth
    )
    report.inspections = plant_inspections(
        session=session, ground_truth=report.ground_truth, end=end, area=area
    )
    if ground_truth_path is not None:
        ground_truth_path.parent.mkdir(parents=True, exist_ok=True)
        ground_truth_path.write_text(json.dumps(report.ground_truth, indent=2) + "\n")
        report.ground_truth_path = ground_truth_path
    report.seconds = time.perf_counter() - started
    return report
