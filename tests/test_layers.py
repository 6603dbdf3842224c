"""The apps depend one way (the import-linter contract in pyproject.toml), and no import of the
vault's own modules hides inside a function to dodge that rule."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = (
    "config", "ops", "privacy", "notifications", "complaints", "retention", "auditor", "recorder",
    "forwarding", "staff", "audit", "core",
)  # fmt: skip


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_import_contract_is_kept() -> None:
    answer = lint_imports(ROOT)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "0 broken" in answer.stdout


@pytest.mark.parametrize(
    ("module", "import_line", "broken"),
    [
        ("core/errors.py", "import audit.services", "Apps import only the layers below them"),
        ("recorder/unsealing.py", "import complaints.models", "Apps import only the layers below them"),
        ("audit/selectors.py", "import audit.services", "selectors import no services"),
        ("complaints/access.py", "import complaints.selectors", "No import cycle"),
    ],
)
def test_an_import_that_points_back_up_breaks_the_contract(
    tmp_path: Path, module: str, import_line: str, broken: str
) -> None:
    """The same contract over a copy of the code with one import added where it must not be."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{import_line}  # noqa\n")
    answer = lint_imports(tmp_path)
    assert answer.returncode != 0
    assert f"{broken}" in answer.stdout and "BROKEN" in answer.stdout


def _function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {function.name}() imports {name}")
    return found


def test_no_import_of_the_vault_s_own_modules_hides_inside_a_function() -> None:
    """Except in AppConfig.ready() and the post_migrate receiver beside it, which Django runs once
    the app registry is ready (models cannot be imported before)."""
    found = [
        line
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and path.name != "apps.py"
        for line in _function_level_imports(path)
    ]
    assert found == []
