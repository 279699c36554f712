"""The READMEs' HTTP examples, run as pasted against every service.

Only the addresses change: `make up` serves contacts on 8001 ... analytics on 8005, this session
serves them on ports of its own. The token comes from `make -s token` as the README says (the
session's ``CRM_STATE_DIR`` holds the key its processes trust). curl is made to fail on an error
answer, so an example that gets a 4xx or a 5xx fails here instead of printing a problem quietly.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.drills import Platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", *sorted(ROOT.glob("services/*/README.md"))]
PORTS = {"8001": "contacts", "8002": "sales", "8003": "marketing", "8004": "service-desk",
         "8005": "analytics"}  # fmt: skip
ADDRESS = re.compile(r"http://127\.0\.0\.1:(800[1-5])")
FENCED_BASH = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
# curl refuses --fail-with-body beside -f: a call that already fails on errors (-sf, in a wait
# loop) keeps its own flags.
PRELUDE = """set -euo pipefail
curl() {
  local arg
  for arg in "$@"; do
    if [[ $arg == -[a-zA-Z]*f* ]]; then command curl --max-time 30 "$@"; return; fi
  done
  command curl --fail-with-body --max-time 30 "$@"
}
"""


def http_examples() -> list[tuple[str, str]]:
    """(where, script) for every bash block of a README that calls a service's API."""
    found = []
    for readme in READMES:
        text = readme.read_text()
        for match in FENCED_BASH.finditer(text):
            if ADDRESS.search(match.group(1)):
                line = text.count("\n", 0, match.start()) + 1
                found.append((f"{readme.relative_to(ROOT)}:{line}", match.group(1)))
    return found


EXAMPLES = http_examples()


def test_the_readmes_have_http_examples():
    assert {where.split(":")[0] for where, _ in EXAMPLES} >= {
        "README.md",
        "services/sales/README.md",
    }


@pytest.mark.parametrize("script", [s for _, s in EXAMPLES], ids=[w for w, _ in EXAMPLES])
def test_example_runs_as_pasted(whole_platform: Platform, script: str):
    here = ADDRESS.sub(lambda m: whole_platform.url(PORTS[m.group(1)]), script)
    result = subprocess.run(
        ["bash", "-c", PRELUDE + here],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, (
        f"{here}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
