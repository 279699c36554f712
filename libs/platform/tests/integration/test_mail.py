"""The one SMTP client, against the SMTP sink: mail handed over, a server away waited out."""

from __future__ import annotations

import socket
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from crm_platform.mail import SmtpServer, SmtpSettings, SmtpUnavailable
from crm_platform.settings import local_secret
from crm_platform.testing import eventually

pytestmark = pytest.mark.integration


def message(to: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "crm@platform.example", to, "Hello"
    mail.set_content("Hello from the platform's mail client.")
    return mail


async def test_a_message_is_handed_to_the_server_from_a_thread_or_a_coroutine(
    smtp_sink: Any,
) -> None:
    server = SmtpSettings(host=smtp_sink.host, port=smtp_sink.port).server()
    first, second = (f"{name}-{uuid.uuid4().hex[:8]}@platform.example" for name in "ab")
    server.send(message(first))
    await server.deliver(message(second))
    for address in (first, second):
        [received] = eventually(lambda a=address: smtp_sink.messages_to(a), what=address)
        assert received["Subject"] == "Hello"


def test_a_server_away_is_the_servers_failure_not_the_messages() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends
    with pytest.raises(SmtpUnavailable):
        SmtpServer("127.0.0.1", port, timeout=2.0).send(message("x@platform.example"))


def test_a_local_secret_is_made_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_STATE_DIR", str(tmp_path))
    secret = local_secret("unit/test-secret")
    assert len(secret) == 64 and local_secret("unit/test-secret") == secret
    assert (tmp_path / "unit" / "test-secret").stat().st_mode & 0o777 == 0o600
