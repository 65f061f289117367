"""The text of the messages, in Bahasa Indonesia or English, as the subscription's role may see it.

Plain text (every channel shows it; e-mail gets an HTML twin from Apprise). Personal data
(a subject's name and nationality, where and how far) only for roles that see personal data
(docs/privacy.md); for the others an alert about a person says which rule, how severe, when and
in which kecamatan and desa, as a webhook does, and the digest is counts only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from geo import access
from geo.times import WIB

RULE_LABELS: Final[dict[str, dict[str, str]]] = {
    "incident_near_workplace": {
        "id": "Kejadian dekat tempat kerja",
        "en": "Incident near a workplace",
    },
    "sighting_near_border": {"id": "WNA dekat batas negara", "en": "Sighting near the border"},
    "sighting_in_zone": {"id": "WNA masuk zona pengawasan", "en": "Sighting in a watch zone"},
    "expired_permit_sighting": {
        "id": "Izin tinggal habis (overstay)",
        "en": "Expired permit sighted",
    },
    "plb_outside_area": {"id": "PLB di luar area PLB", "en": "PLB holder outside the area"},
    "far_from_sponsor": {"id": "Jauh dari sponsor", "en": "Far from the sponsor"},
    "incident_cluster": {"id": "Klaster kejadian", "en": "Incident cluster"},
    "permit_expiring": {"id": "Izin segera habis", "en": "Permit expiring"},
}

TEXT: Final[dict[str, dict[str, str]]] = {
    "new_one": {"id": "Peringatan baru", "en": "New alert"},
    "new_many": {"id": "{n} peringatan baru", "en": "{n} new alerts"},
    "severity": {"id": "tingkat", "en": "severity"},
    "kec": {"id": "Kec.", "en": "Kec."},
    "desa": {"id": "Desa", "en": "Desa"},
    "outside_areas": {"id": "di luar wilayah kecamatan", "en": "outside every kecamatan"},
    "subject": {"id": "Subjek", "en": "Subject"},
    "workplace": {"id": "Tempat kerja", "en": "Workplace"},
    "zone": {"id": "Zona", "en": "Zone"},
    "distance": {"id": "jarak", "en": "distance"},
    "more": {"id": "… dan {n} lainnya", "en": "… and {n} more"},
    "queue": {"id": "Antrean peringatan", "en": "Alert queue"},
    "digest_title": {
        "id": "Ringkasan harian {date}: {open} episode terbuka, {new} baru",
        "en": "Daily digest {date}: {open} open episodes, {new} new",
    },
    "open_by_rule": {
        "id": "Episode terbuka per aturan dan tingkat",
        "en": "Open episodes by rule and severity",
    },
    "new_since": {"id": "Baru sejak {since}", "en": "New since {since}"},
    "top": {"id": "Prioritas teratas", "en": "Top items"},
    "none": {"id": "tidak ada", "en": "none"},
    "total": {"id": "Jumlah", "en": "Total"},
    "scope_all": {"id": "Wilayah: seluruh kabupaten", "en": "Area: the whole regency"},
    "scope_some": {"id": "Wilayah: kecamatan {codes}", "en": "Area: kecamatan {codes}"},
    "counts_only": {
        "id": "Rincian subjek hanya untuk peran dengan akses data pribadi; angka di bawah 3 "
        "ditampilkan sebagai <3.",
        "en": "Details of subjects only for roles with personal data; counts below 3 are "
        "shown as <3.",
    },
    "seen": {"id": "{n}× sejak {first}, terakhir {last}", "en": "{n}× since {first}, last {last}"},
    "test_title": {"id": "Pesan uji Timpora Map", "en": "Timpora Map test message"},
    "test_body": {
        "id": "Saluran ini menerima pemberitahuan Timpora Map ({what}).",
        "en": "This channel receives Timpora Map notifications ({what}).",
    },
    "what_immediate": {
        "id": "segera untuk tingkat ≥ {n}",
        "en": "immediately for severity ≥ {n}",
    },
    "what_digest": {"id": "ringkasan harian", "en": "daily digest"},
}

PREFIX: Final = "[Timpora] "
MAX_LISTED: Final = 10  # alerts named in one immediate message; the rest are counted


def t(key: str, lang: str, **values: object) -> str:
    return TEXT[key][lang].format(**values)


def rule_label(rule: str, lang: str) -> str:
    return RULE_LABELS.get(rule, {}).get(lang, rule)


def wib_text(value: dt.datetime | None) -> str:
    return value.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB") if value else "—"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    persons_named: int = 0  # subjects named: the delivery leaves an audit row when > 0


@dataclass(frozen=True)
class AlertFacts:
    """What an immediate message may say about one newly opened episode."""

    id: int
    rule: str
    severity: int
    event_at: dt.datetime | None
    kecamatan: str | None
    desa: str | None
    about_person: bool
    subject_name: str | None
    nationality: str | None
    workplace_name: str | None
    zone_name: str | None
    distance_m: float | None


def _place(fact: AlertFacts, lang: str) -> str:
    if not fact.kecamatan:
        return t("outside_areas", lang)
    place = f"{t('kec', lang)} {fact.kecamatan}"
    return f"{place}, {t('desa', lang)} {fact.desa}" if fact.desa else place


def _alert_lines(fact: AlertFacts, lang: str, personal: bool) -> tuple[list[str], int]:
    head = (
        f"• {rule_label(fact.rule, lang)} — {t('severity', lang)} {fact.severity} — "
        f"{_place(fact, lang)} — {wib_text(fact.event_at)}"
    )
    details: list[str] = []
    named = 0
    # Where and how far, the sponsor and the zone locate a person: personal roles only.
    if personal or not fact.about_person:
        if personal and fact.subject_name:
            nat = f" ({fact.nationality})" if fact.nationality else ""
            details.append(f"{t('subject', lang)}: {fact.subject_name}{nat}")
            named = 1
        if fact.workplace_name:
            details.append(f"{t('workplace', lang)}: {fact.workplace_name}")
        if fact.zone_name:
            details.append(f"{t('zone', lang)}: {fact.zone_name}")
        if fact.distance_m is not None:
            details.append(f"{t('distance', lang)} {fact.distance_m:,.0f} m")
    lines = [head]
    if details:
        lines.append("  " + " · ".join(details))
    return lines, named


def immediate(facts: Sequence[AlertFacts], *, lang: str, role: str, link: str) -> Message:
    """One message for the newly opened episodes a subscription gets in one round."""
    personal = access.sees_personal_data(role)
    ordered = sorted(facts, key=lambda f: (-f.severity, f.id))
    if len(ordered) == 1:
        one = ordered[0]
        label = rule_label(one.rule, lang)
        title = f"{PREFIX}{t('new_one', lang)}: {label} ({t('severity', lang)} {one.severity})"
    else:
        title = f"{PREFIX}{t('new_many', lang, n=len(ordered))}"
    lines: list[str] = []
    named = 0
    for fact in ordered[:MAX_LISTED]:
        got, n = _alert_lines(fact, lang, personal)
        lines.extend(got)
        named += n
    if len(ordered) > MAX_LISTED:
        lines.append(t("more", lang, n=len(ordered) - MAX_LISTED))
    lines += ["", f"{t('queue', lang)}: {link}"]
    return Message(title=title, body="\n".join(lines), persons_named=named)


@dataclass(frozen=True)
class Tally:
    rule: str
    severity: int
    open: int
    new: int
    about_persons: bool


@dataclass(frozen=True)
class TopItem:
    rule: str
    severity: int
    kecamatan: str | None
    desa: str | None
    subject_name: str | None
    workplace_name: str | None
    zone_name: str | None
    occurrences: int
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    worst_distance_m: float | None


def _count(n: int, about_persons: bool, role: str) -> str:
    return str(access.suppress_count(n, role) if about_persons else n)


def _total(values: Sequence[tuple[int, bool]], role: str) -> str:
    """A total next to suppressed counts would give them back: then only a lower bound."""
    shown = [_count(n, p, role) for n, p in values]
    if any(s.startswith("<") for s in shown):
        return "≥ " + str(sum(n for (n, _), s in zip(values, shown, strict=True) if s.isdigit()))
    return str(sum(n for n, _ in values))


def digest(
    *,
    tallies: Sequence[Tally],
    top: Sequence[TopItem],
    since: dt.datetime,
    now: dt.datetime,
    kecamatan_codes: Sequence[str] | None,
    lang: str,
    role: str,
    link: str,
) -> Message:
    """The daily digest: open episodes by rule and severity, the new ones, the top items."""
    personal = access.sees_personal_data(role)
    open_total = _total([(x.open, x.about_persons) for x in tallies], role)
    new_total = _total([(x.new, x.about_persons) for x in tallies], role)
    title = PREFIX + t(
        "digest_title",
        lang,
        date=now.astimezone(WIB).strftime("%d-%m-%Y"),
        open=open_total,
        new=new_total,
    )
    scope = (
        t("scope_some", lang, codes=", ".join(kecamatan_codes))
        if kecamatan_codes
        else t("scope_all", lang)
    )
    lines = [scope, "", t("open_by_rule", lang) + ":"]
    shown_open = [x for x in tallies if x.open]
    if not shown_open:
        lines.append("  " + t("none", lang))
    for x in shown_open:
        lines.append(
            f"  {rule_label(x.rule, lang)} ({t('severity', lang)} {x.severity}): "
            f"{_count(x.open, x.about_persons, role)}"
        )
    lines.append(f"  {t('total', lang)}: {open_total}")
    lines += ["", t("new_since", lang, since=wib_text(since)) + ":"]
    shown_new = [x for x in tallies if x.new]
    if not shown_new:
        lines.append("  " + t("none", lang))
    for x in shown_new:
        lines.append(
            f"  {rule_label(x.rule, lang)} ({t('severity', lang)} {x.severity}): "
            f"{_count(x.new, x.about_persons, role)}"
        )
    named = 0
    if personal:
        lines += ["", t("top", lang) + ":"]
        if not top:
            lines.append("  " + t("none", lang))
        for item in top:
            fact = AlertFacts(
                id=0,
                rule=item.rule,
                severity=item.severity,
                event_at=item.last_seen_at,
                kecamatan=item.kecamatan,
                desa=item.desa,
                about_person=item.subject_name is not None,
                subject_name=item.subject_name,
                nationality=None,
                workplace_name=item.workplace_name,
                zone_name=item.zone_name,
                distance_m=item.worst_distance_m,
            )
            got, n = _alert_lines(fact, lang, personal)
            named += n
            seen = t(
                "seen",
                lang,
                n=item.occurrences,
                first=wib_text(item.first_seen_at),
                last=wib_text(item.last_seen_at),
            )
            lines.extend([got[0], *got[1:], f"  {seen}"])
    else:
        lines += ["", t("counts_only", lang)]
    lines += ["", f"{t('queue', lang)}: {link}"]
    return Message(title=title, body="\n".join(lines), persons_named=named)


def test_message(*, lang: str, min_severity: int | None, digest_on: bool) -> Message:
    what = []
    if min_severity is not None:
        what.append(t("what_immediate", lang, n=min_severity))
    if digest_on:
        what.append(t("what_digest", lang))
    return Message(
        title=PREFIX + t("test_title", lang),
        body=t("test_body", lang, what=", ".join(what) or "—"),
    )
