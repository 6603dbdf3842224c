"""Audit fixtures: the ledger's signing key in the test's own folder, staff by role, and the
offline verifier run the way an auditor runs it (its own process, Django not importable)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.liveserver import ROOT
from tests.staff import make_role_holder, signed_in_api


@pytest.fixture(autouse=True)
def ledger_key_dir(tmp_path: Path, settings) -> Path:
    """The embedded signing key, generated on first use in this test's folder."""
    settings.EMBEDDED_KEY_DIR = tmp_path / "keys"
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "keys" / "ledger-signing-key.pem")
    return tmp_path / "keys"


@pytest.fixture
def auditor(db) -> APIClient:
    return signed_in_api(make_role_holder("audrey", "auditor"))


@pytest.fixture
def operator(db) -> APIClient:
    return signed_in_api(make_role_holder("otto", "operator"))


# Run as an auditor would, on a machine without Django: any import of it (or of the rest of the
# service's stack) fails, so the verifier must manage with the standard library and cryptography.
OFFLINE = """
import runpy, sys
BLOCKED = {"django", "rest_framework", "drf_spectacular", "celery", "psycopg", "environ", "tests"}
class NoServiceStack:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed on the auditor's machine")
sys.meta_path.insert(0, NoServiceStack())
sys.path.insert(0, sys.argv.pop(1))
sys.argv[0] = "audit.verify"
runpy.run_module("audit.verify", run_name="__main__", alter_sys=True)
"""


def run_verifier(*arguments: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", OFFLINE, str(ROOT), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
    )
