"""The composition root: the contacts service described once; builders come from the platform."""

from __future__ import annotations

from typing import Any

from crm_events.contacts import CustomerRegisteredV2, OrganizationRegistered
from crm_events.personal import PersonalDataKeyIssued
from crm_platform.loops import Loop
from crm_platform.service import ServiceSpec

from .api import routers
from .application import ContactsApplication
from .application.directory import DirectoryProjection
from .application.erasure_index import erasure_loops
from .contracts import SOURCE_SERVICE, translate
from .messaging import DATABASE, subscribe_worker


def background(application: Any) -> list[Loop]:
    """The directory (lists, searches, duplicates) and the erasures' index (and its gauges)
    follow the store in the worker."""
    return [DirectoryProjection(application).loop(), *erasure_loops(application)]


SPEC = ServiceSpec(
    name=SOURCE_SERVICE,
    title="CRM contacts",
    description=(
        "People and organizations (accounts, partners, suppliers), their consent, every contact"
        " the business had with them, reversible merges, GDPR export and erasure."
    ),
    database=DATABASE,
    port=8001,
    application=ContactsApplication,
    translate=translate,
    topics=[
        CustomerRegisteredV2.topic(),
        OrganizationRegistered.topic(),
        PersonalDataKeyIssued.topic(),
    ],
    routers=routers,
    subscribe=subscribe_worker,
    background=background,
)
build_application = SPEC.build_application
build_api = SPEC.build_api
build_relay = SPEC.build_relay
