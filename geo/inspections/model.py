"""What an inspection record is, and a client's body checked against it (docs/inspections.md).

Parsing is shape only (types, vocabularies, lengths, caps); what needs the database (does the
workplace exist, is the foreigner's permit what the finding says) is checked by
:mod:`geo.inspections.record` before anything is written. Every error names the value's path,
e.g. ``findings[2].action_taken``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from geo.errors import ValidationError
from geo.models import FOREIGNER_STATUSES
from geo.times import WIB, parse_time

FINDINGS: Final = (
    "in_order",
    "permit_expired",
    "working_outside_sponsor",
    "no_documents",
    "overstay",
    "other",
)
# Findings that confirm a violation (the ranking's ``sponsor_violations``, docs/risk.md).
# "other" is not among them: it says nothing the ranking could weigh.
VIOLATIONS: Final = ("permit_expired", "working_outside_sponsor", "no_documents", "overstay")
# Findings that say the permit had run out on the day.
EXPIRED_FINDINGS: Final = frozenset({"permit_expired", "overstay"})
ACTIONS: Final = (
    "none",
    "warning",
    "administrative_sanction",
    "deportation_process",
    "referral_police",
)

MAX_FINDINGS: Final = 500  # foreigners checked in one inspection
MAX_AGENCIES: Final = 30
MAX_TEXT: Final = 10_000
MAX_REASON: Final = 2_000
MAX_REF: Final = 100
EARLIEST: Final = dt.date(2000, 1, 1)

TOP_KEYS: Final = frozenset(
    {
        "workplace_id",
        "inspected_on",
        "checked_at",
        "led_by",
        "agencies",
        "summary",
        "external_ref",
        "plan_stop_id",
        "findings",
    }
)
FINDING_KEYS: Final = frozenset(
    {"foreigner_id", "finding", "action_taken", "note", "permit_expires_on", "status"}
)

AgencyRef = int | str  # an agency's id, or its short name


@dataclass(frozen=True)
class FindingIn:
    foreigner_id: int
    finding: str
    action_taken: str
    note: str | None = None
    # The permit's expiry as read on the document (updates the registry when it differs).
    permit_expires_on: dt.date | None = None
    # A new registry status for the foreigner (e.g. ``absconded``), written through the registry.
    status: str | None = None


@dataclass(frozen=True)
class InspectionIn:
    workplace_id: int
    inspected_on: dt.date
    led_by: AgencyRef
    agencies: tuple[AgencyRef, ...] = ()
    summary: str | None = None
    external_ref: str | None = None
    checked_at: dt.datetime | None = None  # when the persons were checked (default: noon WIB)
    plan_stop_id: int | None = None  # the stop of a saved inspection plan this carries out
    findings: tuple[FindingIn, ...] = ()

    def sighted_at(self) -> dt.datetime:
        """The time of the checked persons' sightings: ``checked_at``, else noon (WIB)."""
        return self.checked_at or dt.datetime.combine(self.inspected_on, dt.time(12), WIB)


def _bad(path: str, message: str, value: Any) -> ValidationError:
    shown = value if isinstance(value, int | float | str) or value is None else str(value)[:100]
    if isinstance(shown, str):
        shown = shown[:100]
    return ValidationError(f"{path}: {message}; got {value!r}"[:400], field=path, value=shown)


