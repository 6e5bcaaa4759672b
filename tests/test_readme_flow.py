"""The README's newcomer flow, run from README.md itself, so README and product cannot drift.

mail a request in -> receipt + confirmation code to the registered address -> reply with the
code -> staff approve on the console -> the answer lands in the local outbox maildir.

The commands, the files they need and the lines they print are read from the section "Your
first request, end to end" (:mod:`tests.readme_kit`); this test only adds what a reader does
by waiting (for the service to settle after each mail) and puts its own folder, port, case id,
Message-ID and code where the README shows the ones from the run it was written from.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from time import sleep
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from typer.testing import CliRunner

from bot.cli import app
from bot.health.report import queue_depths
from storage.db import Database
from storage.models import Case, CaseStatus
from tests import readme_kit
from tests.run_kit import (
    confirmation_code,
    free_port,
    mail_with_subject,
    start_service,
    stop_service,
    wait_for,
    wait_listening,
)

#: ``dsrbot`` and ``python3`` in the README's commands are this checkout's CLI and interpreter.
PRELUDE = 'dsrbot() { "$DSRBOT_PY" -m bot.cli "$@"; }; python3() { "$DSRBOT_PY" "$@"; }\n'


class Folder:
    """The reader's folder: runs the README's commands there and substitutes this run's values."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.values: dict[str, str] = {readme_kit.README_PORT: str(port)}
        self.env = {**os.environ, "DSRBOT_PY": sys.executable, "COLUMNS": "200",
                    "PYTHONPATH": os.pathsep.join(filter(None, (
                        os.environ.get("PYTHONPATH"), str(Path(__file__).parent.parent))))}

    def run(self, command: str) -> str:
        for readme_value, ours in self.values.items():
            command = command.replace(readme_value, ours)
        if re.fullmatch(r"dsrbot [\w .:@-]+", command):  # plain CLI call: in-process (faster)
            args = ["--config", str(self.path / "config.toml"), *shlex.split(command)[1:]]
            with contextlib.chdir(self.path):
                result = CliRunner().invoke(app, args, env={"COLUMNS": "200"},
                                            catch_exceptions=False)
            assert result.exit_code == 0, f"{command}\n{result.output}"
            return self._ours_as_readme(result.stdout)
        done = subprocess.run(["bash", "-c", PRELUDE + command], cwd=self.path, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return self._ours_as_readme(done.stdout)

    def _ours_as_readme(self, output: str) -> str:
        return output.replace(str(self.path), readme_kit.README_FOLDER).replace(
            f":{self.port}", f":{readme_kit.README_PORT}")

    def settled(self, db: Database) -> bool:
        """Every stored mail processed, every decision carried out, every letter written."""
        with db.read_session() as s:
            q = queue_depths(s)
            busy = s.exec(select(Case.id).where(col(Case.status).in_(
                [CaseStatus.RECEIVED.value, CaseStatus.APPROVED.value]))).all()
        return q["inbound_received"] == 0 and q["outbox_pending"] == 0 and not busy


def _learn_this_runs_values(folder: Folder, flow: readme_kit.Flow, maildir: Path) -> None:
    """The README's case id, challenge Message-ID and code stand for this run's."""
    challenge = mail_with_subject(maildir, r"Please confirm")
    printed = "\n".join(line for step in flow.steps for line in step.printed)
    if challenge is None:
        return
    ours = {r"DSR-\d{4}-\d{4,6}": re.search(r"DSR-\d{4}-\d{4,6}", str(challenge["Subject"])),
            r"<dsrbot\.DSR[^>]+@[^>]+>": None, r"Confirmation code: (\S+)": None}
    case_id = ours[r"DSR-\d{4}-\d{4,6}"]
    assert case_id is not None
    readme_case = re.search(r"DSR-\d{4}-\d{4,6}", printed)
    readme_code = re.search(r"Confirmation code: (\S+)", printed)
    readme_ids = re.findall(r"<dsrbot\.DSR[^>]+>", printed)
    assert readme_case and readme_code and readme_ids
    folder.values[readme_case.group(0)] = case_id.group(0)
    folder.values[readme_code.group(1)] = confirmation_code(challenge)
    folder.values[readme_ids[-1]] = str(challenge["Message-ID"])  # the code's letter


def _before_the_digest() -> str:
    """The README's outputs are those of a run before ``scheduler.digest_time`` (as its text
    says): the daily digest and checkpoint wait till the end of this local day."""
    while datetime.now(ZoneInfo("Europe/Helsinki")).time() >= time(23, 55):
        sleep(10)  # a readiness wait: the minutes before local midnight belong to the digest
    return "23:59"


def test_readme_flow_runs_as_written_and_prints_what_it_shows(tmp_path: Path) -> None:
    flow = readme_kit.read_flow()
    folder = Folder(tmp_path, free_port())
    for name, text in flow.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with (tmp_path / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[mail.receiver]\nport = {folder.port}\n")
        config.write(f'\n[scheduler]\ndigest_time = "{_before_the_digest()}"\n')
    maildir, db = tmp_path / "var" / "outbox", None
    proc = None
    try:
        for number, step in enumerate(flow.steps):
            output = ""
            for command, comment in zip(step.commands, step.comments, strict=True):
                if command == "dsrbot run":
                    proc = start_service(tmp_path / "config.toml", tmp_path / "run.log")
                    wait_listening(folder.port, proc, tmp_path / "run.log")
                    db = Database(f"sqlite:///{tmp_path / 'var' / 'dsrbot.db'}")
                    continue
                printed = folder.run(command)
                if number == 0:  # the setup block's comments are what its commands print
                    assert comment.removesuffix("...").strip() in printed, (command, printed)
                if "smtplib" in command or command.startswith("dsrbot approve"):
                    assert db is not None
                    wait_for(lambda d=db: folder.settled(d),  # type: ignore[misc]
                             message=f"the service after {command}")
                    _learn_this_runs_values(folder, flow, maildir)
                output += printed
            assert readme_kit.missing_lines(step.printed, output) == [], output
    finally:
        if proc is not None:
            assert stop_service(proc) == 0
        if db is not None:
            db.dispose()
    assert mail_with_subject(maildir, r"Your data has been erased") is not None
