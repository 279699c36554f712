"""The boundary every request crosses before routing, dependencies and the token check.

Bodies are bounded (413) while they arrive, so an unauthenticated client cannot make the process
buffer or parse megabytes. Then the text rule of ``crm_platform.text`` is applied once, for every
route: the path, the query parameters, the header values services store, and every string and key
of a JSON or form body (refused with a 422 naming the field like validation errors do; body strings
are NFC-normalized before the route sees them). Bodies of the streamed media types (a CSV import)
pass untouched to routes that read them with limits of their own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import RequestLimitSettings
from ..text import UnsafeValue, clean, cleaned, unsafe_reason, visible
from .problems import (
    TYPE_BASE,
    ProblemError,
    UnprocessableEntity,
    field_error,
    problem_response,
    problem_responses,
)

FORM = "application/x-www-form-urlencoded"
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_NOT_PERCENT_ENCODED = "is not valid percent-encoded UTF-8"
_STRINGS = re.compile(rb'"[^"]*"')  # the strings of a JSON body without escapes
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


class BodyTooLarge(ProblemError):
    status, title, type = 413, "Content Too Large", TYPE_BASE + "body-too-large"


class _Disconnected(Exception):
    """The client left while its body was being read: nobody is waiting for an answer."""


def invalid(location: Iterable[str | int], reason: str, kind: str) -> UnprocessableEntity:
    """A 422 shaped like FastAPI's validation problems: one field, named by its location."""
    error = field_error(tuple(location), reason, kind)
    return UnprocessableEntity("The request has invalid fields; see errors.", errors=[error])


