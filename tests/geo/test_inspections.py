"""Inspections: a record updates the registry in one transaction (or writes nothing), each
ranking factor it feeds on hand-built cases, and roles without personal data see counts only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import inspections, risk
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.roles import role_for, use_role
from geo.settings import AreaSettings
from geo.users import Principal
from tests.geo.test_risk import SITES, add_sighting, add_worker, add_workplace

AS_OF = dt.date(2025, 6, 1)
LATER = AS_OF + dt.timedelta(days=400)
ANALYST = Principal(name="insp-analyst", role="analyst")
VIEWER = Principal(name="insp-viewer", role="viewer")
AREA = AreaSettings()


def add_agency(session: Session, short: str) -> int:
    return int(
        session.execute(
            text(
                "INSERT INTO agency (name, short_name, kind) VALUES (:n, :s, 'other') RETURNING id"
            ),
            {"n": f"Test agency {short}", "s": short},
        ).scalar_one()
    )


@pytest.fixture
def place(session: Session) -> dict[str, Any]:
    """A workplace (``site``) with two workers, the ``sponsor`` of a third working elsewhere,
    and two agencies."""
    site = add_workplace(session, "hidden", quota=10)
    sponsor = add_workplace(session, "sponsor", quota=10)
    return {
        "site": site,
        "sponsor": sponsor,
        "valid": add_worker(session, site, LATER, "Valid Insp Worker"),
        "lapsed": add_worker(session, site, LATER, "Lapsed Insp Worker"),
        "outsider": add_worker(session, sponsor, LATER, "Outsider Insp Worker"),
        "lead": add_agency(session, "TST-IMI"),
        "police": add_agency(session, "TST-POL"),
    }


def body(place: dict[str, Any], findings: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "workplace_id": place["site"],
        "inspected_on": kw.pop("on", (AS_OF - dt.timedelta(days=10)).isoformat()),
        "led_by": "TST-IMI",
        "agencies": [place["police"]],
        "summary": "Pemeriksaan gabungan; dua pekerja diperiksa.",
        "findings": findings,
        **kw,
    }


def record(session: Session, payload: dict[str, Any], principal: Principal = ANALYST) -> int:
    return inspections.record(
        session=session, principal=principal, body=payload, area=AREA, today=AS_OF
    )


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.execute(
            text(
                "SELECT (SELECT count(*) FROM inspection), (SELECT count(*) FROM inspection_agency),"
                " (SELECT count(*) FROM inspection_finding),"
                " (SELECT count(*) FROM sighting WHERE source = 'inspection'),"
                " (SELECT count(*) FROM audit_log WHERE resource LIKE 'inspections/%'),"
                " (SELECT count(*) FROM foreigner WHERE permit_expires_on < '2025-06-01')"
            )
        ).one()
    )


def ranked(session: Session, principal: Principal = ANALYST) -> dict[int, dict[str, Any]]:
    query = risk.parse_query(limit=risk.MAX_LIMIT, as_of=AS_OF)
    body = risk.rank(session=session, query=query, principal=principal)
    return {w["workplace_id"]: w for w in body["workplaces"]}


def value(item: dict[str, Any], factor: str) -> Any:
    return next(f["value"] for f in item["factors"] if f["factor"] == factor)


def test_a_finding_updates_the_registry_and_the_next_ranking(
    session: Session, place: dict[str, Any]
) -> None:
    before = ranked(session)[place["site"]]
    assert value(before, "expired_permits") == 0
    assert value(before, "days_since_inspection") == risk.INSPECTION_HORIZON_DAYS
    new_id = record(
        session,
        body(
            place,
            [
                {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"},
                {
                    "foreigner_id": place["lapsed"],
                    "finding": "permit_expired",
                    "action_taken": "deportation_process",
                    "permit_expires_on": "2025-04-30",
                    "note": "ITAS habis, paspor ditahan",
                },
            ],
        ),
    )
    expires = session.execute(
        text("SELECT permit_expires_on FROM foreigner WHERE id = :id"), {"id": place["lapsed"]}
    ).scalar_one()
    assert expires == dt.date(2025, 4, 30)
    # One sighting per person checked, at the workplace's point, of the inspection's day.
    rows = session.execute(
        text(
            "SELECT s.foreigner_id, s.observed_at, ST_Distance(s.geom_utm, w.geom_utm) AS d"
            " FROM sighting s JOIN workplace w ON w.id = :site"
            " WHERE s.source = 'inspection' ORDER BY s.foreigner_id"
        ),
        {"site": place["site"]},
    ).all()
    assert [r.foreigner_id for r in rows] == sorted([place["valid"], place["lapsed"]])
    assert all(r.d < 0.01 for r in rows)
    assert all(r.observed_at == dt.datetime(2025, 5, 22, 5, tzinfo=dt.UTC) for r in rows)
    # The sighting of a person whose permit ran out raised its alert in the same transaction.
    rule = session.execute(
        text("SELECT rule_kind FROM alert WHERE foreigner_id = :f"), {"f": place["lapsed"]}
    ).scalars()
    assert "expired_permit_sighting" in set(rule)
    agencies = session.execute(
        text("SELECT agency_id FROM inspection_agency WHERE inspection_id = :i ORDER BY 1"),
        {"i": new_id},
    ).scalars()
    assert list(agencies) == sorted([place["lead"], place["police"]])  # the lead is present
    audit = session.execute(
        text("SELECT record_count FROM audit_log WHERE resource = :r AND action = 'create'"),
        {"r": f"inspections/{new_id}"},
    ).scalar_one()
    assert audit == 2
    after = ranked(session)[place["site"]]
    assert value(after, "expired_permits") == 1
    assert value(after, "days_since_inspection") == 10
    assert after["last_inspected_on"] == "2025-05-22"


@pytest.mark.parametrize(
    ("finding", "field"),
    [
        pytest.param({"finding": "wrong"}, "findings[1].finding", id="finding"),
        pytest.param({"action_taken": "jail"}, "findings[1].action_taken", id="action"),
        pytest.param({"foreigner_id": 2**31 - 2}, "findings[1].foreigner_id", id="person"),
        pytest.param({"status": "gone"}, "findings[1].status", id="status"),
        pytest.param({"colour": "red"}, "findings[1].colour", id="unknown"),
        # An expired-permit finding against a permit the registry holds valid, no date given.
        pytest.param({"finding": "permit_expired"}, "findings[1].permit_expires_on", id="permit"),
    ],
)
def test_a_refused_record_writes_nothing(
    session: Session, place: dict[str, Any], finding: dict[str, Any], field: str
) -> None:
    before = counts(session)
    good = {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"}
    bad = {"foreigner_id": place["lapsed"], "finding": "other", "action_taken": "warning"}
    with pytest.raises(ValidationError) as err:
        record(session, body(place, [good, bad | finding]))
    assert err.value.field == field
    assert counts(session) == before


def test_a_registry_refusal_midway_rolls_everything_back(
    session: Session, place: dict[str, Any]
) -> None:
    """The inspection rows are written before the sightings; the sighting of a workplace
    outside the area of interest is refused by the registry, and nothing stays."""
    session.execute(
        text(
            "UPDATE workplace SET geom = ST_SetSRID(ST_MakePoint(112.5, 1.2), 4326) WHERE id = :w"
        ),
        {"w": place["site"]},
    )
    before = counts(session)
    finding = {
        "foreigner_id": place["lapsed"],
        "finding": "permit_expired",
        "action_taken": "warning",
        "permit_expires_on": "2025-05-01",
    }
    with pytest.raises(ValidationError) as err:
        record(session, body(place, [finding]))
    assert err.value.field is not None and err.value.field.startswith("findings[0]")
    assert counts(session) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"workplace_id": 2**31 - 2}, "workplace_id", id="workplace"),
        pytest.param({"led_by": "NOPE"}, "led_by", id="lead"),
        pytest.param({"agencies": [2**31 - 2]}, "agencies[0]", id="agency"),
        pytest.param({"on": "2025-06-02"}, "inspected_on", id="future"),
        pytest.param({"on": "1 June"}, "inspected_on", id="date"),
        pytest.param({"checked_at": "2025-05-23T10:00:00+07:00"}, "checked_at", id="other-day"),
        pytest.param({"findings": "none"}, "findings", id="findings"),
    ],
)
def test_bad_values_are_named(
    session: Session, place: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    payload = body(place, []) | change
    if "on" in change:
        payload = body(place, [], on=change["on"])
    with pytest.raises(ValidationError) as err:
        record(session, payload)
    assert err.value.field == field


def test_one_finding_per_person_and_external_ref_once(
    session: Session, place: dict[str, Any]
) -> None:
    f = {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"}
    with pytest.raises(ValidationError) as err:
        record(session, body(place, [f, f]))
    assert err.value.field == "findings[1].foreigner_id"
    record(session, body(place, [f], external_ref="OPS-1"))
    with pytest.raises(ConflictError):
        record(session, body(place, [], external_ref="OPS-1"))


def test_days_since_inspection(session: Session, place: dict[str, Any]) -> None:
    plain = add_workplace(session, "plain", quota=10)
    late = add_workplace(session, "quota", quota=10)
    voided = add_workplace(session, "alerts", quota=10)
    record(session, body(place, [], on="2025-05-02"))  # 30 days before
    record(session, body(place, [], on="2025-03-01"))  # an older one does not matter
    record(session, body(place, [], on="2024-01-01") | {"workplace_id": late})  # > 365 days
    gone = record(session, body(place, [], on="2025-05-31") | {"workplace_id": voided})
    inspections.void(session=session, principal=ANALYST, inspection_id=gone, reason="wrong site")
    by_id = ranked(session)
    assert value(by_id[place["site"]], "days_since_inspection") == 30
    assert value(by_id[late], "days_since_inspection") == risk.INSPECTION_HORIZON_DAYS
    assert value(by_id[voided], "days_since_inspection") == risk.INSPECTION_HORIZON_DAYS
    assert value(by_id[plain], "days_since_inspection") == risk.INSPECTION_HORIZON_DAYS
    # Ranked as of a day before the inspection, it had not happened yet.
    query = risk.parse_query(limit=risk.MAX_LIMIT, as_of="2025-04-01")
    early = {
        w["workplace_id"]: w
        for w in risk.rank(session=session, query=query, principal=ANALYST)["workplaces"]
    }
    assert value(early[place["site"]], "days_since_inspection") == 31  # from 1 March
    # Recently inspected drops: its points are those of 30 days, a never inspected site's 365.
    weight = risk.DEFAULT_WEIGHTS["days_since_inspection"]

    def points(item: dict[str, Any]) -> float:
        return float(
            next(f["points"] for f in item["factors"] if f["factor"] == "days_since_inspection")
        )

    assert points(by_id[place["site"]]) == pytest.approx(30 * weight)
    assert points(by_id[plain]) == pytest.approx(risk.INSPECTION_HORIZON_DAYS * weight)
    with pytest.raises(ConflictError):
        inspections.void(session=session, principal=ANALYST, inspection_id=gone, reason="again")
    with pytest.raises(NotFoundError):
        inspections.void(session=session, principal=ANALYST, inspection_id=2**31 - 2, reason="x")


def test_sponsor_violations(session: Session, place: dict[str, Any]) -> None:
    """A violator found at the inspected site raises their sponsor's site and the sites where
    the sponsor's other workers are seen working; never the inspected site itself."""
    elsewhere = add_workplace(session, "plain", quota=10)  # > 5 km from the sponsor
    mate = add_worker(session, place["sponsor"], LATER, "Mate Insp Worker")
    lon, lat = SITES["plain"]
    for day in (20, 21):  # the sponsor's other worker, seen working at ``elsewhere``
        add_sighting(session, mate, lon, lat, day=day)
    before = ranked(session)
    assert value(before[place["sponsor"]], "sponsor_violations") == 0
    record(
        session,
        body(
            place,
            [
                {
                    "foreigner_id": place["outsider"],
                    "finding": "working_outside_sponsor",
                    "action_taken": "administrative_sanction",
                },
                {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"},
            ],
        ),
    )
    by_id = ranked(session)
    assert value(by_id[place["sponsor"]], "sponsor_violations") == 1
    assert value(by_id[elsewhere], "sponsor_violations") == 1
    assert value(by_id[place["site"]], "sponsor_violations") == 0
    assert by_id[place["sponsor"]]["score"] - before[place["sponsor"]]["score"] == pytest.approx(
        risk.DEFAULT_WEIGHTS["sponsor_violations"]
    )
    reasons = by_id[place["sponsor"]]["reasons"]["sponsor_violations"]
    assert [p["foreigner_id"] for p in reasons] == [place["outsider"]]
    assert [p["foreigner_id"] for p in by_id[elsewhere]["reasons"]["sponsor_violations"]] == [
        place["outsider"]
    ]
    # Outside the window it no longer counts; an in_order finding never does.
    query = risk.parse_query(limit=risk.MAX_LIMIT, as_of="2025-12-01", window_days=30)
    later = {
        w["workplace_id"]: w
        for w in risk.rank(session=session, query=query, principal=ANALYST)["workplaces"]
    }
    assert value(later[place["sponsor"]], "sponsor_violations") == 0
    # A viewer sees "<3", scored as 2 (docs/risk.md), and no reasons.
    use_role(session, role_for("viewer"))
    seen = ranked(session, principal=VIEWER)[place["sponsor"]]
    assert value(seen, "sponsor_violations") == "<3" and "reasons" not in seen
    points = next(f["points"] for f in seen["factors"] if f["factor"] == "sponsor_violations")
    assert points == 2 * risk.DEFAULT_WEIGHTS["sponsor_violations"]


def test_aggregate_roles_get_counts_and_no_person(session: Session, place: dict[str, Any]) -> None:
    new_id = record(
        session,
        body(
            place,
            [
                {"foreigner_id": place["valid"], "finding": "in_order", "action_taken": "none"},
                {
                    "foreigner_id": place["lapsed"],
                    "finding": "no_documents",
                    "action_taken": "referral_police",
                    "note": "Tidak membawa paspor",
                },
            ],
        ),
    )
    mine = inspections.get_inspection(session=session, principal=ANALYST, inspection_id=new_id)
    assert {f["full_name"] for f in mine["findings"]} == {"Valid Insp Worker", "Lapsed Insp Worker"}
    assert mine["summary"].startswith("Pemeriksaan")
    # Under the aggregate database role, as the API runs a viewer's request.
    use_role(session, role_for("viewer"))
    page = inspections.list_inspections(
        session=session, principal=VIEWER, query=inspections.parse_query(agency="TST-POL")
    )
    (item,) = page["inspections"]
    assert item["led_by"]["short_name"] == "TST-IMI"
    assert item["counts"] == [
        {"finding": "in_order", "action_taken": "none", "persons": "<3"},
        {"finding": "no_documents", "action_taken": "referral_police", "persons": "<3"},
    ]
    text_of_page = repr(page)
    for secret in ("Insp Worker", "paspor", "Pemeriksaan", "insp-analyst"):
        assert secret not in text_of_page
    assert "findings" not in item and "summary" not in item
    # The tally of the period (the briefing pack) is counts only.
    tally = inspections.tally(session=session, start=dt.date(2025, 5, 1), end=AS_OF)
    assert tally.inspections == 1 and tally.workplaces == 1
    by_agency = {a.short_name: a for a in tally.agencies}
    assert (by_agency["TST-IMI"].led, by_agency["TST-IMI"].present) == (1, 1)
    assert (by_agency["TST-POL"].led, by_agency["TST-POL"].present) == (0, 1)
    assert by_agency["TST-POL"].violations == 1
    assert tally.cells == {("in_order", "none"): 1, ("no_documents", "referral_police"): 1}


def test_list_filters(session: Session, place: dict[str, Any]) -> None:
    a = record(session, body(place, [], on="2025-05-01"))
    b = record(session, body(place, [], on="2025-05-20", agencies=[]))

    def ids(**kw: Any) -> list[int]:
        query = inspections.parse_query(**kw)
        page = inspections.list_inspections(session=session, principal=ANALYST, query=query)
        return [i["id"] for i in page["inspections"] if i["workplace_id"] == place["site"]]

    assert ids() == [b, a]  # newest first
    assert ids(agency="TST-POL") == [a]
    assert ids(start="2025-05-10") == [b]
    assert ids(end="2025-05-10") == [a]
    assert ids(workplace_id=place["site"], limit=1) == [b]
    for kw, field in (
        ({"limit": 0}, "limit"),
        ({"limit": inspections.reads.MAX_LIMIT + 1}, "limit"),
        ({"start": "May"}, "start"),
        ({"start": "2025-05-10", "end": "2025-05-01"}, "start"),
    ):
        with pytest.raises(ValidationError) as err:
            inspections.parse_query(**kw)  # type: ignore[arg-type]
        assert err.value.field == field


def test_an_inspection_carries_out_a_plan_stop(session: Session, place: dict[str, Any]) -> None:
    stops = session.execute(
        text(
            "WITH p AS (INSERT INTO inspection_plan (created_by, created_by_role, period,"
            " starts_on, ends_on, start_geom, max_route_km, max_stops, route_length_m)"
            " VALUES ('insp-analyst', 'analyst', 'day', '2025-05-22', '2025-05-22',"
            " ST_SetSRID(ST_MakePoint(109.2, 1.2), 4326), 50, 5, 0) RETURNING id)"
            " INSERT INTO inspection_plan_stop (plan_id, position, visit_on, workplace_id,"
            " workplace_name, geom, leg_m, score, factors, agencies)"
            " SELECT p.id, x.pos, '2025-05-22', x.wid, 'stop', ST_SetSRID(ST_MakePoint(109.2,"
            " 1.2), 4326), 0, 1, '[]', '[]'"
            " FROM p, (VALUES (1, CAST(:site AS integer)), (2, CAST(:other AS integer))) x(pos, wid)"
            " RETURNING id"
        ),
        {"site": place["site"], "other": place["sponsor"]},
    ).scalars()
    here, there = sorted(stops)
    with pytest.raises(ValidationError) as err:
        record(session, body(place, [], plan_stop_id=there))
    assert err.value.field == "plan_stop_id" and "not at workplace" in err.value.message
    with pytest.raises(ValidationError) as err:
        record(session, body(place, [], plan_stop_id=2**31 - 2))
    assert err.value.field == "plan_stop_id"
    new_id = record(session, body(place, [], plan_stop_id=here))
    item = inspections.get_inspection(session=session, principal=ANALYST, inspection_id=new_id)
    assert item["plan_stop_id"] == here
