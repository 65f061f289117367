"""The rule catalogue: which rules exist, their parameters with defaults and bounds, which rules a
write of each layer can trigger, and the rules as configured in ``alert_rule`` (docs/alerts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError

LAYERS: Final = ("sightings", "incidents", "workplaces", "foreigners")

# Which rules a write of each layer can trigger (``rule@layer`` names a rule's other driver).
LAYER_RULES: Final[dict[str, tuple[str, ...]]] = {
    "sightings": (
        "sighting_near_border",
        "sighting_in_zone",
        "expired_permit_sighting",
        "plb_outside_area",
        "far_from_sponsor",
    ),
    "incidents": ("incident_near_workplace", "incident_cluster"),
    "workplaces": ("incident_near_workplace@workplaces",),
    "foreigners": ("permit_expiring",),
}
BATCH_RULES: Final = (
    "incident_near_workplace",
    "incident_cluster",
    "sighting_near_border",
    "sighting_in_zone",
    "expired_permit_sighting",
    "plb_outside_area",
    "far_from_sponsor",
    "permit_expiring",
)

RULES_SQL: Final = text("SELECT id, kind, parameters, severity, enabled FROM alert_rule")


# Parameter bounds, for validation.


@dataclass(frozen=True)
class Param:
    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, name: str, value: Any) -> Any:
        if self.kind is list:
            return _check_list(name, value, self)
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(
                    f"{name} must be a number; got {value!r}", field=name, value=value
                )
            value = float(value)
        elif self.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValidationError(
                f"{name} must be an integer; got {value!r}", field=name, value=value
            )
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(
                f"{name} must be at least {self.minimum:g}; got {value!r}", field=name, value=value
            )
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(
                f"{name} must be at most {self.maximum:g}; got {value!r}", field=name, value=value
            )
        return value


def _check_list(name: str, value: Any, spec: Param) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{name} must be a non-empty list; got {value!r}", field=name)
    out: list[Any] = []
    for item in value:
        if spec.choices:
            if item not in spec.choices:
                raise ValidationError(
                    f"{name}: {item!r} is not one of {', '.join(spec.choices)}",
                    field=name,
                    value=item,
                )
        elif (
            isinstance(item, bool)
            or not isinstance(item, int)
            or not ((spec.minimum or 0) <= item <= (spec.maximum or item))
        ):
            raise ValidationError(
                f"{name}: each value must be an integer from {spec.minimum:g} to "
                f"{spec.maximum:g}; got {item!r}",
                field=name,
                value=item,
            )
        out.append(item)
    return out


QUIET_DAYS: Final = Param(float, 0.01, 3650)

PARAMETERS: Final[dict[str, dict[str, Param]]] = {
    "incident_near_workplace": {"radius_m": Param(float, 1, 50_000), "quiet_days": QUIET_DAYS},
    "sighting_near_border": {
        "distance_m": Param(float, 1, 100_000),
        "routine_m": Param(float, 0, 50_000),
        "crossing_post_m": Param(float, 0, 50_000),
        "quiet_days": QUIET_DAYS,
    },
    "sighting_in_zone": {
        "zone_kinds": Param(
            list, choices=("watch", "restricted", "patrol_sector", "border_band", "plb_area")
        ),
        "quiet_days": QUIET_DAYS,
    },
    "expired_permit_sighting": {"quiet_days": QUIET_DAYS},
    "plb_outside_area": {"quiet_days": QUIET_DAYS},
    "far_from_sponsor": {
        "distance_m": Param(float, 1, 1_000_000),
        "home_m": Param(float, 0, 1_000_000),
        "usual_radius_m": Param(float, 0, 100_000),
        "usual_days": Param(float, 0, 365),
        "usual_min": Param(int, 1, 1000),
        "quiet_days": QUIET_DAYS,
    },
    "incident_cluster": {
        "min_incidents": Param(int, 2, 1000),
        "radius_m": Param(float, 1, 100_000),
        "window_days": Param(float, 0.01, 3650),
        "cell_m": Param(float, 100, 100_000),
        "quiet_days": QUIET_DAYS,
    },
    "permit_expiring": {"windows_days": Param(list, 0, 3650), "quiet_days": QUIET_DAYS},
}

# Defaults (the rows seeded by migration 0005 hold the older ones; these fill what they lack).
DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "incident_near_workplace": {"radius_m": 500.0, "quiet_days": 30.0},
    "sighting_near_border": {
        "distance_m": 2000.0,
        "routine_m": 1000.0,
        "crossing_post_m": 1000.0,
        "quiet_days": 7.0,
    },
    "sighting_in_zone": {"zone_kinds": ["watch", "restricted"], "quiet_days": 7.0},
    "expired_permit_sighting": {"quiet_days": 90.0},
    "plb_outside_area": {"quiet_days": 7.0},
    "far_from_sponsor": {
        "distance_m": 25_000.0,
        "home_m": 5000.0,
        "usual_radius_m": 2000.0,
        "usual_days": 30.0,
        "usual_min": 3,
        "quiet_days": 7.0,
    },
    "incident_cluster": {
        "min_incidents": 3,
        "radius_m": 1000.0,
        "window_days": 14.0,
        "cell_m": 2000.0,
        "quiet_days": 14.0,
    },
    "permit_expiring": {"windows_days": [30, 7], "quiet_days": 31.0},
}


def validate_parameters(kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` checked against the rule's schema; errors name ``parameters.<name>``."""
    if kind not in PARAMETERS:
        raise ValidationError(f"unknown rule {kind!r}", field="kind", value=kind)
    spec = PARAMETERS[kind]
    if not isinstance(parameters, dict):
        raise ValidationError("parameters must be an object", field="parameters")
    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if name not in spec:
            allowed = ", ".join(spec) or "none"
            raise ValidationError(
                f"parameters.{name}: rule {kind} has no such parameter (allowed: {allowed})",
                field=f"parameters.{name}",
                value=name,
            )
        out[name] = spec[name].check(f"parameters.{name}", value)
    return out


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    parameters: dict[str, Any]
    severity: int
    enabled: bool


def load_rules(session: Session) -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for row in session.execute(RULES_SQL):
        known = PARAMETERS.get(row.kind, {})  # a retired parameter left in a row is ignored
        stored = {k: v for k, v in (row.parameters or {}).items() if k in known}
        params = {**DEFAULTS.get(row.kind, {}), **stored}
        rules[row.kind] = Rule(row.id, row.kind, params, row.severity, row.enabled)
    return rules
