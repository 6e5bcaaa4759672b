"""Settings: file, environment overrides, secrets only from the environment, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from tests.helpers import run_cli


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_defaults_are_the_embedded_service(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSRBOT_CONFIG", raising=False)
    s = load_settings()
    assert s.database.url == f"sqlite:///{(tmp_path / 'var/dsrbot.db').resolve()}"
    assert s.mail.outgoing.backend == "maildir"
    assert s.chat.backend == "console"
    assert s.chat.personal_data == "masked"
    assert s.approval.auto_approve == ["marketing_optout", "publication_ban"]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    cfg = write(conf_dir / "dsrbot.toml",
                '[database]\nurl = "sqlite:///data/x.db"\n[mail.outgoing]\nmaildir = "out"\n')
    s = load_settings(cfg)
    assert s.database.url == f"sqlite:///{(conf_dir / 'data/x.db').resolve()}"
    assert s.mail.outgoing.maildir == conf_dir / "out"


def test_environment_overrides_the_file_with_double_underscore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(tmp_path / "c.toml", '[approval]\nauto_approve = ["publication_ban"]\n')
    monkeypatch.setenv("DSRBOT_APPROVAL__AUTO_APPROVE", '["marketing_optout"]')
    monkeypatch.setenv("DSRBOT_MAIL__OUTGOING__MAILDIR", "/srv/out")
    monkeypatch.setenv("DSRBOT_DATABASE__URL", "postgresql://db.example/dsr")
    s = load_settings(cfg)
    assert s.approval.auto_approve == ["marketing_optout"]
    assert s.mail.outgoing.maildir == Path("/srv/out")
    assert s.database.url == "postgresql://db.example/dsr"


def test_dsrbot_config_env_chooses_the_file(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", '[chat]\npersonal_data = "full"\n')
    monkeypatch.setenv("DSRBOT_CONFIG", str(cfg))
    assert load_settings().chat.personal_data == "full"


def test_secret_in_config_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[mail.imap]\npassword = "hunter2"\n')
    with pytest.raises(ConfigError, match=r"mail\.imap\.password: secrets may not be written"):
        load_settings(cfg)


def test_secret_comes_from_environment_or_file_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "token.txt", "123:abc\n")
    cfg = write(tmp_path / "c.toml", '[chat]\ntoken_file = "token.txt"\n')
    s = load_settings(cfg)
    assert s.secret(s.chat.token, s.chat.token_file) == "123:abc"  # the file, without its newline
    monkeypatch.setenv("DSRBOT_MAIL__IMAP__PASSWORD", "from-env")
    s = load_settings(cfg)
    assert s.secret(s.mail.imap.password, s.mail.imap.password_file) == "from-env"
    assert "from-env" not in repr(s) and "from-env" not in str(s.model_dump())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[chat]\nbackend = "slack"\n', "chat.backend"),
        ('[approval]\nauto_approve = ["everything"]\n', "approval.auto_approve.0"),
        ('[mail.outgoing]\nbackend = "pigeon"\n', "mail.outgoing.backend"),
        ('[databse]\nurl = "x"\n', "databse: unknown key"),
        ('[organisation]\naddresses = ["not-an-address"]\n', "organisation.addresses"),
        ("[chat\n", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path, text: str,
                                                         expected: str) -> None:
    cfg = write(tmp_path / "c.toml", text)
    result = run_cli("--config", str(cfg), "cases")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert expected in lines[0]


def test_example_config_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    s = load_settings(example)
    text = example.read_text(encoding="utf-8")
    for key in ("url", "backend", "maildir", "addresses", "auto_approve",
                "trusted_authserv_ids", "personal_data"):
        assert f"{key} =" in text or f"# {key} =" in text
    assert s.organisation.addresses == ["info@rusttet.fi"]


def test_auto_approve_names_are_the_classifiers_request_labels() -> None:
    """Settings and classifier speak of the same rights, by the same names, in one order."""
    from bot.settings import REQUEST_TYPES
    from nlp_models.labels import REQUEST_LABELS

    assert REQUEST_TYPES == REQUEST_LABELS
