"""The briefing pack's follow-up page: the last coordination meeting's actions and their outcome,
per agency, beside what each agency contributed in the pack's period (docs/briefing.md).

"Last meeting": the latest one held on or before the period's last day (today without an end);
each action shows its status now, and for a closed one why (a reason code, translated). The
contributions are counts per agency over the period's WIB days: reports made, alerts handled,
actions closed. Printed for every role: titles, agencies, due days, statuses and counts only;
a meeting's notes and an action's notes and links never reach the pack.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from geo.followup import contributions, meetings, values
from geo.times import WIB, today_wib
from geo.users import Principal
from maps.labels import Lang, t
from maps.printed_table import count_text, draw_table

# Rows of the actions table on the page; a longer list ends with "… and N more".
MAX_ACTION_ROWS: Final = 26

LABELS: Final[dict[str, dict[str, str]]] = {
    "title": {
        "id": "Tindak lanjut rapat terakhir dan kontribusi instansi",
        "en": "Last meeting's follow-up actions and agency contributions",
    },
    "meeting": {
        "id": "Rapat koordinasi {held_on}: {title}",
        "en": "Coordination meeting of {held_on}: {title}",
    },
    "no_meeting": {
        "id": "Belum ada rapat koordinasi sampai {day}.",
        "en": "No coordination meeting up to {day}.",
    },
    "actions_of": {
        "id": "Tindak lanjut dan hasilnya per instansi (status per {day})",
        "en": "Actions and their outcome per agency (status as of {day})",
    },
    "agency": {"id": "Instansi", "en": "Agency"},
    "action": {"id": "Tindak lanjut", "en": "Action"},
    "due": {"id": "Tenggat", "en": "Due"},
    "outcome": {"id": "Status (hasil)", "en": "Status (outcome)"},
    "overdue": {"id": "lewat tenggat", "en": "overdue"},
    "more": {"id": "… dan {n} lainnya", "en": "… and {n} more"},
    "none": {"id": "Rapat ini tidak mencatat tindak lanjut.", "en": "This meeting set no actions."},
    "contributions": {
        "id": "Kontribusi per instansi, {first} – {last}",
        "en": "Contributions per agency, {first} – {last}",
    },
    "reports": {"id": "Laporan dibuat", "en": "Reports made"},
    "alerts": {"id": "Peringatan ditangani", "en": "Alerts handled"},
    "closed": {"id": "Tindak lanjut selesai", "en": "Actions closed"},
    "contrib_note": {
        "id": "Laporan: kejadian dan laporan keberadaan; peringatan: yang ditangani "
        "pengguna instansi; tindak lanjut: selesai dalam periode.",
        "en": "Reports: incidents and sightings; alerts: those its users acted on; "
        "actions: closed as done in the period.",
    },
    "open": {"id": "terbuka", "en": "open"},
    "in_progress": {"id": "berjalan", "en": "in progress"},
    "done": {"id": "selesai", "en": "done"},
    "dropped": {"id": "dibatalkan", "en": "dropped"},
    "completed": {"id": "terlaksana", "en": "completed"},
    "superseded": {"id": "digantikan", "en": "superseded"},
    "not_feasible": {"id": "tidak dapat dilaksanakan", "en": "not feasible"},
    "not_needed": {"id": "tidak diperlukan lagi", "en": "no longer needed"},
    "duplicate": {"id": "duplikat", "en": "duplicate"},
    "other": {"id": "alasan lain", "en": "other reason"},
}


def ft(key: str, lang: Lang, **fmt: object) -> str:
    text = LABELS[key][lang]
    return text.format(**fmt) if fmt else text


@dataclass(frozen=True)
class FollowUp:
    """What the page shows (no database needed to draw it)."""

    first_day: dt.date
    last_day: dt.date
    status_day: dt.date  # the statuses are today's, whatever the period
    meeting: dict[str, Any] | None  # with its "actions"
    contributions: dict[str, Any]


def period_days(
    start: dt.datetime | None, end: dt.datetime | None, *, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The pack's period as whole WIB days: ``end`` is exclusive; without a start, as far back
    as the contributions go (ten years, and not before the office calendar's first day)."""
    last = (end - dt.timedelta(microseconds=1)).astimezone(WIB).date() if end else None
    last = min(max(last or today or today_wib(), values.FIRST_DAY), values.LAST_DAY)
    first = start.astimezone(WIB).date() if start else None
    earliest = max(last - dt.timedelta(days=values.MAX_PERIOD_DAYS - 1), values.FIRST_DAY)
    first = max(first, earliest) if first else earliest
    return min(first, last), last


