"""Reports from the offline field form: a sighting or an incident, sent once, maybe with a photo.

An entry waits in the phone's storage until there is signal, then arrives here with its own
idempotency key (a UUID made on the phone): a retry after a lost answer returns the first
answer, never a second record. The record itself is written by the registry's own
``create_feature`` — the same validation, derived fields, alert evaluation and audit as every
other write — in the name of the device and its team, for the device's agency (the record's
``agency_id`` and its sharing, as for a user of that agency; docs/privacy.md). A photo is
re-encoded (which drops its EXIF, GPS position included) and size-capped; it is kept beside the
record, visible only to roles that see personal data.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.errors import ValidationError
from geo.field.devices import Device
from geo.registry import idempotency
from geo.registry.layers import LAYERS
from geo.registry.writes import create_feature
from geo.settings import AreaSettings
from geo.users import Principal

FIELD_ROLE: Final = "field"  # the role a device writes as: no reads, no personal data
REPORT_KINDS: Final = {"sighting": "sightings", "incident": "incidents"}
PHOTO_MAX_PIXELS: Final = 1600  # longest side after re-encoding
PHOTO_TYPES: Final = ("image/jpeg", "image/png", "image/webp")


@dataclass(frozen=True)
class ReportOutcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def device_principal(device: Device) -> Principal:
    """Who a device writes as, in records and the audit log."""
    return Principal(
        name=f"device:{device.name}"[:100],
        role=FIELD_ROLE,
        agency_id=device.agency_id,
        agency=device.agency,
    )


def _photo(data_url: Any, *, max_bytes: int) -> tuple[bytes, int, int]:
    """The photo re-encoded as JPEG without metadata, from a ``data:image/...;base64,`` URL."""
    if not isinstance(data_url, str) or not data_url.startswith("data:"):
        raise ValidationError("photo must be a data: URL of an image", field="photo", value="…")
    header, _, payload = data_url.partition(",")
    content_type = header[5:].split(";")[0]
    if content_type not in PHOTO_TYPES or ";base64" not in header:
        raise ValidationError(
            f"photo must be base64 {', '.join(PHOTO_TYPES)}; got {content_type!r}",
            field="photo",
            value=content_type,
        )
    if len(payload) * 3 // 4 > max_bytes:
        raise ValidationError(
            f"photo is larger than {max_bytes // 1024} KiB", field="photo", value=len(payload)
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("photo is not valid base64", field="photo", value="…") from None
    from PIL import Image, UnidentifiedImageError  # only when a photo is sent

    Image.MAX_IMAGE_PIXELS = 50_000_000  # a decompression bomb is refused, not decoded
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.thumbnail((PHOTO_MAX_PIXELS, PHOTO_MAX_PIXELS))
            rgb = image.convert("RGB")  # drops EXIF, XMP and every other ancillary block
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            f"photo cannot be read as an image ({type(exc).__name__})", field="photo", value="…"
        ) from None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=80, optimize=True)
    return out.getvalue(), rgb.width, rgb.height


def _feature(body: Any, *, key: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise ValidationError("a report is a JSON object", field="body", value=type(body).__name__)
    kind = body.get("kind")
    if kind not in REPORT_KINDS:
        raise ValidationError(
            f"kind must be sighting or incident; got {kind!r}", field="kind", value=kind
        )
    properties = body.get("properties")
    if not isinstance(properties, dict):
        raise ValidationError("properties must be an object", field="properties", value=None)
    properties = dict(properties)
    if kind == "sighting":
        properties.setdefault("source", "patrol")
        # The phone's key makes the record's reference: a replay can never write twice.
        properties["external_ref"] = f"field:{key}"
    else:
        properties.setdefault("status", "open")
        properties["external_ref"] = f"field:{key}"
    return REPORT_KINDS[kind], {
        "type": "Feature",
        "geometry": body.get("geometry"),
        "properties": properties,
    }


def submit_report(
    *,
    session: Session,
    device: Device,
    body: Any,
    key: str,
    area: AreaSettings,
    photo_max_bytes: int,
    client: str | None = None,
) -> ReportOutcome:
    """Write one field report once (see the module docstring); raises ValidationError."""
    principal = device_principal(device)
    stored = idempotency.claim(
        session=session, user_name=principal.name, key=key, method="POST", path="/field/reports"
    )
    if stored is not None:
        return ReportOutcome(stored.status_code, orjson.loads(stored.body), replayed=True)
    layer_name, feature = _feature(body, key=key)
    photo = body.get("photo") if isinstance(body, dict) else None
    encoded = _photo(photo, max_bytes=photo_max_bytes) if photo else None
    layer = LAYERS[layer_name]
    result = create_feature(
        session=session, layer=layer, body=feature, principal=principal, area=area, client=client
    )
    record_id = int(result.feature["id"])
    outcome: dict[str, Any] = {
        "status": "accepted",
        "layer": layer_name,
        "id": record_id,
        "notes": result.notes,
    }
    if encoded is not None:
        outcome["photo_id"] = session.execute(
            text(
                "INSERT INTO field_photo (layer, record_id, device_id, image, width, height) "
                "VALUES (:layer, :record_id, :device_id, :image, :width, :height) RETURNING id"
            ),
            {
                "layer": layer_name,
                "record_id": record_id,
                "device_id": device.id,
                "image": encoded[0],
                "width": encoded[1],
                "height": encoded[2],
            },
        ).scalar_one()
    status_code = 201 if result.created else 200
    idempotency.save(
        session=session,
        user_name=principal.name,
        key=key,
        status_code=status_code,
        body=orjson.dumps(outcome),
    )
    return ReportOutcome(status_code, outcome)


def photo(*, session: Session, photo_id: int) -> bytes | None:
    """A stored photo (JPEG bytes), or None."""
    found = session.execute(
        text("SELECT image FROM field_photo WHERE id = :id"), {"id": int(photo_id)}
    ).scalar()
    return bytes(found) if found is not None else None
