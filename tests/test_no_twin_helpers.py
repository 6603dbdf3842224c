"""No helper function or fixture is defined in more than one test module: factories live in
tests/factories.py, staff in tests/staff.py, shared fixtures in a conftest.py. A twin drifts from
its original unseen (four `add_staff`s made staff four ways); this names any that comes back.

Counted, at the top level of every module under tests/: functions that are not tests or pytest
hooks, and fixtures by the name pytest knows them (`name=` where given). A fixture imported into
another module (or assigned there from an imported conftest) is registered there again, so that
counts as a second definition too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def fixture_decorator(node: ast.expr) -> ast.expr | None:
    """The decorator itself if it is pytest's fixture (`@pytest.fixture`, `@fixture`, with or
    without arguments), else None."""
    target = node.func if isinstance(node, ast.Call) else node
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    return node if name == "fixture" else None


def fixture_name(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The name pytest registers `function` under as a fixture; None if it is not one."""
    for decorator in function.decorator_list:
        if fixture_decorator(decorator) is None:
            continue
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return function.name
    return None


def module_path(root: Path, dotted: str) -> Path | None:
    """The file of module `dotted` (e.g. tests.retention.conftest) if it lies under `root`."""
    parts = dotted.split(".")
    if parts[0] != root.name:
        return None
    path = root.joinpath(*parts[1:])
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def twins(root: Path) -> dict[str, list[str]]:
    """{name: places} for every helper or fixture defined in more than one module under `root`."""
    trees = {path: ast.parse(path.read_text(), filename=str(path)) for path in sorted(root.rglob("*.py"))}
    places: dict[str, list[str]] = defaultdict(list)
    fixtures: dict[Path, set[str]] = defaultdict(set)
    for path, tree in trees.items():
        where = path.relative_to(root.parent).as_posix()
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (name := fixture_name(node)) is not None:
                fixtures[path].add(name)
                places[name].append(f"{where}:{node.lineno} (fixture)")
            elif not node.name.startswith(("test_", "pytest_")):
                places[node.name].append(f"{where}:{node.lineno} (helper)")
    for path, tree in trees.items():
        where = path.relative_to(root.parent).as_posix()
        modules: dict[str, Path] = {}  # `from tests.x import conftest as fixtures`: fixtures -> its file
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    source = module_path(root, node.module)
                    if source is not None and alias.name in fixtures[source]:
                        places[alias.asname or alias.name].append(f"{where}:{node.lineno} (fixture imported)")
                    elif (module := module_path(root, f"{node.module}.{alias.name}")) is not None:
                        modules[alias.asname or alias.name] = module
            elif (
                isinstance(node, ast.Assign)
                and isinstance(value := node.value, ast.Attribute)
                and isinstance(value.value, ast.Name)
                and value.value.id in modules
                and value.attr in fixtures[modules[value.value.id]]
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        places[target.id].append(f"{where}:{node.lineno} (fixture assigned)")
    return {name: found for name, found in sorted(places.items()) if len(found) > 1}


def describe(found: dict[str, list[str]]) -> str:
    return "\n".join(f"  {name}: {', '.join(where)}" for name, where in found.items())


def test_no_helper_or_fixture_is_defined_in_two_test_modules() -> None:
    found = twins(TESTS)
    assert not found, (
        "defined in more than one test module (keep one: factories in tests/factories.py, staff in "
        "tests/staff.py, shared fixtures in the nearest common conftest.py; rename a helper that only "
        f"shares the name):\n{describe(found)}"
    )


def test_the_guard_names_each_twin_with_its_places(tmp_path: Path) -> None:
    root = tmp_path / "tests"
    (root / "recorder").mkdir(parents=True)
    (root / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(params=['a'])\ndef store_kind(request):\n    return request.param\n"
        "\ndef pytest_configure(config):\n    pass\n"
    )
    (root / "recorder" / "conftest.py").write_text("def pytest_configure(config):\n    pass\n")
    (root / "test_three.py").write_text(
        "from tests import conftest as shared\n\nstore_kind = shared.store_kind\n"
    )
    (root / "recorder" / "test_one.py").write_text(
        "import pytest\nfrom pytest import fixture\n\n"
        "def add_staff(name):\n    return name\n\n"
        "@fixture\ndef store_kind():\n    return 'local'\n\n"
        "@pytest.fixture(name='world')\ndef make_world():\n    return 1\n\n"
        "def test_same_name():\n    pass\n"
    )
    (root / "recorder" / "test_two.py").write_text(
        "import pytest\nfrom tests.conftest import store_kind\n"
        "from tests.recorder.test_one import add_staff as a\n"
        "async def add_staff(name):\n    return name\n\n"
        "@pytest.fixture()\ndef world():\n    return 2\n\n"
        "def test_same_name():\n    pass\n"
    )
    found = twins(root)
    assert found == {
        "add_staff": ["tests/recorder/test_one.py:4 (helper)", "tests/recorder/test_two.py:4 (helper)"],
        "store_kind": [
            "tests/conftest.py:4 (fixture)",
            "tests/recorder/test_one.py:8 (fixture)",
            "tests/recorder/test_two.py:2 (fixture imported)",
            "tests/test_three.py:3 (fixture assigned)",
        ],
        "world": ["tests/recorder/test_one.py:12 (fixture)", "tests/recorder/test_two.py:8 (fixture)"],
    }
    assert "  add_staff: tests/recorder/test_one.py:4 (helper), tests/recorder/test_two.py:4 (helper)" in (
        describe(found)
    )
