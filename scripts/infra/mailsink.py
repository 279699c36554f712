"""A local SMTP server that accepts every message and keeps it in a Maildir (no relaying).

It stands in for the mail relay of production in tests and in `make up`: the marketing service
sends through it exactly as it would through a real relay (SMTP over TCP), and tests read what
arrived from the Maildir, one file per message, as any mail client would.

    python scripts/infra/mailsink.py --host 127.0.0.1 --port 12525 --maildir .local/mail

Each stored message gains ``X-Sink-Mail-From`` and ``X-Sink-Rcpt-To`` headers: the SMTP envelope,
which is what was really delivered (Bcc recipients appear nowhere else). The module is also
imported by the root conftest.py, which starts the same server in-process when none is running.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import mailbox
import signal
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

# Larger messages are refused at MAIL FROM (RFC 1870 SIZE): a sink must not fill the disk.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class MaildirHandler:
    """aiosmtpd handler: every accepted message becomes one file in ``new/`` of the Maildir."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = open_maildir(maildir)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=email.policy.SMTP)
        message["X-Sink-Mail-From"] = envelope.mail_from or ""
        message["X-Sink-Rcpt-To"] = ", ".join(envelope.rcpt_tos)
        # Maildir delivery writes to tmp/ and renames into new/: readers never see half a message.
        await asyncio.to_thread(self.maildir.add, message)
        return "250 Message accepted for delivery"


def open_maildir(path: Path) -> mailbox.Maildir:
    """The Maildir at ``path``, its tmp/new/cur folders created (also inside an existing folder,
    which ``mailbox.Maildir(create=True)`` leaves as it is)."""
    for folder in ("tmp", "new", "cur"):
        (path / folder).mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(path, factory=None)


def smtp_factory(maildir: Path) -> Any:
    handler = MaildirHandler(maildir)
    return lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, enable_SMTPUTF8=True)


def read_messages(maildir: Path) -> list[EmailMessage]:
    """Every message in the Maildir (new and seen), parsed with the modern e-mail policy."""
    box = open_maildir(maildir)
    messages = []
    for key in box.keys():
        try:
            raw = box.get_bytes(key)
        except KeyError:  # removed meanwhile
            continue
        messages.append(message_from_bytes(raw, policy=email.policy.default))
    return messages  # type: ignore[return-value]


async def serve(host: str, port: int, maildir: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(smtp_factory(maildir), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"mailsink: listening on {host}:{port}, storing in {maildir}", flush=True)
    async with server:
        await stop.wait()
    print("mailsink: stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.maildir))


if __name__ == "__main__":
    main()
