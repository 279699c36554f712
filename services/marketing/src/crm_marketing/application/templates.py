"""Personalized e-mail from a campaign's templates: Jinja2, sandboxed, HTML autoescaped.

Templates are written by marketers, not developers: the sandbox refuses access to Python
internals, and personal values (a name with ``<script>`` in it) are escaped in the HTML part.
Links are written ``{{ link("offer") }}``: only links the campaign declared exist, and each
renders as the recipient's signed, tracked redirect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..domain import EmailContent, RuleViolation

# Variables a template may use; anything else is an error found when the campaign is drafted.
VARIABLES = ("given_name", "family_name", "unsubscribe_url")

_html = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_text = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


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
) -> RenderedEmail:
    values = {
        # A missing name must not break a send: greet without it.
        "given_name": given_name or "",
        "family_name": family_name or "",
        "unsubscribe_url": unsubscribe_url,
        "link": _link_function(content.links, link),
    }
    subject = _text.from_string(content.subject).render(values)
    return RenderedEmail(
        subject=" ".join(subject.split()),  # no header injection through a name
        html=_html.from_string(content.html).render(values),
        text=_text.from_string(content.text).render(values),
    )


def check(content: EmailContent) -> None:
    """Render once with sample values: syntax errors, unknown variables or links, and sandbox
    violations surface when the campaign is drafted, naming the part at fault."""
    sample = {name: "x" for name in VARIABLES}
    for field, source, env in (
        ("content.subject", content.subject, _text),
        ("content.html", content.html, _html),
        ("content.text", content.text, _text),
    ):
        try:
            env.from_string(source).render(
                sample, link=_link_function(content.links, lambda name: name)
            )
        except (TemplateError, RuleViolation) as error:
            raise RuleViolation(field, f"template error: {_message(error)}") from None


def _link_function(links: Mapping[str, str], tracked: Callable[[str], str]) -> Callable[[Any], str]:
    def link(name: Any) -> str:
        if isinstance(name, Undefined) or name not in links:
            raise RuleViolation("content.links", f"no link named {name!r}")
        return tracked(name)

    return link


def _message(error: Exception) -> str:
    return error.detail if isinstance(error, RuleViolation) else str(error)[:300]
