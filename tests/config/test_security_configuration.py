"""Production security configuration: `check --deploy` is clean with production settings, and the
real server (gunicorn, production environment) sends HSTS, the CSP, frame denial, a referrer
policy and secure cookies on pages and on the API alike."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for_http
from tests.liveserver import ROOT, LiveServer

# What a production deployment behind a TLS-terminating proxy sets (README, "Production
# configuration"); the secret comes from the environment, never from a file in the data dir.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "vault.example.org,127.0.0.1",
    "CSRF_TRUSTED_ORIGINS": "https://vault.example.org",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "BEHIND_TLS_PROXY": "true",
}


def check_deploy(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in PRODUCTION_ENV and not key.startswith("SECURE_")
    }
    environment.update(VAULT_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_a_production_setting_is_missing(tmp_path: Path) -> None:
    # The check above proves something only if it can fail: drop HSTS and the cookie flags.
    dropped = {"SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE"}
    weaker = {key: value for key, value in PRODUCTION_ENV.items() if key not in dropped}
    result = check_deploy(tmp_path, **weaker)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS
    assert "security.W012" in result.stderr + result.stdout  # session cookie not secure


class ProductionServer(LiveServer):
    """The live server with SECURE_SSL_REDIRECT on: it is awaited on /healthz, which answers plain
    HTTP (load balancer probes); any other plain-HTTP path redirects to an HTTPS it does not speak."""

    def __enter__(self) -> ProductionServer:
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, start_new_session=True)
        wait_for_http(self.url + "/healthz")
        return self


def assert_hardened(answer: requests.Response) -> None:
    headers = answer.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    directives = (part.strip().partition(" ") for part in headers["Content-Security-Policy"].split(";"))
    policy = {name: value for name, _, value in directives}
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["style-src"] == "'self'"
    assert policy["script-src"].startswith("'self'")
    assert "unsafe" not in headers["Content-Security-Policy"]


@pytest.mark.slow
def test_the_production_server_sends_the_security_headers_on_pages_and_the_api(transactional_db) -> None:
    with ProductionServer(**PRODUCTION_ENV) as server:
        https = {"X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy says

        page = requests.get(server.url + "/accounts/login/", headers=https, timeout=30)
        assert page.status_code == 200
        assert_hardened(page)
        csrf = next(cookie for cookie in page.cookies if cookie.name == "csrftoken")
        assert csrf.secure

        api = requests.get(server.url + f"/api/v1/sessions/{uuid.uuid4()}", headers=https, timeout=30)
        assert api.status_code == 401 and set(api.json()) == {"error", "detail"}
        assert_hardened(api)

        # Plain HTTP is sent to HTTPS, not served.
        plain = requests.get(server.url + "/accounts/login/", allow_redirects=False, timeout=30)
        assert plain.status_code == 301
        assert plain.headers["Location"].startswith("https://")
