"""Fixtures of the deployment tests: the compose file, rendered overlays and the scripts."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "production")


def load_script(name: str) -> ModuleType:
    """A script of scripts/ as a module (their names have hyphens, so no plain import); its own
    imports of scripts/ modules are found as when it runs (``python scripts/<name>``)."""
    path = ROOT / "scripts" / name
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem.replace("-", "_"), path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def topics_generator() -> ModuleType:
    return load_script("generate-kafka-topics.py")


@pytest.fixture(scope="session")
def rules_generator() -> ModuleType:
    return load_script("generate-prometheus-rules.py")


@pytest.fixture(scope="session")
def seed_demo() -> ModuleType:
    return load_script("platform/seed_demo.py")


@pytest.fixture(scope="session")
def supervise() -> ModuleType:
    return load_script("platform/supervise.py")


@pytest.fixture(scope="session")
def resource_validator() -> ModuleType:
    return load_script("validate-custom-resources.py")


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay rendered by kubectl's kustomize (which scripts/check-deploy.sh needs too)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is required, as for scripts/check-deploy.sh"
    return {
        overlay: [
            document
            for document in yaml.safe_load_all(
                subprocess.run(
                    [kubectl, "kustomize", str(ROOT / "deploy/k8s/overlays" / overlay)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            if document
        ]
        for overlay in OVERLAYS
    }