class BoundaryMiddleware:
    """Pure ASGI, added by create_api inside the request context and outside everything else.

    ``stored_headers``: header names whose values services keep (Idempotency-Key, ...).
    """

    def __init__(self, app: ASGIApp, limits: RequestLimitSettings, stored_headers: Iterable[str]):
        self.app = app
        self.limits = limits
        self.stored = {name.lower().encode(): name for name in stored_headers}
        self.streamed = {media_type.lower() for media_type in limits.streamed_media_types}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope, receive = await self._checked(scope, receive)
        except _Disconnected:
            return
        except ProblemError as refusal:
            await _refuse(refusal, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _checked(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """The scope and body the route may see (normalized), or a ProblemError."""
        check_path(scope)
        query = checked_query(scope["query_string"])
        headers = dict(scope["headers"])  # the last of repeated names: fine for these checks
        self._check_stored_headers(scope["headers"])
        if query is not scope["query_string"]:
            scope = {**scope, "query_string": query}
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode()
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        if not has_body or media_type in self.streamed:
            return scope, receive
        body = await self._read(receive, headers.get(b"content-length"))
        new_body = self._inspected(media_type, body)
        if new_body is not body:
            scope = _with_length(scope, len(new_body))
        return scope, _replay(new_body, receive)

    def _check_stored_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        for key, value in headers:
            if (name := self.stored.get(key)) is not None:
                # Latin-1 as Starlette decodes headers: bytes 0x80-0x9F become C1 controls.
                if reason := unsafe_reason(value.decode("latin-1"), multiline=False):
                    raise invalid(("header", name), reason, "unsafe_text")

    async def _read(self, receive: Receive, declared: bytes | None) -> bytes:
        """The whole body, refused as soon as it is known to exceed the limit."""
        limit = self.limits.max_body_bytes
        too_large = BodyTooLarge(f"The request body may have at most {limit} bytes.")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise too_large
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _inspected(self, media_type: str, body: bytes) -> bytes:
        # No content type: FastAPI parses the body as JSON, so it is checked as JSON.
        if media_type in ("", "application/json") or media_type.endswith("+json"):
            return self._json(body)
        if media_type == FORM:
            return self._form(body)
        return body  # bounded above; its route refuses a media type it does not read

    def _json(self, body: bytes) -> bytes:
        limits = self.limits
        constants = b"NaN" in body or b"Infinity" in body  # perhaps, perhaps inside strings
        if b"\\" not in body and not constants and self._plainly_fine(body):
            return body
        try:
            value = json.loads(body, parse_constant=_NonStandard)
        except RecursionError:  # the C parser's own bound on nesting, far above ours
            reason = f"nests deeper than {limits.max_json_depth} levels"
            raise invalid(("body",), reason, "too_deep") from None
        except ValueError:
            return body  # not JSON: the route answers it as a malformed body (400)
        try:
            result = cleaned(
                value,
                path=("body",),
                max_depth=limits.max_json_depth,
                max_chars=limits.max_string_chars,
            )
        except UnsafeValue as unsafe:
            raise invalid(unsafe.path, unsafe.reason, unsafe.kind) from None
        if constants and (where := _non_standard_at(result, ("body",))) is not None:
            raise invalid(where, "NaN and Infinity are not JSON numbers", "not_a_json_number")
        if result is value:
            return body
        return json.dumps(result, ensure_ascii=False, separators=(",", ":")).encode()

    def _plainly_fine(self, body: bytes) -> bool:
        """Whether a JSON body without escapes passes with no parse nor walk (the hot path).

        Without escapes the bytes are the strings' very characters: the document is safe and NFC
        when its text is (a quote is a stable character: segments normalize independently).
        """
        if not body.isascii():
            try:
                text = body.decode()
            except UnicodeDecodeError:  # the walk names the field (or the route: not JSON)
                return False
            if unsafe_reason(text, multiline=True) or not unicodedata.is_normalized("NFC", text):
                return False
        elif b"\x7f" in body:  # DEL is ASCII, and JSON allows it raw inside strings
            return False
        limits = self.limits
        return _nesting_within(body, limits.max_json_depth) and (
            len(body) <= limits.max_string_chars
            or max(map(len, _STRINGS.findall(body)), default=0) <= limits.max_string_chars
        )

    def _form(self, body: bytes) -> bytes:
        try:
            pairs = parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            return body  # not a form: the route answers it as a malformed body, as for JSON
        fields = [self._field(name, value) for name, value in pairs]
        return body if fields == pairs else urlencode(fields).encode()

    def _field(self, name: str, value: str) -> tuple[str, str]:
        try:
            ((new_name, new_value),) = cleaned(
                {name: value}, path=("body",), max_chars=self.limits.max_string_chars
            ).items()
        except UnsafeValue as unsafe:
            raise invalid(unsafe.path, unsafe.reason, unsafe.kind) from None
        return new_name, new_value


class _NonStandard(float):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's parser takes them, JSON (RFC 8259) has no
    such numbers, and a float field would store them as they are."""


def _non_standard_at(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """Where the first such constant stands (the value's depth is bounded already)."""
    if isinstance(value, _NonStandard):
        return path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if (found := _non_standard_at(item, (*path, key))) is not None:
            return found
    return None


def document_body_limit(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation taking a body may be answered 413 here: its OpenAPI document says so."""
    too_large = problem_responses(413)[413]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", too_large)
    return document


def _nesting_within(body: bytes, limit: int) -> bool:
    """Whether the brackets of a JSON body nest at most ``limit`` levels, found at C speed: all
    other bytes deleted, then innermost pairs removed, one level a round. Brackets inside strings
    can only make it answer no; the walk then decides."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return True
    structure = body.translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not structure:
            return True
        structure = structure.replace(b"[]", b"").replace(b"{}", b"")
    return not structure


def check_path(scope: Scope) -> None:
    """The decoded path is one safe line, and the raw path valid percent-encoded UTF-8."""
    path, raw = scope["path"], scope.get("raw_path") or b""
    if raw.isascii() and b"%" not in raw and path.isprintable():
        return
    if raw and _decoded(raw.decode("latin-1"), plus=False) is None:
        raise invalid(("path",), _NOT_PERCENT_ENCODED, "percent_encoding")
    if reason := unsafe_reason(path, multiline=False):
        raise invalid(("path",), reason, "unsafe_text")


def checked_query(query: bytes) -> bytes:
    """The query string with its parameters NFC-normalized; each must be one safe line of valid
    percent-encoded UTF-8 (else a 422 names it: ``query.tag``)."""
    text = query.decode("latin-1")
    if text.isascii() and text.isprintable() and "%" not in text:
        return query
    checked = [_parameter(part) for part in text.split("&") if part]
    if all(unchanged for *_, unchanged in checked):
        return query
    return urlencode([(name, value) for name, value, _ in checked], quote_via=quote).encode()


def _parameter(part: str) -> tuple[str, str, bool]:
    """One ``name=value``: decoded, checked and normalized; and whether it is unchanged."""
    raw_name, _, raw_value = part.partition("=")
    name = _decoded(raw_name, plus=True)
    if name is None:
        raise invalid(("query",), _NOT_PERCENT_ENCODED, "percent_encoding")
    where = ("query", visible(name))
    if reason := unsafe_reason(name, multiline=False):
        raise invalid(where, f"name {reason}", "unsafe_text")
    value = _decoded(raw_value, plus=True)
    if value is None:
        raise invalid(where, _NOT_PERCENT_ENCODED, "percent_encoding")
    if reason := unsafe_reason(value, multiline=False):
        raise invalid(where, reason, "unsafe_text")
    new_name, new_value = clean(name), clean(value)
    return new_name, new_value, new_name is name and new_value is value


def _decoded(raw: str, *, plus: bool) -> str | None:
    """Percent-decoded ``raw`` (``+`` as a space in a query), or None when it is not valid
    percent-encoded UTF-8 (a lone ``%``, raw non-ASCII bytes, bytes that are not UTF-8)."""
    if not raw.isascii() or _BAD_PERCENT.search(raw):
        return None
    try:
        return (unquote_plus if plus else unquote)(raw, errors="strict")
    except UnicodeDecodeError:
        return None


def _with_length(scope: Scope, length: int) -> Scope:
    """The scope of a rewritten body: its new Content-Length, no longer chunked."""
    kept = [
        (k, v) for k, v in scope["headers"] if k not in (b"content-length", b"transfer-encoding")
    ]
    return {**scope, "headers": [*kept, (b"content-length", str(length).encode())]}


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read here once, then what the server sends (disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(refusal: ProblemError, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        refusal.status,
        refusal.title,
        refusal.detail,
        type=refusal.type,
        instance=visible(scope["path"]),
        errors=refusal.errors,
        headers=refusal.headers,
        **refusal.extensions,
    )
    await response(scope, receive, send)
