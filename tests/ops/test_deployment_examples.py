"""The deployment examples are parseable and start only what exists: systemd units (configparser),
the docker compose file (YAML), the IAM policies (JSON, with the split of permissions the guide
promises), and every `manage.py` command the guide mentions."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from tests.liveserver import ROOT

UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
COMPOSE = ROOT / "deploy" / "compose.yaml"
POLICIES = ROOT / "docs" / "iam"
GUIDE = ROOT / "docs" / "DEPLOYMENT.md"
CELERY_ROLES = {"worker", "beat"}


def check_command(argv: list[str]) -> str:
    """What `argv` starts, after checking it exists in this checkout; AssertionError otherwise."""
    program = Path(argv[0]).name
    if program == "gunicorn":
        module, _, attribute = argv[1].partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), argv
        return "gunicorn"
    if program == "celery":
        assert argv[1:3] == ["--app", "config"], argv
        assert argv[3] in CELERY_ROLES, argv
        return f"celery {argv[3]}"
    if program.startswith("python"):
        if argv[1] == "manage.py":
            assert argv[2] in get_commands(), f"manage.py {argv[2]} is no command"
            return f"manage.py {argv[2]}"
        if argv[1] == "-m":
            assert importlib.util.find_spec(argv[2]) is not None, argv
            return f"python -m {argv[2]}"
    raise AssertionError(f"unexpected command {argv}")


def check_access_log_is_json(argv: list[str]) -> None:
    """gunicorn's access log format, filled with sample values, is one JSON object."""
    access_format = argv[argv.index("--access-logformat") + 1]
    sample = re.sub(r"%\((?:t|m|U|\{[a-z-]+\}o)\)s", "x", access_format)
    line = json.loads(re.sub(r"%\([sMB]\)s", "1", sample))
    assert {"time", "level", "logger", "message", "request_id"} <= set(line)


def read_unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read(path)
    return unit


def test_there_is_a_unit_for_each_role() -> None:
    assert {path.stem for path in UNITS} == {
        "vault-migrate", "vault-ingest", "vault-console", "vault-worker", "vault-beat", "vault-forwarder",
    }  # fmt: skip


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_systemd_unit_parses_and_starts_a_real_command(path: Path) -> None:
    unit = read_unit(path)
    assert {"Unit", "Service"} <= set(unit.sections())
    service = unit["Service"]
    assert service["User"] == "vault" and service["WorkingDirectory"] == "/opt/vault"
    assert service["EnvironmentFile"] == "/etc/vault/vault.env"
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/opt/vault/.venv/bin/")
    started = check_command(argv)
    if started == "gunicorn":
        check_access_log_is_json([arg.replace("%%", "%") for arg in argv])
    if service.get("Type") != "oneshot":
        assert unit["Install"]["WantedBy"] == "multi-user.target"
        assert "vault-migrate.service" in unit["Unit"]["Requires"]
    expected = {
        "vault-migrate": "manage.py migrate",
        "vault-ingest": "gunicorn",
        "vault-console": "gunicorn",
        "vault-worker": "celery worker",
        "vault-beat": "celery beat",
        "vault-forwarder": "manage.py forward_ledger",
    }[path.stem]
    assert started == expected


def test_only_the_console_unit_holds_the_identity() -> None:
    identities = {}
    for path in UNITS:
        environment = read_unit(path)["Service"].get("Environment", "")
        identities[path.stem] = environment

    def setting(name: str) -> str:
        assignments = dict(word.split("=", 1) for word in shlex.split(identities[name]))
        return assignments["AGE_IDENTITY_FILE"]

    assert setting("vault-console") == "/etc/vault/keys/age-identity.txt"
    for name in ("vault-ingest", "vault-worker", "vault-beat", "vault-forwarder"):
        assert setting(name) == "", name  # explicitly empty: never read, whatever lies on disk


def test_the_compose_file_parses_and_each_vault_service_starts_a_real_command() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"db", "redis", "s3", "migrate", "ingest", "console", "worker", "beat"} <= set(services)
    started = {}
    for name, service in services.items():
        if service.get("image") != "session-recording-vault:latest":
            continue
        command = service["command"]
        if command[:2] == ["sh", "-c"]:
            started[name] = [
                check_command(shlex.split(part)) for part in command[2].split("&&") if "python" in part
            ]
        else:
            started[name] = [check_command(command)]
            if started[name] == ["gunicorn"]:
                check_access_log_is_json(command)
    assert started == {
        "migrate": ["manage.py migrate", "manage.py init_keys"],
        "ingest": ["gunicorn"],
        "console": ["gunicorn"],
        "worker": ["celery worker"],
        "beat": ["celery beat"],
        "forwarder": ["manage.py forward_ledger"],
    }
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["ingest"]["environment"]["AGE_IDENTITY_FILE"] == ""
    assert services["console"]["environment"]["AGE_IDENTITY_FILE"].startswith("/identity/")
    assert not any("identity" in volume for volume in services["ingest"]["volumes"])


def actions(policy: str) -> set[str]:
    document = json.loads((POLICIES / policy).read_text())
    assert document["Version"] == "2012-10-17"
    found: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        found.update(statement["Action"])
    return found


def test_the_iam_policies_split_encrypt_decrypt_and_delete() -> None:
    ingest, console, worker = actions("ingest.json"), actions("console.json"), actions("worker.json")
    assert "kms:Encrypt" in ingest and "kms:Decrypt" not in ingest
    assert "kms:Decrypt" in console and "kms:Encrypt" not in console
    assert not any(action.startswith("kms:") for action in worker)
    assert "s3:DeleteObject" in worker
    assert not any(action.startswith("s3:Delete") for action in ingest | console)
    assert "s3:GetObject" in console and "s3:GetObject" not in ingest | worker
    assert actions("rotation.json") == {"kms:Decrypt", "kms:Encrypt"}
    json.loads((POLICIES / "kms-key-policy.json").read_text())


def test_every_manage_py_command_in_the_guide_exists() -> None:
    named = set(re.findall(r"manage\.py ([a-z0-9_]+)", GUIDE.read_text()))
    assert {"rotate_recipients", "purge_expired", "s3_lifecycle"} <= named
    assert named <= set(get_commands())
    for path in re.findall(r"`(deploy/[\w./-]+|docs/iam/[\w.-]+)`", GUIDE.read_text()):
        if "*" not in path:
            assert (ROOT / path).exists(), path
