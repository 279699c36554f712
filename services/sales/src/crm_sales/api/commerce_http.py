"""What the commerce routes add to the sales routes' shared helpers: locations of new records."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response


def created(response: Response, request: Request, route: str, **params: Any) -> None:
    """201 Created's Location: the URL of ``route`` for ``params``."""
    response.headers["Location"] = str(
        request.url_for(route, **{k: str(v) for k, v in params.items()})
    )