def collect_followup(
    *,
    session: Session,
    principal: Principal,
    start: dt.datetime | None,
    end: dt.datetime | None,
    today: dt.date | None = None,
) -> FollowUp:
    today = today or today_wib()
    first, last = period_days(start, end, today=today)
    return FollowUp(
        first_day=first,
        last_day=last,
        status_day=today,
        meeting=meetings.meeting_outcomes(session=session, on_or_before=last, today=today),
        contributions=contributions.contributions(
            session=session, principal=principal, start=first, end=last
        ),
    )


def outcome_text(action: dict[str, Any], lang: Lang) -> str:
    """An action's status as printed: "done (completed)", "open, overdue"."""
    text = ft(action["status"], lang)
    if action.get("close_reason"):
        return f"{text} ({ft(action['close_reason'], lang)})"
    if action.get("overdue"):
        return f"{text}, {ft('overdue', lang)}"
    return text


def action_rows(actions: list[dict[str, Any]], lang: Lang) -> list[list[str]]:
    """One row per action, grouped by agency (named on its first row), in list order within."""
    ordered = sorted(actions, key=lambda a: str(a["agency"]))  # stable: list order within
    rows: list[list[str]] = []
    previous = None
    for action in ordered[:MAX_ACTION_ROWS]:
        agency = str(action["agency"])
        rows.append(
            [
                agency if agency != previous else "",
                str(action["title"]),
                str(action["due_on"]),
                outcome_text(action, lang),
            ]
        )
        previous = agency
    if len(ordered) > MAX_ACTION_ROWS:
        rows.append(["", ft("more", lang, n=len(ordered) - MAX_ACTION_ROWS), "", ""])
    return rows


def followup_page(
    followup: FollowUp,
    lang: Lang,
    new_page: Callable[[str, str | None], Figure],
) -> Figure:
    """The page: the meeting's actions per agency (left), the contributions (right)."""
    meeting = followup.meeting
    if meeting is None:
        subtitle = ft("no_meeting", lang, day=followup.last_day.isoformat())
    else:
        subtitle = ft("meeting", lang, held_on=meeting["held_on"], title=meeting["title"])
        if meeting.get("place"):
            subtitle += f" · {meeting['place']}"
    fig = new_page(f"{ft('title', lang)} — {t('kabupaten', lang)}", subtitle)

    fig.text(
        0.025,
        0.855,
        ft("actions_of", lang, day=followup.status_day.isoformat()),
        fontsize=9,
        fontweight="bold",
        va="bottom",
    )
    left = fig.add_axes((0.025, 0.095, 0.58, 0.75))
    if meeting is None or not meeting["actions"]:
        left.set_axis_off()
        left.text(
            0.0,
            0.98,
            ft("none", lang) if meeting else subtitle,
            va="top",
            fontsize=9,
        )
    else:
        draw_table(
            left,
            [ft("agency", lang), ft("action", lang), ft("due", lang), ft("outcome", lang)],
            action_rows(meeting["actions"], lang),
            widths=[0.16, 0.48, 0.13, 0.23],
            fontsize=7.5,
            numeric=(),
        )

    body = followup.contributions
    fig.text(
        0.635,
        0.855,
        ft("contributions", lang, first=body["from"], last=body["to"]),
        fontsize=9,
        fontweight="bold",
        va="bottom",
    )
    rows = [
        [
            str(a["agency"]),
            count_text(a["reports"], lang),
            count_text(a["alerts_handled"], lang),
            count_text(a["actions_closed"], lang),
        ]
        for a in body["agencies"]
    ]
    totals = body["totals"]
    rows.append(
        [
            t("total", lang),
            count_text(totals["reports"], lang),
            count_text(totals["alerts_handled"], lang),
            count_text(totals["actions_closed"], lang),
        ]
    )
    right = fig.add_axes((0.635, 0.16, 0.34, 0.685))
    draw_table(
        right,
        [ft("agency", lang), ft("reports", lang), ft("alerts", lang), ft("closed", lang)],
        rows,
        widths=[0.34, 0.22, 0.22, 0.22],
        fontsize=7.5,
        bold_last=True,
    )
    fig.text(
        0.635,
        0.10,
        textwrap.fill(ft("contrib_note", lang), 78),
        fontsize=6.5,
        color="#333333",
        va="bottom",
    )
    return fig
