"""The sales HTTP API, one router module per area."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from . import activities, commerce, pipeline


def routers(application: Any) -> list[APIRouter]:
    return [
        *pipeline.routers(application),
        *commerce.routers(application),
        *activities.routers(application),
    ]
