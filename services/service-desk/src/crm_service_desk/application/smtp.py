"""Handing mail to the SMTP server (the standard library's client: the mail outbox is a local
projection, whose steps run in a thread of their own)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage


class SmtpUnavailable(ConnectionError):
    """The SMTP server does not take mail now (down, a 4xx, a refused session): no message is
    at fault, so it is waited out as a server that is down (``crm_platform.failures``)."""


class PermanentFailure(Exception):
    """The SMTP server refused the message for good (5xx): the message is at fault."""


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    use_tls: bool = False  # implicit TLS (port 465)
    start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def send(self, message: EmailMessage) -> None:
        try:
            with self._session() as session:
                session.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(str(error)) from error
            raise SmtpUnavailable(str(error)) from error
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
