"""The contacts HTTP API (FastAPI routers and their request and response models)."""

from __future__ import annotations

from fastapi import APIRouter

from crm_platform.quarantine import Quarantine
from crm_platform.web.admin import admin_router

from ..application import ContactsApplication
from ..application.directory import PROJECTION, DirectoryProjection
from ..application.erasure_index import ErasureIndex
from .consents import consents_router
from .custom_fields import custom_fields_router
from .customers import customers_router
from .directory import directory_router
from .erasure import erasure_router
from .imports import imports_router
from .interactions import interactions_router
from .merges import merges_router
from .organizations import organizations_router
from .subject_access import subject_access_router


def routers(application: ContactsApplication) -> list[APIRouter]:
    """Every router of the service, in the order the OpenAPI document lists them."""
    return [
        customers_router(application),
        erasure_router(application),
        subject_access_router(application),
        interactions_router(application),
        consents_router(application),
        merges_router(application),
        organizations_router(application),
        custom_fields_router(application),
        directory_router(application),
        imports_router(application),
        admin_router(
            "contacts",
            quarantine=lambda: Quarantine.of(application, service="contacts"),
            retries={
                PROJECTION: lambda entry: DirectoryProjection(application).retry(entry),
                ErasureIndex.name: lambda entry: ErasureIndex(application).retry(entry),
            },
        ),
    ]


__all__ = ["routers"]
