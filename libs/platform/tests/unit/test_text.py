"""The boundary rule for text: which characters are unsafe, where, and NFC normalization."""

from __future__ import annotations

import pytest

from crm_platform.text import (
    UnsafeValue,
    clean,
    cleaned,
    find_unsafe,
    strip_unsafe,
    unsafe_reason,
    visible,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\x00b", "NUL character (U+0000)"),
        ("a\x1bb", "control character (U+001B)"),
        ("a\x7fb", "control character (U+007F)"),
        ("a\x85b", "control character (U+0085)"),
        ("a\x9fb", "control character (U+009F)"),
        ("a\ud800b", "lone surrogate (U+D800)"),
        ("a\udfffb", "lone surrogate (U+DFFF)"),
        ("a\ufffe", "noncharacter (U+FFFE)"),
        ("\uffff", "noncharacter (U+FFFF)"),
    ],
)
def test_unsafe_everywhere(text: str, reason: str) -> None:
    for multiline in (True, False):
        found = unsafe_reason(text, multiline=multiline)
        assert found is not None and reason in found


@pytest.mark.parametrize("text", ["a\tb", "line\nnext", "line\r\nnext"])
def test_tab_and_line_breaks_only_in_multiline_text(text: str) -> None:
    assert unsafe_reason(text, multiline=True) is None
    assert "line break" in (unsafe_reason(text, multiline=False) or "")


@pytest.mark.parametrize(
    "text", ["", "Zoë Ångström", "東京 \u00a0nbsp", "emoji 🙂", "\u200bzero width", "a\u2028b"]
)
def test_ordinary_text_is_safe(text: str) -> None:
    assert unsafe_reason(text, multiline=False) is None


def test_clean_normalizes_to_nfc() -> None:
    decomposed = "Zoe\u0308"
    assert clean(decomposed) == "Zo\u00eb"
    already = "Zo\u00eb"
    assert clean(already) is already


def test_find_unsafe_names_the_first_unsafe_string_by_path() -> None:
    value = {"name": "ok", "emails": [{"address": "x"}, {"address": "a\x00b"}], "z": "\x01"}
    assert find_unsafe(value) == (("emails", 1, "address"), "contains a NUL character (U+0000)")
    assert find_unsafe(value, ("body",))[0] == ("body", "emails", 1, "address")  # type: ignore[index]
    assert find_unsafe({"note": "two\nlines", "n": 3, "b": None, "t": ("x",)}) is None


def test_object_keys_are_single_line_and_echoed_visibly() -> None:
    found = find_unsafe({"ok": {"bad\x00key": 1}})
    assert found == (("ok", "bad\\u0000key"), "contains a NUL character (U+0000)")
    assert find_unsafe({"a\nb": 1}) is not None


def test_cleaned_normalizes_and_keeps_unchanged_values_identical() -> None:
    value = {"a": ["x", {"b": "y"}], "n": 1}
    assert cleaned(value) is value
    changed = cleaned({"a": ["Zoe\u0308"], "Zoe\u0308": 1})
    assert changed == {"a": ["Zo\u00eb"], "Zo\u00eb": 1}


def test_cleaned_limits_depth_and_string_length() -> None:
    deep: object = "leaf"
    for _ in range(5):
        deep = [deep]
    assert cleaned(deep, max_depth=5) is deep
    with pytest.raises(UnsafeValue) as refused:
        cleaned({"a": deep}, max_depth=5, path=("body",))
    assert refused.value.kind == "too_deep"
    assert refused.value.path == ("body", "a", 0, 0, 0, 0)
    with pytest.raises(UnsafeValue) as refused:
        cleaned({"a": "x" * 11}, max_chars=10)
    assert (refused.value.path, refused.value.kind) == (("a",), "string_too_long")


def test_strip_unsafe_and_visible() -> None:
    assert strip_unsafe("a\x00b\x1b[31m\r\nc\ud800", multiline=True) == "ab[31m\r\nc"
    assert strip_unsafe("Re: hi\r\n\tthere", multiline=False) == "Re: hithere"
    assert visible("a\x00\ud800b") == "a\\u0000\\ud800b"
