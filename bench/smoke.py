"""`make bench-smoke`: every benchmark in bench/ run at smoke size, and bench/README.md checked
against what they print, so that neither a script nor a recorded figure can rot unnoticed.

1. Runs each script in SCRIPTS with `--smoke` (a size that takes seconds), two at a time (a
   smoke run's figures mean nothing, so they need no quiet machine), on PostgreSQL where the
   script needs a database: DATABASE_URL names the server (as in CI), each script makes its own
   scratch database there. A script fails the check if it exits non-zero or prints no figure
   table (a Markdown table with a number in its body). Every `bench/*.py` must be listed in
   SCRIPTS or HELPERS: a new benchmark cannot be left out by accident.
2. Checks bench/README.md. Each table below the index carries a caption line just above it:
   `Table: figures of `bench/X.py` at <commit>, ...`: the script's own table; its columns must
     be exactly those of a table the script printed in step 1 (cells may join several runs);
   `Table: commits compared with `bench/X.py`, ...`: a comparison of commits, each row naming
     its commit in its first cell;
   `Table: figures of `bench/X.py` as it was at <commit>, ...`: figures kept from a script that
     has since changed; each of its columns must appear in that commit's `bench/X.py`.
   Every commit named must exist in this repository (unless the clone is shallow).

The output of each script is kept in bench/results/smoke/ (ignored by git). `--readme-only`
checks the README against the output kept from the last run, without running anything.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
README = BENCH / "README.md"
RESULTS = BENCH / "results" / "smoke"
TIMEOUT_SECONDS = 300

# Each benchmark and its smoke arguments; `{server}` is DATABASE_URL, `{prefix}` --database-prefix.
SCRIPTS: dict[str, list[str]] = {
    "ingest.py": [],  # the embedded default (SQLite, local folder), as its figures are measured
    "playback.py": ["--postgres", "{server}", "--database", "{prefix}playback"],
    "purge.py": ["--database", "{prefix}purge"],  # DATABASE_URL
    "ledger.py": [],  # DATABASE_URL; makes and drops its own database
    "vacuum.py": [],  # DATABASE_URL; makes and drops its own scratch database
}
# Not benchmarks: the package marker, this check, and playback's reference server.
HELPERS = {"__init__.py", "smoke.py", "plain_range_server.py"}

TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
SEPARATOR = re.compile(r"^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$")
FIGURES = re.compile(r"^Table: figures of `bench/(?P<script>[\w.]+\.py)` at (?P<commit>[0-9a-f]{7,40})\b")
EARLIER = re.compile(
    r"^Table: figures of `bench/(?P<script>[\w.]+\.py)` as it was at (?P<commit>[0-9a-f]{7,40})\b"
)
COMPARED = re.compile(r"^Table: commits compared with `bench/(?P<script>[\w.]+\.py)`")
COMMIT = re.compile(r"\b[0-9a-f]{7,40}\b")


@dataclass
class Table:
    line: int  # 1-based line of the header row
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    caption: str = ""
    section: str = ""


@dataclass
class Outcome:
    script: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    problems: list[str] = field(default_factory=list)


def cells(line: str) -> tuple[str, ...]:
    return tuple(" ".join(cell.split()) for cell in line.strip().strip("|").split("|"))


def tables(text: str) -> list[Table]:
    """The Markdown tables of `text`, each with the non-blank line above it and its section."""
    lines = text.splitlines()
    found, section, number = [], "", 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("## "):
            section = line[3:].strip()
        if TABLE_ROW.match(line) and number + 1 < len(lines) and SEPARATOR.match(lines[number + 1]):
            above = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
            table = Table(
                line=number + 1, header=cells(line), rows=[], caption=above.strip(), section=section
            )
            number += 2
            while number < len(lines) and TABLE_ROW.match(lines[number]):
                table.rows.append(cells(lines[number]))
                number += 1
            found.append(table)
            continue
        number += 1
    return found


def has_figures(output: str) -> bool:
    return any(any(re.search(r"\d", cell) for row in t.rows for cell in row) for t in tables(output))


def run(script: str, arguments: list[str], env: dict[str, str]) -> Outcome:
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(BENCH / script), "--smoke", *arguments],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
        )  # fmt: skip
        outcome = Outcome(
            script, result.returncode, time.perf_counter() - started, result.stdout, result.stderr
        )
    except subprocess.TimeoutExpired as timeout:
        stdout = timeout.stdout.decode() if isinstance(timeout.stdout, bytes) else (timeout.stdout or "")
        outcome = Outcome(
            script, -1, time.perf_counter() - started, stdout, f"timed out after {TIMEOUT_SECONDS} s"
        )
    if outcome.returncode != 0:
        outcome.problems.append(f"exited with {outcome.returncode}")
    elif not has_figures(outcome.stdout):
        outcome.problems.append("printed no figure table")
    return outcome


def unlisted_scripts() -> list[str]:
    return sorted(p.name for p in BENCH.glob("*.py") if p.name not in SCRIPTS and p.name not in HELPERS)


def commit_problem(commit: str) -> str | None:
    """Why `commit` cannot be the commit a figure was measured on, or None."""
    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True
    )
    if shallow.returncode != 0 or shallow.stdout.strip() == "true":
        return None  # no history to look in: the caption's form was checked
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True)
    return None if known.returncode == 0 else f"names commit {commit}, which this repository does not have"


def earlier_columns_problem(script: str, commit: str, header: tuple[str, ...]) -> str | None:
    """Why a table cannot have been printed by `script` as it was at `commit`, or None: a column
    its source at that commit does not name. No history (a shallow clone): nothing to look in."""
    source = subprocess.run(
        ["git", "show", f"{commit}:bench/{script}"], cwd=ROOT, capture_output=True, text=True
    )
    if source.returncode != 0:
        if problem := commit_problem(commit):
            return problem
        shallow = subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True
        )
        return None if shallow.stdout.strip() == "true" else f"commit {commit} has no bench/{script}"
    missing = [column for column in header if column not in source.stdout]
    return f"bench/{script} at {commit} prints no column {missing!r}" if missing else None


def check_readme(outputs: dict[str, str]) -> list[str]:
    """Problems of bench/README.md against the scripts' output (script -> stdout)."""
    problems = []
    printed = {script: {t.header for t in tables(out)} for script, out in outputs.items()}
    for table in tables(README.read_text()):
        where = f"bench/README.md:{table.line} ({table.section or 'index'})"
        if not table.section:
            continue  # the index of the benchmarks, above the first section
        if figures := FIGURES.match(table.caption):
            script = figures["script"]
            if script not in SCRIPTS:
                problems.append(f"{where}: names bench/{script}, which is not a benchmark in SCRIPTS")
            elif script not in printed:
                problems.append(f"{where}: no output of bench/{script} to check its columns against")
            elif table.header not in printed[script]:
                expected = "\n    ".join(" | ".join(h) for h in sorted(printed[script]))
                problems.append(
                    f"{where}: bench/{script} no longer prints a table with these columns:\n    "
                    f"{' | '.join(table.header)}\n  it prints:\n    {expected}"
                )
            if problem := commit_problem(figures["commit"]):
                problems.append(f"{where}: {problem}")
        elif earlier := EARLIER.match(table.caption):
            if problem := earlier_columns_problem(earlier["script"], earlier["commit"], table.header):
                problems.append(f"{where}: {problem}")
        elif compared := COMPARED.match(table.caption):
            if compared["script"] not in SCRIPTS:
                problems.append(f"{where}: names bench/{compared['script']}, which is not in SCRIPTS")
            for row in table.rows:
                commit = COMMIT.match(row[0].strip("`* "))
                if commit is None:
                    problems.append(f"{where}: a row of a comparison names no commit first: {row[0]!r}")
                elif problem := commit_problem(commit.group()):
                    problems.append(f"{where}: {problem}")
        else:
            problems.append(
                f"{where}: a table without a caption naming its script and commit just above it "
                "(`Table: figures of `bench/X.py` at <commit>, ...`, "
                "`Table: figures of `bench/X.py` as it was at <commit>, ...` or "
                "`Table: commits compared with `bench/X.py`, ...`)"
            )
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-prefix", default="vault_bench_smoke_", help="of the scratch databases")
    parser.add_argument("--jobs", type=int, default=2, help="scripts run side by side")
    parser.add_argument("--readme-only", action="store_true", help="check the README against the last run")
    args = parser.parse_args()
    problems = [
        f"bench/{name}: neither a benchmark (SCRIPTS) nor a helper (HELPERS)" for name in unlisted_scripts()
    ]
    outputs: dict[str, str] = {}
    if args.readme_only:
        kept = {s: RESULTS / f"{s}.md" for s in SCRIPTS}
        outputs = {s: path.read_text() for s, path in kept.items() if path.exists() and path.stat().st_size}
    else:
        server = os.environ.get("DATABASE_URL", "")
        if not server.startswith(("postgres://", "postgresql://")):
            raise SystemExit(
                "make bench-smoke needs DATABASE_URL=postgres://... (a server for scratch databases)"
            )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        RESULTS.mkdir(parents=True, exist_ok=True)
        # Scripts given the server's URL connect to it to make their databases: its own database.
        admin = urlunsplit(urlsplit(server)._replace(path="/postgres"))
        values = {"server": admin, "prefix": args.database_prefix}
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [
                pool.submit(run, script, [a.format(**values) for a in arguments], env)
                for script, arguments in SCRIPTS.items()
            ]
            for future in futures:
                outcome = future.result()
                (RESULTS / f"{outcome.script}.md").write_text(outcome.stdout)
                (RESULTS / f"{outcome.script}.stderr").write_text(outcome.stderr)
                verdict = "; ".join(outcome.problems) or "ok"
                print(f"bench/{outcome.script} --smoke: {verdict} ({outcome.seconds:.0f} s)", flush=True)
                if outcome.problems:
                    tail = "\n".join(outcome.stderr.strip().splitlines()[-15:])
                    problems.append(f"bench/{outcome.script}: {verdict}\n{tail}")
                else:
                    outputs[outcome.script] = outcome.stdout
    problems += check_readme(outputs)
    if problems:
        print("\nbench-smoke failed:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        raise SystemExit(1)
    print("bench-smoke: every benchmark ran and printed figures; bench/README.md matches them.")


if __name__ == "__main__":
    main()