def _id(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise _bad(path, "must be a record id (a positive integer)", value)
    return value


def _text(path: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(path, "must be a string", value)
    value = value.strip()
    if "\x00" in value:
        raise _bad(path, "must not contain NUL characters", value)
    if len(value) > limit:
        raise _bad(path, f"must be at most {limit} characters", value[:50] + "…")
    return value or None


def _choice(path: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _bad(path, f"must be one of {', '.join(choices)}", value)
    return value


def _date(path: str, value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise _bad(path, "must be an ISO date (YYYY-MM-DD)", value) from None
    else:
        raise _bad(path, "must be an ISO date (YYYY-MM-DD)", value)
    if not 1900 <= day.year <= 2200:
        raise _bad(path, "must be between the years 1900 and 2200", value)
    return day


def agency_ref(path: str, value: Any) -> AgencyRef:
    """An agency by id or by short name (``IMI``, ``POLRES``)."""
    if isinstance(value, str):
        name = value.strip()
        if not 1 <= len(name) <= 64:
            raise _bad(path, "must be an agency id or short name", value)
        return name
    return _id(path, value)


def _unknown_keys(path: str, body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            raise ValidationError(
                f"{path}{key}: unknown field; fields are {', '.join(sorted(allowed))}",
                field=f"{path}{key}",
                value=str(body[key])[:100],
            )


def parse_finding(index: int, body: Any) -> FindingIn:
    path = f"findings[{index}]"
    if not isinstance(body, Mapping):
        raise _bad(path, "must be an object", body)
    _unknown_keys(f"{path}.", body, FINDING_KEYS)
    for key in ("foreigner_id", "finding", "action_taken"):
        if body.get(key) is None:
            raise ValidationError(f"{path}.{key}: is required", field=f"{path}.{key}")
    expires = body.get("permit_expires_on")
    status = body.get("status")
    return FindingIn(
        foreigner_id=_id(f"{path}.foreigner_id", body["foreigner_id"]),
        finding=_choice(f"{path}.finding", body["finding"], FINDINGS),
        action_taken=_choice(f"{path}.action_taken", body["action_taken"], ACTIONS),
        note=_text(f"{path}.note", body.get("note"), MAX_TEXT),
        permit_expires_on=None
        if expires in (None, "")
        else _date(f"{path}.permit_expires_on", expires),
        status=None
        if status in (None, "")
        else _choice(f"{path}.status", status, FOREIGNER_STATUSES),
    )


def parse_inspection(body: Any, *, today: dt.date) -> InspectionIn:
    """A client's inspection (JSON object) → :class:`InspectionIn`; 422 naming each bad value."""
    if not isinstance(body, Mapping):
        raise _bad("body", "must be a JSON object", type(body).__name__)
    _unknown_keys("", body, TOP_KEYS)
    for key in ("workplace_id", "inspected_on", "led_by"):
        if body.get(key) is None:
            raise ValidationError(f"{key}: is required", field=key)
    inspected_on = _date("inspected_on", body["inspected_on"])
    if not EARLIEST <= inspected_on <= today:
        raise _bad(
            "inspected_on", f"must be between {EARLIEST} and today ({today})", str(inspected_on)
        )
    checked_at = None
    if body.get("checked_at") not in (None, ""):
        raw = body["checked_at"]
        if not isinstance(raw, str):
            raise _bad("checked_at", "must be an ISO 8601 datetime", raw)
        checked_at = parse_time(raw, field="checked_at")
        assert checked_at is not None
        if checked_at.astimezone(WIB).date() != inspected_on:
            raise _bad("checked_at", f"must fall on inspected_on ({inspected_on}, WIB)", raw)
    agencies = body.get("agencies") or []
    if not isinstance(agencies, list):
        raise _bad("agencies", "must be a list of agency ids or short names", agencies)
    if len(agencies) > MAX_AGENCIES:
        raise _bad("agencies", f"must list at most {MAX_AGENCIES} agencies", len(agencies))
    findings = body.get("findings") or []
    if not isinstance(findings, list):
        raise _bad("findings", "must be a list of findings", findings)
    if len(findings) > MAX_FINDINGS:
        raise _bad("findings", f"must list at most {MAX_FINDINGS} persons", len(findings))
    parsed = tuple(parse_finding(i, f) for i, f in enumerate(findings))
    seen: dict[int, int] = {}
    for i, f in enumerate(parsed):
        if f.foreigner_id in seen:
            raise _bad(
                f"findings[{i}].foreigner_id",
                f"is already checked in findings[{seen[f.foreigner_id]}]; one finding per person",
                f.foreigner_id,
            )
        seen[f.foreigner_id] = i
    return InspectionIn(
        workplace_id=_id("workplace_id", body["workplace_id"]),
        inspected_on=inspected_on,
        led_by=agency_ref("led_by", body["led_by"]),
        agencies=tuple(agency_ref(f"agencies[{i}]", a) for i, a in enumerate(agencies)),
        summary=_text("summary", body.get("summary"), MAX_TEXT),
        external_ref=_text("external_ref", body.get("external_ref"), MAX_REF),
        checked_at=checked_at,
        plan_stop_id=None
        if body.get("plan_stop_id") is None
        else _id("plan_stop_id", body["plan_stop_id"]),
        findings=parsed,
    )


def parse_reason(reason: Any) -> str:
    text = _text("reason", reason, MAX_REASON)
    if not text:
        raise ValidationError("reason: is required to void an inspection", field="reason")
    return text
