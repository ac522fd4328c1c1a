"""``llm-council eval`` end to end on the sandbox: sessions through the batch runner, code run
in isolated processes, the report in the DESIGN contract."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llm_council.cli import app

CONTRACT_KEYS = {
    "tasks",
    "tier",
    "gateway",
    "sessions",
    "council",
    "borda_winner",
    "best_single_seat",
    "seats",
    "borda_predicts_pass",
    "synthesis_worse_than_best_answer",
    "results",
}


def test_eval_json_on_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(
        app, ["eval", "--limit", "8", "--gateway", "sandbox", "--tier", "quick", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert set(report) >= CONTRACT_KEYS
    assert report["tasks"] == 8 and report["sessions"] == 8 and report["gateway"] == "sandbox"
    assert report["tier"] == "quick"
    whos = {r["who"] for r in report["results"]}
    assert "council" in whos and {"s1", "s2", "s3"} <= whos
    assert len(report["results"]) == 8 * 4
    # The code really ran: the offline sandbox ships wrong variants too, so not all pass.
    passed = [r["passed"] for r in report["results"]]
    assert any(passed) and not all(passed)
    assert all(r["reason"] for r in report["results"] if not r["passed"])
    council = report["council"]
    assert 0 <= council["pass_rate"] <= 1 and council["cost_usd"] > 0


def test_eval_rejects_a_bad_task_file(tmp_path):
    bad = tmp_path / "tasks.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    done = CliRunner().invoke(app, ["eval", str(bad), "--gateway", "sandbox"])
    assert done.exit_code == 2
    assert "tasks.jsonl:1: missing field 'prompt'" in done.stderr
