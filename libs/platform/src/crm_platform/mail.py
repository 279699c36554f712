"""Mail to people: the one SMTP client of every service that writes to customers (marketing's
campaigns, the service desk's answers), its settings, and what its failures mean.

``send`` hands one message to the server with the standard library's client: the loops and local
projections that send run their steps in a thread. ``deliver`` is the same from a coroutine. A
failure is either the server's (``SmtpUnavailable``, a ``ConnectionError``: the server is away or
refuses the session itself, waited out as a server that is down, see ``crm_platform.failures``)
or the message's: ``PermanentFailure`` (a 5xx refusal of its recipients or content: a hard bounce,
never retried) or ``TemporaryRefusal`` (a 4xx to its recipients, greylisting say: that message is
tried again later, set aside like any record that keeps failing, and the others go on).
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpUnavailable(ConnectionError):
    """The SMTP server does not take mail now (down, a 4xx, a refused session): no message is
    at fault, so it is waited out as a server that is down."""


class PermanentFailure(Exception):
    """The SMTP server refused the message for good (5xx): the message is at fault."""


class TemporaryRefusal(Exception):
    """The SMTP server refused the message's recipients for now (4xx): that message is tried
    again later; the server itself works."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    use_tls: bool = False  # implicit TLS (port 465)
    start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    async def deliver(self, message: EmailMessage) -> None:
        """``send`` from a coroutine, in a thread of its own."""
        await asyncio.to_thread(self.send, message)

    def send(self, message: EmailMessage) -> None:
        try:
            with self._session() as session:
                session.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(str(error)) from error
            raise TemporaryRefusal(str(error)) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500 and isinstance(error, smtplib.SMTPDataError):
                raise PermanentFailure(f"{error.smtp_code} {error.smtp_error!r}") from error
            raise SmtpUnavailable(f"{error.smtp_code} {error.smtp_error!r}") from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise SmtpUnavailable(str(error)) from error

    def _session(self) -> smtplib.SMTP:
        cls = smtplib.SMTP_SSL if self.use_tls else smtplib.SMTP
        session = cls(self.host, self.port, timeout=self.timeout)
        try:
            session.ehlo()
            if not self.use_tls and self.start_tls is not False:
                if session.has_extn("starttls"):
                    session.starttls()
                    session.ehlo()
                elif self.start_tls:
                    raise SmtpUnavailable("the server does not offer STARTTLS")
            if self.username is not None:
                session.login(self.username, self.password or "")
        except BaseException:
            session.close()
            raise
        return session


class SmtpSettings(BaseSettings):
    """The mail server every service sends through (``CRM_SMTP_*``)."""

    model_config = SettingsConfigDict(env_prefix="CRM_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 12525
    use_tls: bool = False
    start_tls: bool | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout: float = 30.0

    def server(self) -> SmtpServer:
        return SmtpServer(
            host=self.host,
            port=self.port,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            username=self.username,
            password=None if self.password is None else self.password.get_secret_value(),
            timeout=self.timeout,
        )
