"""Coordination meetings and follow-up actions for the briefing pack's tests: three meetings
(one before the period, the period's last, one after it), actions of several agencies in every
status, and one title long enough to wrap."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from geo.followup import actions, meetings, values
from geo.users import Principal

LONG_TITLE = (
    "Pemeriksaan bersama izin tinggal dan izin kerja tenaga kerja asing di perkebunan kelapa "
    "sawit sepanjang jalur perbatasan Sajingan Besar sampai Paloh"
)
MEETING_NOTE = "Catatan rapat: saksi bernama Uji Rahasia"
SECRET_NOTE = "Catatan tindak lanjut: nama pelapor Uji Rahasia"


@dataclass(frozen=True)
class FollowUpSeed:
    last_meeting: str  # the title of the meeting the pack must show
    other_meetings: tuple[str, ...]
    statuses: dict[str, tuple[str, str, str | None]]  # title -> agency, status, reason


def add_followup_data(session: Session, *, period_end: dt.date) -> FollowUpSeed:
    """Meetings held 40 days and 5 days before ``period_end`` and 3 days after it."""
    admin = Principal(name="Sekretariat Timpora", role="admin")
    titles = {
        -40: "Rapat Timpora triwulan III",
        -5: "Rapat koordinasi Timpora akhir periode",
        3: "Rapat sesudah periode",
    }
    ids = {}
    for offset, title in titles.items():
        checked = values.parse_meeting_in(
            session,
            held_on=period_end + dt.timedelta(days=offset),
            title=title,
            place="Aula Kantor Imigrasi Sambas",
            notes=MEETING_NOTE,
        )
        ids[offset] = meetings.create_meeting(session=session, principal=admin, meeting=checked)[
            "id"
        ]
    plan = [
        ("Razia gabungan jalan tikus Aruk", "POLRES", "done", "completed"),
        ("Patroli perbatasan Temajuk", "KODIM", "in_progress", None),
        (LONG_TITLE, "DISNAKERTRANS", "open", None),
        ("Pendataan WNA di penginapan", "IMIGRASI", "dropped", "superseded"),
        ("Laporan hasil pengawasan", "IMIGRASI", "open", None),
    ]
    statuses = {}
    for title, agency, status, reason in plan:
        checked_action = values.parse_action_in(
            session,
            title=title,
            agency=agency,
            due_on=period_end - dt.timedelta(days=2),
            meeting=ids[-5],
        )
        action_id = actions.insert_action(session=session, principal=admin, action=checked_action)
        actions.add_note(session=session, principal=admin, action_id=action_id, body=SECRET_NOTE)
        if status != "open":
            actions.change_status(
                session=session,
                principal=admin,
                action_id=action_id,
                change=values.parse_status_change(status, reason=reason),
            )
        statuses[title] = (agency, status, reason)
    for offset in (-40, 3):
        other = values.parse_action_in(
            session,
            title=f"Tindak lanjut {titles[offset]}",
            agency="KEJARI",
            due_on=period_end,
            meeting=ids[offset],
        )
        actions.insert_action(session=session, principal=admin, action=other)
    session.flush()
    return FollowUpSeed(
        last_meeting=titles[-5],
        other_meetings=(titles[-40], titles[3]),
        statuses=statuses,
    )
