"""CLI start-up benchmark (issue 20): how long `dsrbot --help`, `status`, `cases`, `case` take.

hyperfine-like: each command runs ``--runs`` times in a fresh interpreter (after one warm-up
run) against an initialised SQLite database with one case; wall time is reported as median and
min, and the CPU time the child used (user + sys), which a loaded machine inflates far less
than wall time. ``--tree PATH`` measures another checkout (e.g. main before the change);
``--tree A --tree B`` measures both, alternating runs so both see the same load.
The warm-up run of ``status`` takes the full path and leaves the settings snapshot the quick
path (bot.cli.quick) answers from afterwards; ``--full-path`` turns the quick path off.
``--bytecode`` lets Python cache compiled modules (in the temp folder, not the tree) as an
installed package would: with ``PYTHONDONTWRITEBYTECODE=1`` in the environment, as on the
project's machines, every run compiles our own modules again.

Run: ``python benchmarks/bench_cli.py [--runs N] [--tree PATH [--tree PATH]] [--bytecode]
[--full-path]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["--help"], ["status"], ["cases"], ["case", "DSR-2026-0001"])


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _prepare(folder: Path, env: dict[str, str]) -> None:
    (folder / "config.toml").write_text('[database]\nurl = "sqlite:///var/dsrbot.db"\n',
                                        encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot.cli", "init"], cwd=folder, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    seed = (
        "from datetime import UTC, date, datetime\n"
        "from storage.db import Database\n"
        "from storage.models import Case, CaseStatus\n"
        "db = Database('sqlite:///var/dsrbot.db')\n"
        "with db.session() as s:\n"
        "    s.add(Case(id='DSR-2026-0001', types=['access'], requester='a@example.fi',\n"
        "               status=CaseStatus.AWAITING_APPROVAL, language='fi',\n"
        "               received_at=datetime(2026, 12, 1, tzinfo=UTC),\n"
        "               due_date=date(2027, 1, 1), created_at=datetime.now(UTC),\n"
        "               updated_at=datetime.now(UTC)))\n"
    )
    subprocess.run([sys.executable, "-c", seed], cwd=folder, env=env, check=True)


def _env(tree: Path, folder: Path, bytecode: bool, full_path: bool = False) -> dict[str, str]:
    # The CLI's settings snapshot (bot.cli.quick) goes to the temp folder, not the user's cache.
    env = dict(os.environ, PYTHONPATH=str(tree.resolve()), XDG_CACHE_HOME=str(folder / "cache"))
    if full_path:
        env["DSRBOT_CLI_QUICK"] = "0"
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache" / tree.resolve().name)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", type=Path, action="append",
                        help="checkout to measure (default: this one); give it twice to "
                             "compare two, their runs interleaved so both see the same load")
    parser.add_argument("--full-path", action="store_true",
                        help="turn the quick path off (DSRBOT_CLI_QUICK=0): the Typer app, "
                             "pydantic settings and the ORM for every command")
    parser.add_argument("--bytecode", action="store_true",
                        help="cache compiled modules (under the temp folder) between runs")
    args = parser.parse_args()
    trees: list[Path] = args.tree or [Path(__file__).resolve().parents[1]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        envs = [_env(tree, folder, args.bytecode, args.full_path) for tree in trees]
        _prepare(folder, envs[0])
        print(f"{args.runs} runs each, load avg {os.getloadavg()[0]:.1f}, "
              f"bytecode {'cached' if args.bytecode else 'as the environment says'}"
              + (", quick path off" if args.full_path else ""))
        for cmd in COMMANDS:
            for env in envs:
                _run(cmd, env, folder)  # warm-up (and, with --bytecode, compile)
            runs: list[list[tuple[float, float]]] = [[] for _ in envs]
            for _ in range(args.runs):
                for i, env in enumerate(envs):
                    runs[i].append(_run(cmd, env, folder))
            for tree, measured in zip(trees, runs, strict=True):
                walls = [w for w, _ in measured]
                cpus = [c for _, c in measured]
                print(f"dsrbot {' '.join(cmd):<20} wall median {statistics.median(walls):.3f} s "
                      f"(min {min(walls):.3f})  cpu median {statistics.median(cpus):.3f} s  "
                      f"[{tree}]")


if __name__ == "__main__":
    main()
