"""Personalized e-mail from a campaign's templates: Jinja2, sandboxed, HTML autoescaped, budgeted.

Templates are written by marketers, not developers: the sandbox refuses access to Python
internals, and personal values (a name with ``<script>`` in it) are escaped in the HTML part.
Links are written ``{{ link("offer") }}``: only links the campaign declared exist, and each
renders as the recipient's signed, tracked redirect. The customer file is there too
(``domain.customer_file.template_values``): ``{{ family.spouse.first_name }}``,
``{{ next_important_date.date }}``, ``{{ tastes.wine }}``, ``{{ custom.shoe_size }}``.

A template is code, so every render has budgets: ranges, powers and repeated strings are bounded
before Python builds them, each part's output is bounded, and rendering stops at a deadline (a
trace on the rendering thread, so loops without output and recursive macros stop too). Drafting
renders once with the longest values a recipient can have and refuses a template over budget.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..domain import EmailContent, RuleViolation
from ..domain.customer_file import sample_values

# Variables a template may use (and the customer file's, ``customer_file.template_values``);
# anything else is an error found when the campaign is drafted.
VARIABLES = ("given_name", "family_name", "unsubscribe_url")
MAX_OUTPUT = 500_000  # characters of one rendered part
MAX_RANGE = 10_000  # items of one range()
MAX_INT_BITS = 4096  # of a number a power or product makes (about 1233 digits)
DEADLINE = 1.0  # seconds to render one part
MAX_WIDTH = 9999  # of a field a format pads to
_WIDE = re.compile(r"\d{5,}")  # a number in a format string above MAX_WIDTH
# The drafting render's values: as long as a recipient's can be, so it costs at least as much.
_SAMPLE_NAME = "x" * 200
_SAMPLE_URL = "https://crm.example/t/" + "x" * 300
_SAMPLE_DAY = date(2001, 1, 1)  # any day: the sample's dates are a year away at most


PARTS = ("subject", "html", "text")


class OverBudget(SecurityError):
    """The template asked for more than a render may spend."""


class RenderFailed(Exception):
    """A part of a campaign's content could not be rendered (for this recipient)."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part, self.reason = part, reason


class _BudgetedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(undefined=StrictUndefined, **options)
        self.globals["range"] = _range
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            return _power(left, right)
        if operator == "%":
            return _narrow(left) % right
        return _product(left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        sandboxed = super().wrap_str_format(value)  # not None: value is a str's format method
        if sandboxed is not None:
            _narrow(value.__self__)
        return sandboxed


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise OverBudget(f"a range has at most {MAX_RANGE} items")
    return numbers


def _power(base: Any, exponent: Any) -> Any:
    if _is_int(base) and _is_int(exponent) and exponent > 0:
        # The result has about bits(base) * exponent bits: refused before it is computed.
        if abs(base).bit_length() * exponent > MAX_INT_BITS:
            raise OverBudget(f"a number has at most {MAX_INT_BITS} bits")
    return _bounded_number(base**exponent)


def _product(left: Any, right: Any) -> Any:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and _is_int(times):
            if len(sequence) * max(times, 0) > MAX_OUTPUT:
                raise OverBudget(f"a repeated text has at most {MAX_OUTPUT} characters")
    if _is_int(left) and _is_int(right):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS + 1:
            raise OverBudget(f"a number has at most {MAX_INT_BITS} bits")
    return left * right


def _narrow(text: Any) -> Any:
    """A format (``%`` or ``str.format``) padding to widths a page can hold."""
    if isinstance(text, str) and _WIDE.search(text):
        raise OverBudget(f"widths and precisions are at most {MAX_WIDTH}")
    return text


def _bounded_filter(apply: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose numbers (a width, a count) and format strings stay within budget."""

    @functools.wraps(apply)  # keeps the marks telling Jinja what to pass first
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if _is_int(value) and abs(value) > MAX_RANGE:
                raise OverBudget(f"a filter's numbers are at most {MAX_RANGE}")
            _narrow(value)
        return apply(*args, **kwargs)

    return bounded


def _bounded_number(value: Any) -> Any:
    if _is_int(value) and value.bit_length() > MAX_INT_BITS:
        raise OverBudget(f"a number has at most {MAX_INT_BITS} bits")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_html = _BudgetedSandbox(autoescape=True)
_text = _BudgetedSandbox(autoescape=False)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def render(
    content: EmailContent,
    *,
    given_name: str | None,
    family_name: str | None,
    link: Callable[[str], str],
    unsubscribe_url: str,
    customer_file: Mapping[str, Any],
) -> RenderedEmail:
    values = {
        **customer_file,
        # A missing name must not break a send: greet without it.
        "given_name": given_name or "",
        "family_name": family_name or "",
        "unsubscribe_url": unsubscribe_url,
        "link": _link_function(content.links, link),
    }
    subject, html, text = (_rendered(part, content, values) for part in PARTS)
    return RenderedEmail(
        subject=" ".join(subject.split()),  # no header injection through a name
        html=html,
        text=text,
    )


def check(content: EmailContent) -> None:
    """Render once with the longest sample values: syntax errors, unknown variables or links,
    sandbox violations and budgets exceeded surface when the campaign is drafted, naming the
    part at fault."""
    sample: dict[str, Any] = {name: _SAMPLE_NAME for name in VARIABLES}
    sample |= sample_values(_SAMPLE_NAME, _SAMPLE_DAY)
    sample |= {
        "unsubscribe_url": _SAMPLE_URL,
        "link": _link_function(content.links, lambda _: _SAMPLE_URL),
    }
    for part in PARTS:
        try:
            _rendered(part, content, sample)
        except RenderFailed as failed:
            raise RuleViolation(f"content.{part}", f"template error: {failed.reason}") from None


def _rendered(part: str, content: EmailContent, values: Mapping[str, Any]) -> str:
    """One part (subject, html or text) rendered within budget, else ``RenderFailed``."""
    env = _html if part == "html" else _text
    try:
        return _budgeted(env.from_string(getattr(content, part)), values)
    except Exception as error:  # the template is code: whatever it raises, the part fails
        raise RenderFailed(part, _message(error)) from None


def _budgeted(template: Template, values: Mapping[str, Any]) -> str:
    """The rendered text, within the output budget and the deadline (else ``OverBudget``)."""
    chunks, size = [], 0
    with _deadline(DEADLINE):
        for chunk in template.generate(values):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise OverBudget(f"renders more than {MAX_OUTPUT} characters")
            chunks.append(chunk)
    return "".join(chunks)


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Stops the code run inside at the deadline: checked on every line of Python it runs."""
    ends = time.monotonic() + seconds

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        if time.monotonic() > ends:
            raise OverBudget(f"takes more than {seconds:g}s to render")
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def _link_function(links: Mapping[str, str], tracked: Callable[[str], str]) -> Callable[[Any], str]:
    def link(name: Any) -> str:
        if isinstance(name, Undefined) or name not in links:
            raise RuleViolation("content.links", f"no link named {name!r}")
        return tracked(name)

    return link


def _message(error: Exception) -> str:
    if isinstance(error, RuleViolation):
        return error.detail
    return str(error)[:300] or type(error).__name__
