"""Follow-up actions (tindak lanjut), the coordination meetings that decide them, and what each
member agency contributed (docs/agencies.md).

- :mod:`geo.followup.values`: the vocabularies, caps and the parsing of raw values (query
  strings, JSON bodies, CLI options) into checked requests, with errors that name the value.
- :mod:`geo.followup.actions`: the action list (overdue first, then due day), one action with
  its links and dated notes, creating, updating, changing status, adding notes.
- :mod:`geo.followup.meetings`: meetings, each with the actions it decided.
- :mod:`geo.followup.contributions`: per agency and period, reports made, alerts handled and
  actions closed (counts only).

Nothing here deletes: an action ends done or dropped with a reason, and every write leaves an
``audit_log`` row. Who may write is ``geo.access``: administrators, analysts and coordinators
any action; planners the status and notes of their own agency's actions.
"""
