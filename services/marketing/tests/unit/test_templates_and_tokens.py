from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_marketing.application.templates import RenderFailed, check, render
from crm_marketing.application.tokens import InvalidToken, TokenSigner
from crm_marketing.domain import EmailContent, RuleViolation

pytestmark = pytest.mark.unit

SIGNER = TokenSigner(b"k" * 32)


def content(**overrides: str) -> EmailContent:
    values = {"subject": "Hi {{ given_name }}", "html": "<p>{{ given_name }}</p>", "text": "t"}
    return EmailContent(
        **{**values, **overrides}, links={"go": "https://x.example"}, offer_links=()
    )


def test_personal_values_are_escaped_in_html_and_cannot_inject_headers() -> None:
    rendered = render(
        content(),
        given_name="<script>x</script>\r\nBcc: all@x.org",
        family_name=None,
        link=lambda name: f"https://t.example/{name}",
        unsubscribe_url="https://t.example/u",
        customer_file={},
    )
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


@pytest.mark.parametrize(
    ("part", "source"),
    [
        ("html", "{{ given_name.__class__.__mro__ }}"),
        ("html", "{% for x in range(10**9) %}{% endfor %}{{ oops"),
        ("text", "{{ unknown_variable }}"),
        ("subject", "{{ link('missing') }}"),
    ],
)
def test_template_faults_are_found_when_drafting(part, source) -> None:
    with pytest.raises(RuleViolation) as refused:
        check(content(**{part: source}))
    assert refused.value.field == f"content.{part}"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 10**5000 }}", "a number has at most"),
        ("{{ (2**4000) * (2**4000) }}", "a number has at most"),
        ("{{ 'x' * 200000000 }}", "a repeated text has at most"),
        ("{{ range(10**9)|list|length }}", "a range has at most"),
        ("{{ 'ab'|center(10**6) }}", "a filter's numbers are at most"),
        ("{{ '{:>99999}'.format(1) }}", "widths and precisions are at most"),
        ("{% for i in range(100) %}{{ 'x' * 9999 }}{% endfor %}", "renders more than"),
        (
            "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
            "takes more",
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
            "takes more",
        ),
    ],
)
def test_templates_over_budget_are_refused_when_drafting(source: str, reason: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        check(content(html=source))
    assert refused.value.field == "content.html" and reason in refused.value.detail


def test_drafting_renders_with_the_longest_names_a_recipient_can_have() -> None:
    # 200 characters, 3000 times: over the output budget only for a name that long.
    with pytest.raises(RuleViolation):
        check(content(text="{% for i in range(3000) %}{{ given_name }}{% endfor %}"))


def test_a_branch_over_budget_fails_that_recipient_s_render_only() -> None:
    bomb = content(html="{% if given_name == 'Bob' %}{{ 10**5000 }}{% endif %}ok")
    check(bomb)
    kept = {
        "family_name": None,
        "link": lambda name: name,
        "unsubscribe_url": "u",
        "customer_file": {},
    }

    assert render(bomb, given_name="Ada", **kept).html == "ok"
    with pytest.raises(RenderFailed) as failed:
        render(bomb, given_name="Bob", **kept)
    assert failed.value.part == "html"


def test_tokens_round_trip_and_bind_their_purpose() -> None:
    message = uuid4()
    token = SIGNER.sign("click", message, "go")
    assert SIGNER.verify("click", token) == (message, "go")
    with pytest.raises(InvalidToken):
        SIGNER.verify("unsubscribe", token)
    with pytest.raises(InvalidToken):
        TokenSigner(b"o" * 32).verify("click", token)


@given(st.text(max_size=300))
def test_no_forged_token_passes(token) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.verify("open", token)


@given(st.binary(min_size=1, max_size=60), st.integers(0, 59))
def test_no_altered_token_passes(noise, at) -> None:
    token = SIGNER.sign("open", uuid4())
    altered = token[:at] + noise.hex()[:4] + token[at + 4 :]
    if altered != token:
        with pytest.raises(InvalidToken):
            SIGNER.verify("open", altered)
