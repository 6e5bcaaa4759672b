"""`dsrbot doctor` (issue 20) against the real things: a good configuration passes (exit 0),
and a broken database, model, IMAP login or folder, SMTP relay, Telegram bot, trust root or
timezone each gives a FAIL line with a fix (exit 1). Policy warnings never fail it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import Result

from tests.fixtures.chat_env import fake  # noqa: F401  (fixture)
from tests.fixtures.dovecot import (  # noqa: F401  (fixtures)
    DovecotServer,
    dovecot,
    dovecot_server,
)
from tests.fixtures.fake_telegram import STAFF_CHAT_ID, FakeTelegram
from tests.fixtures.smtp_sink import SmtpSink, free_port
from tests.helpers import run_cli


@pytest.fixture
async def relay() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


def _config(tmp_path: Path, imap: DovecotServer, relay: SmtpSink, telegram: FakeTelegram,
            extra: str = "", *, smtp_port: int | None = None, imap_password: str | None = None,
            timezone: str = "Europe/Helsinki", token: str | None = None) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "imap").write_text(imap_password or imap.password)
    (secrets / "bot").write_text(token or telegram.token)
    path = tmp_path / "config.toml"
    path.write_text(f"""
[database]
url = "sqlite:///var/dsrbot.db"
[organisation]
timezone = "{timezone}"
[mail.outgoing]
backend = "smtp"
host = "127.0.0.1"
port = {smtp_port or relay.port}
[mail.imap]
enabled = true
host = "{imap.host}"
port = {imap.port}
ssl = false
username = "{imap.user}"
password_file = "secrets/imap"
[chat]
backend = "telegram"
telegram_chat_id = {STAFF_CHAT_ID}
telegram_base_url = "{telegram.base_url}"
token_file = "secrets/bot"
{extra}
""", encoding="utf-8")
    return path


async def _doctor(config: Path, *args: str) -> Result:
    # The fake Bot API and the relay live in this loop: run the CLI in a worker thread.
    return await asyncio.to_thread(run_cli, "--config", str(config), "doctor", "--skip-model",
                                   *args)


def _init(config: Path) -> None:
    assert run_cli("--config", str(config), "init").exit_code == 0


def _status(result: Result, component: str) -> set[str]:
    return {line.split()[0] for line in result.stdout.splitlines()
            if line.split()[1:2] in ([f"{component}:"], [component.split()[0]])}


async def test_doctor_passes_a_good_configuration(
    tmp_path: Path, dovecot: DovecotServer, relay: SmtpSink, fake: FakeTelegram,  # noqa: F811
) -> None:
    config = _config(tmp_path, dovecot, relay, fake)
    _init(config)
    result = await _doctor(config, "--fix")
    assert result.exit_code == 0, result.stdout
    for component in ("database", "imap", "smtp", "telegram", "trust", "timezone", "policy"):
        assert _status(result, component) <= {"ok", "warn"}, (component, result.stdout)
        assert _status(result, component), (component, result.stdout)
    # Named in the server's own hierarchy (Dovecot's maildir separator is ".").
    assert "processed folder 'dsrbot.processed' created" in result.stdout
    again = await _doctor(config)  # created once; now it simply exists
    assert "processed folder 'dsrbot.processed' exists" in again.stdout


@pytest.mark.parametrize(("broken", "component", "says"), [
    ("database", "database", "run `dsrbot init`"),
    ("imap_password", "imap", "login refused"),
    ("processed_folder", "imap", "`dsrbot doctor --fix`"),
    ("smtp", "smtp", "unreachable"),
    ("telegram_token", "telegram", "getMe refused"),
    ("telegram_chat", "telegram", "not in the staff chat"),
    ("trust", "trust", "trusted_certificates"),
    ("timezone", "timezone", "not a known time zone"),
])
async def test_doctor_fails_a_broken_component_with_a_fix(
    tmp_path: Path, dovecot: DovecotServer, relay: SmtpSink, fake: FakeTelegram,  # noqa: F811
    broken: str, component: str, says: str,
) -> None:
    kwargs: dict[str, object] = {}
    extra = ""
    if broken == "imap_password":
        kwargs["imap_password"] = "wrong-password"
    if broken == "smtp":
        kwargs["smtp_port"] = free_port()
    if broken == "telegram_token":
        kwargs["token"] = "999:WRONG"
    if broken == "telegram_chat":
        fake.member_of = set()
    if broken == "trust":
        (tmp_path / "roots.pem").write_text("not a certificate")
        extra = '[identity]\ntrusted_certificates = ["roots.pem"]\n'
    if broken == "timezone":
        kwargs["timezone"] = "Europe/Atlantis"
    config = _config(tmp_path, dovecot, relay, fake, extra, **kwargs)  # type: ignore[arg-type]
    if broken != "database":
        _init(config)
    result = await _doctor(config)  # no --fix and no terminal: nothing is created
    assert result.exit_code == 1, result.stdout
    failed = [ln for ln in result.stdout.splitlines() if ln.startswith("FAIL")]
    assert failed and all("-> fix:" in ln for ln in failed)
    mine = [ln for ln in failed if ln.split()[1].startswith(component)]
    assert mine and says in " ".join(mine), result.stdout
    if broken == "processed_folder":
        assert [ln for ln in failed if "imap" in ln] == mine  # the only IMAP failure
        client = dovecot.client()
        try:
            assert not any("processed" in str(f[2]) for f in client.list_folders())
        finally:
            client.logout()


def test_doctor_loads_the_model_and_fails_a_missing_one(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///var/dsrbot.db"\n', encoding="utf-8")
    _init(config)
    good = run_cli("--config", str(config), "doctor")
    assert good.exit_code == 0, good.stdout
    assert any(ln.startswith("ok   model:") for ln in good.stdout.splitlines())
    bad = run_cli("--config", str(config), "doctor", "--model", str(tmp_path / "nowhere"))
    assert bad.exit_code == 1
    assert any(ln.startswith("FAIL model:") for ln in bad.stdout.splitlines())


def test_policy_warnings_are_printed_but_do_not_fail(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///var/dsrbot.db"\n'
                      '[approval]\nauto_approve = ["erasure", "marketing_optout"]\n',
                      encoding="utf-8")
    _init(config)
    result = run_cli("--config", str(config), "doctor", "--skip-model")
    assert result.exit_code == 0
    assert "warn policy: approval.auto_approve includes erasure" in result.stdout


def test_require_signature_is_a_doctor_policy_warning_naming_the_ombudsman_decision(
    tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///var/dsrbot.db"\n'
                      '[rights]\nrequire_signature = ["access", "rectification"]\n',
                      encoding="utf-8")
    _init(config)
    result = run_cli("--config", str(config), "doctor", "--skip-model")
    assert result.exit_code == 0
    [line] = [ln for ln in result.stdout.splitlines() if "rights.require_signature" in ln]
    assert line.startswith("warn policy:") and "TSV 6097/161/21" in line


def test_a_config_error_is_a_failed_check_not_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = 5\n', encoding="utf-8")
    result = run_cli("--config", str(config), "doctor", "--skip-model")
    assert result.exit_code == 1
    assert result.stdout.startswith("FAIL config: database.url")
