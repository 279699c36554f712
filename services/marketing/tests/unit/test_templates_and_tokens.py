from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_marketing.application.templates import check, render
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
