"""The service desk's part of a subject-access request, in memory: an erased person is answered
with nothing, without looking for tickets (the listing of a person's tickets is tested on
PostgreSQL: integration/test_subject_access_postgres.py)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from crm_events.erasure import ErasedData, ErasureMethod
from crm_platform.erasure import confirm_erasure
from crm_service_desk.application import ServiceDeskApplication
from crm_service_desk.messaging.subject_access import held_about

pytestmark = pytest.mark.unit


def test_a_person_the_service_desk_erased_is_answered_with_nothing(
    application: ServiceDeskApplication,
) -> None:
    customer = uuid4()
    erased = [ErasedData(kind="ticket", method=ErasureMethod.KEY_DESTROYED)]
    application.save(confirm_erasure(application, customer, erased))

    assert held_about(application, customer) == {}
