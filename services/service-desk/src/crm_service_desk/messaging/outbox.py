"""The outbox of the mail to customers, built from the settings (the worker runs its loop; the
API retries its quarantined messages)."""

from __future__ import annotations

from crm_platform.mail import SmtpSettings

from ..application import ServiceDeskApplication
from ..application.customer_mail import CustomerMail
from ..application.outbound import Letters
from .settings import ServiceDeskSettings


def customer_mail(application: ServiceDeskApplication) -> CustomerMail:
    settings = ServiceDeskSettings()
    letters = Letters(settings.from_address, settings.survey_links())
    return CustomerMail(application, SmtpSettings().server(), letters)
