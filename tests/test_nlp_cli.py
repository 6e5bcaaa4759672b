"""The JSON contracts of `dsrbot classify` and `dsrbot nlp evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli

EML = (
    b'From: "Berg, Anna" <anna.berg@example.fi>\r\n'
    b"To: info@example.fi\r\n"
    b"Subject: Registerutdrag\r\n"
    b"Message-ID: <m1@example.fi>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hej,\r\njag vill se alla uppgifter ni har om mig. Kundnummer 119002.\r\n\r\n"
    b"Med v\xc3\xa4nliga h\xc3\xa4lsningar\r\nAnna Berg\r\n"
)


def test_classify_eml_prints_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(EML)
    result = run_cli("classify", str(path))
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert {"id", "labels", "scores", "lang", "needs_review", "entities",
            "model_version"} <= set(out)
    assert out["id"] == "<m1@example.fi>"
    assert out["labels"] == ["access"] and out["lang"] == "sv"
    labels = {e["label"]: e for e in out["entities"]}
    assert labels["customer_number"]["value"] == "119002"
    assert labels["person"]["text"] == "Anna Berg"
    assert out["earlier_request"] is None and out["on_behalf_of"] is None


def test_classify_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("classify", str(tmp_path / "nope.eml"))
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_classify_jsonl_prints_one_line_per_input_with_the_contract_keys(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    rows = [{"id": "a", "subject": "", "body": "poistakaa tietoni rekisterista"},
            {"id": 7, "subject": "Unsubscribe", "body": ""},
            {"id": "c", "subject": "", "body": ""}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = run_cli("classify", "--jsonl", str(path))
    assert result.exit_code == 0
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", 7, "c"]
    for line in lines:
        assert set(line) == {"id", "labels", "scores", "lang", "needs_review"}
    assert lines[0]["labels"] == ["erasure"]
    assert lines[2]["needs_review"] is True


def test_classify_jsonl_bad_line_gets_an_error_line_and_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('not json\n{"id": "ok", "subject": "", "body": "hei"}\n', encoding="utf-8")
    result = run_cli("classify", "--jsonl", str(path))
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert lines[0]["error"] and lines[0]["line"] == 1
    assert lines[1]["id"] == "ok"


def test_nlp_evaluate_json_reports_every_figure(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        {"id": "1", "lang": "fi", "subject": "", "body": "Poistakaa tietoni.",
         "labels": ["erasure"]},
        {"id": "2", "lang": "en", "subject": "Order", "body": "Where is my parcel?",
         "labels": ["other"]},
        {"id": "3", "lang": "en", "subject": "", "body": "My phone is now 040 123 4567, "
         "please correct it.", "labels": ["rectification"],
         "expect": {"field": "phone", "new_value": "040 123 4567"}},
        {"id": "4", "lang": "fi", "subject": "Muistutus", "body": "Lähetin 3.10.2026 "
         "tarkastuspyynnön, enkä ole saanut vastausta.", "labels": ["access"],
         "reminder": {"date": "3.10.2026", "right": "access"}},
    ]
    (data / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    result = run_cli("nlp", "evaluate", str(data), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert set(report["per_label"]["erasure"]) == {"precision", "recall", "f1", "support"}
    for key in ("macro_f1", "missed_request_rate", "review_rate", "language_accuracy",
                "confusion_pairs", "without_rules", "rectification"):
        assert key in report
    assert report["rectification"]["examples"] == 1
    assert report["earlier_request"]["examples"] == 1
    assert report["earlier_request"]["right_and_date"] == 1.0
    assert set(report["on_behalf_of"]) == {"precision", "recall", "f1", "support"}


def test_nlp_evaluate_bad_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "subject": "", "body": "x", "labels": ["nonsense"]}\n',
                    encoding="utf-8")
    result = run_cli("nlp", "evaluate", str(path))
    assert result.exit_code == 1
    assert "bad.jsonl:1" in result.stderr and "unknown label" in result.stderr
