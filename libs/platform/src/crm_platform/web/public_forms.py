"""What every public (unauthenticated) web form shares: one honeypot, by one name.

A honeypot is a field the form hides from people (``hidden``, ``tabindex="-1"``,
``autocomplete="off"``) and bots fill in. Its name must be one no browser autofills and no person
types: the former names (``url`` on web-to-lead, ``website`` on marketing's forms) were filled in
by browsers' autofill, so real submissions were dropped. Those names are now ignored.

    <input name="leave_this_empty" type="text" hidden tabindex="-1" autocomplete="off">
"""

from __future__ import annotations

from typing import Any

HONEYPOT = "leave_this_empty"
HONEYPOT_DESCRIPTION = (
    "Must be empty. A hidden field no person sees; a submission that fills it in is answered "
    "as accepted and recorded nowhere."
)
# Former honeypot names, still sent by forms embedded before the rename: accepted and ignored.
FORMER_HONEYPOTS = ("url", "website")


def caught(fields: dict[str, Any]) -> bool:
    """Take the honeypot (and its former names) out of a form's ``fields``: True when the
    honeypot was filled in, so the submission comes from a bot."""
    for former in FORMER_HONEYPOTS:
        fields.pop(former, None)
    return bool(fields.pop(HONEYPOT, None))


def honeypot_schema() -> dict[str, Any]:
    """The honeypot as a documented property of a form's JSON Schema. No ``maxLength: 0``: a
    filled-in honeypot is not refused (a bot must learn nothing), so the schema cannot say so."""
    return {"type": "string", "description": HONEYPOT_DESCRIPTION}
