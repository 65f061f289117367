"""Synthetic coordination meetings and follow-up actions for the demo set (docs/agencies.md).

Three meetings before the demo's last day (75, 40 and 10 days before it), each deciding four or
five actions of several agencies, linked to demo incidents and kecamatan. The older meetings'
actions are mostly closed (done or dropped with a reason), the latest one's open or in progress,
some of them overdue: the dashboard's panel, ``timpora actions list`` and the briefing pack's last
page show something at once. Written through ``geo.followup`` (audited as the demo's secretariat);
loading again with the same ``end`` adds nothing (a meeting of the same day and title is kept).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.followup import actions, meetings, values
from geo.users import Principal

SECRETARIAT: Final = "Sekretariat Timpora (demo)"
PLACE: Final = "Aula Kantor Imigrasi Kelas II TPI Sambas"
# (days before the end, title); each meeting's actions: (title, agency, due days after it,
# status now, reason).
MEETINGS: Final = (
    (
        75,
        "Rapat koordinasi Timpora triwulan III (Sintetis)",
        (
            ("Operasi gabungan pengawasan TKA di perkebunan sawit", "DISNAKERTRANS", 21, "done"),
            ("Patroli bersama jalur tidak resmi Sajingan Besar", "KODIM", 14, "done"),
            ("Pendataan WNA di penginapan Pemangkat", "POLRES", 30, "dropped"),
            ("Sosialisasi izin tinggal kepada perusahaan", "IMIGRASI", 28, "done"),
        ),
    ),
    (
        40,
        "Rapat evaluasi pengawasan orang asing (Sintetis)",
        (
            ("Pemeriksaan dokumen pekerja di lokasi tambang", "IMIGRASI", 20, "done"),
            ("Penertiban WNA tanpa dokumen di Paloh", "POLRES", 25, "in_progress"),
            ("Koordinasi data kependudukan WNA", "DISDUKCAPIL", 30, "open"),
            ("Kajian kerawanan sosial wilayah perbatasan", "KESBANGPOL", 35, "done"),
        ),
    ),
    (
        10,
        "Rapat koordinasi Timpora bulanan (Sintetis)",
        (
            ("Razia gabungan di pelabuhan perikanan", "POLRES", 5, "in_progress"),
            ("Laporan tindak lanjut pelanggaran izin kerja", "DISNAKERTRANS", 7, "open"),
            ("Patroli perbatasan Temajuk", "KODIM", 14, "open"),
            ("Penyusunan berkas perkara penyelundupan", "KEJARI", 30, "open"),
            ("Pengawasan WNA pemegang PLB di Aruk", "IMIGRASI", 21, "open"),
        ),
    ),
)
REASONS: Final = {"done": "completed", "dropped": "not_needed"}
EXISTS_SQL: Final = text(
    "SELECT 1 FROM coordination_meeting WHERE held_on = :day AND title = :title"
)
INCIDENTS_SQL: Final = text(
    "SELECT id FROM incident WHERE external_ref LIKE 'DEMO-I-%' ORDER BY external_ref LIMIT 200"
)
KECAMATAN_SQL: Final = text("SELECT code FROM admin_area WHERE level = 'kecamatan' ORDER BY code")
AGENCY_SQL: Final = text("SELECT id FROM agency WHERE short_name = 'IMIGRASI'")


def seed_followup(*, session: Session, end: dt.date, seed: int = 7) -> dict[str, int]:
    """Write the demo's meetings and actions (those not there yet); how many were added."""
    agency_id = session.execute(AGENCY_SQL).scalar()
    writer = Principal(name=SECRETARIAT, role="admin", agency_id=agency_id, agency="IMIGRASI")
    rng = np.random.default_rng(seed)
    incidents = [str(i) for i in session.execute(INCIDENTS_SQL).scalars()]
    kecamatan = list(session.execute(KECAMATAN_SQL).scalars())
    added = {"meetings": 0, "actions": 0}
    for days_before, title, planned in MEETINGS:
        held_on = end - dt.timedelta(days=days_before)
        if session.execute(EXISTS_SQL, {"day": held_on, "title": title}).first():
            continue
        meeting = meetings.create_meeting(
            session=session,
            principal=writer,
            meeting=values.parse_meeting_in(
                session, held_on=held_on, title=title, place=PLACE, notes=None
            ),
            client="demo",
        )
        added["meetings"] += 1
        for action_title, agency, due_days, status in planned:
            links = []
            if incidents:
                links.append(f"incident:{incidents[int(rng.integers(len(incidents)))]}")
            if kecamatan:
                links.append(f"admin_area:{kecamatan[int(rng.integers(len(kecamatan)))]}")
            checked = values.parse_action_in(
                session,
                title=action_title,
                agency=agency,
                due_on=held_on + dt.timedelta(days=due_days),
                links=links,
            )
            action_id = actions.insert_action(
                session=session,
                principal=writer,
                action=dataclasses.replace(checked, meeting_id=meeting["id"]),
                client="demo",
            )
            added["actions"] += 1
            if status != "open":
                actions.change_status(
                    session=session,
                    principal=writer,
                    action_id=action_id,
                    change=values.parse_status_change(status, reason=REASONS.get(status)),
                    client="demo",
                )
    return added
