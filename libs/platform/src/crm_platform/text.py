"""One rule for the text the platform accepts, applied at every boundary (HTTP, CSV, mail).

Unsafe: NUL and the other C0 controls (tab, LF and CR are allowed in multi-line text only), DEL
and the C1 controls, lone surrogates, and the noncharacters U+FFFE and U+FFFF. PostgreSQL text
cannot hold NUL, lone surrogates cannot be encoded as UTF-8, and controls corrupt logs, CSV and
mail headers: a string stored once inside an event would break every later projection.

Accepted text is NFC-normalized (``clean``), so equal-looking names compare equal.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

Path = tuple[str | int, ...]

_LINE_BREAKS = "\t\n\r"
_SINGLE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class UnsafeValue(ValueError):
    """A value refused by ``cleaned``: where it is (``path``), why, and a machine-readable kind."""

    def __init__(self, path: Path, reason: str, kind: str) -> None:
        super().__init__(f"{'.'.join(map(str, path)) or 'value'}: {reason}")
        self.path, self.reason, self.kind = path, reason, kind


def unsafe_reason(text: str, *, multiline: bool) -> str | None:
    """Why ``text`` is refused, or None when it is safe."""
    if text.isprintable():  # fast path: no control, surrogate or unassigned character at all
        return None
    found = (_MULTILINE if multiline else _SINGLE_LINE).search(text)
    return None if found is None else _describe(found.group())


def _describe(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return f"contains a NUL character ({code})"
    if char in _LINE_BREAKS:
        return f"contains a tab or line break ({code}) where one line is expected"
    if "\ud800" <= char <= "\udfff":
        return f"contains a lone surrogate ({code})"
    if char in "\ufffe\uffff":
        return f"contains a noncharacter ({code})"
    return f"contains a control character ({code})"


def visible(text: str) -> str:
    """``text`` with its unsafe characters written as ``\\uXXXX``: safe to echo in an error."""
    return _SINGLE_LINE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def strip_unsafe(text: str, *, multiline: bool) -> str:
    """``text`` without its unsafe characters, NFC-normalized (for text where dropping them is
    harmless, such as an inbound mail's body)."""
    return clean((_MULTILINE if multiline else _SINGLE_LINE).sub("", text))


def clean(text: str) -> str:
    """NFC normalization (returns ``text`` itself when it is already normalized)."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """The form text is searched by: case-, accent-, punctuation- and spacing-insensitive,
    ``" Zoë  O'Neil"`` -> ``"zoe o neil"``. Fold the stored text and the query alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in bare).split())


def cleaned(
    value: Any, *, path: Path = (), max_depth: int | None = None, max_chars: int | None = None
) -> Any:
    """The JSON-like ``value`` with every string NFC-normalized (the same object when nothing
    changed). Raises UnsafeValue for the first unsafe string or object key, string longer than
    ``max_chars``, or container nested deeper than ``max_depth``. Keys must be single-line."""
    return _Cleaner(max_depth, max_chars).value(value, path, 0)


def find_unsafe(value: Any, path: Path = ()) -> tuple[Path, str] | None:
    """The path and reason of the first unsafe string in a JSON-like value, or None. Object keys
    are checked too (as single lines); an unsafe key appears in the path with its unsafe
    characters written ``\\uXXXX``."""
    try:
        cleaned(value, path=path)
    except UnsafeValue as unsafe:
        return unsafe.path, unsafe.reason
    return None


class _Cleaner:
    def __init__(self, max_depth: int | None, max_chars: int | None) -> None:
        self.max_depth, self.max_chars = max_depth, max_chars

    def value(self, value: Any, path: Path, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value, path, multiline=True)
        if isinstance(value, dict | list | tuple):
            if self.max_depth is not None and depth >= self.max_depth:
                raise UnsafeValue(path, f"nests deeper than {self.max_depth} levels", "too_deep")
            if isinstance(value, dict):
                return self.mapping(value, path, depth + 1)
            return self.sequence(value, path, depth + 1)
        return value

    def mapping(self, value: dict[Any, Any], path: Path, depth: int) -> dict[Any, Any]:
        result, changed = {}, False
        for key, item in value.items():
            new_key = self.key(key, path) if isinstance(key, str) else key
            new_item = self.value(item, (*path, new_key), depth)
            changed = changed or new_key is not key or new_item is not item
            result[new_key] = new_item
        return result if changed else value

    def sequence(self, value: list[Any] | tuple[Any, ...], path: Path, depth: int) -> Any:
        result = [self.value(item, (*path, index), depth) for index, item in enumerate(value)]
        unchanged = all(new is old for new, old in zip(result, value, strict=True))
        return value if unchanged else type(value)(result)

    def key(self, key: str, path: Path) -> str:
        try:
            return self.text(key, (*path, key), multiline=False)
        except UnsafeValue as unsafe:  # named as it may be echoed: its unsafe characters visible
            raise UnsafeValue((*path, visible(key)), unsafe.reason, unsafe.kind) from None

    def text(self, text: str, path: Path, *, multiline: bool) -> str:
        if self.max_chars is not None and len(text) > self.max_chars:
            reason = f"is longer than {self.max_chars} characters"
            raise UnsafeValue(path, reason, "string_too_long")
        if unsafe := unsafe_reason(text, multiline=multiline):
            raise UnsafeValue(path, unsafe, "unsafe_text")
        return clean(text)
