"""The development issuer: keys made on demand, and `crm-dev-token` printing accepted tokens."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jwt
import pytest

from crm_platform.devtoken import dev_key_files, main
from crm_platform.settings import AuthSettings
from crm_platform.web.auth import KNOWN_SCOPES, TokenVerifier

pytestmark = pytest.mark.unit


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRM_STATE_DIR", str(tmp_path))
    return tmp_path


def test_the_cli_prints_a_token_the_apis_accept(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(
        [
            "--scope",
            "contacts:write",
            "--scope",
            "contacts:read",
            "--subject",
            "alice",
            "--ttl",
            "60",
        ]
    )
    token = capsys.readouterr().out.strip()
    principal = TokenVerifier(AuthSettings()).verify(token)
    assert principal.subject == "alice"
    assert principal.scopes == {"contacts:write", "contacts:read"}
    claims = principal.claims
    assert claims["exp"] - claims["iat"] == 60
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert (state / "dev-issuer" / "private.pem").stat().st_mode & 0o777 == 0o600


def test_all_scopes_are_every_known_scope(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--all-scopes"])
    principal = TokenVerifier(AuthSettings()).verify(capsys.readouterr().out.strip())
    assert principal.scopes == set(KNOWN_SCOPES)
    assert principal.subject == "dev@crm.local"


@pytest.mark.parametrize("argv", [[], ["--scope", "contacts:delete"]])
def test_unknown_or_no_scopes_are_usage_errors(state: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_the_console_script_is_installed(state: Path) -> None:
    script = Path(sys.executable).parent / "crm-dev-token"
    result = subprocess.run(
        [str(script), "--scope", "analytics:read"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CRM_STATE_DIR": str(state)},
    )
    assert TokenVerifier(AuthSettings()).verify(result.stdout.strip()).scopes == {"analytics:read"}


def _public_key_of_a_racing_process(folder: str) -> bytes:
    os.environ["CRM_STATE_DIR"] = folder
    private, public = dev_key_files()
    return private.read_bytes() + public.read_bytes()


def test_services_starting_together_agree_on_one_key_pair(state: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        pairs = set(pool.map(_public_key_of_a_racing_process, [str(state)] * 8))
    assert len(pairs) == 1
    assert sorted(p.name for p in (state / "dev-issuer").iterdir()) == ["private.pem", "public.pem"]
