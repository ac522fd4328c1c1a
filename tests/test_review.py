"""Stage 2 rules: no answer goes unreviewed (judges), position-balanced order, the verdict."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from llm_council.council.verdict import parse_verdict
from tests.council_helpers import make_config, sandbox_council

PARETO = "openrouter/pareto-code"
PROMPT = "Write a Python function that merges two sorted lists."
# The Pareto seat resolves to openai/gpt-5.4-mini at balanced: an exact duplicate of s1.
DUPLICATE_POOL = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", PARETO]


async def test_a_duplicate_pool_gets_a_judge_and_every_answer_a_vote():
    council, _ = sandbox_council(make_config({"balanced": DUPLICATE_POOL}))
    result = await council.run(PROMPT, "balanced")
    await council.aclose()
    assert result.seat("s1").resolved_model == result.seat("s3").resolved_model
    assert all(s.votes >= 1 for s in result.seats), [(s.seat_id, s.votes) for s in result.seats]
    judges = [r for r in result.reviews if r.judge]
    assert len(judges) == 1
    judge = judges[0]
    assert (
        judge.reviewer_seat == "judge1" and judge.requested_model == council.config.council.chairman
    )
    assert len(judge.ranking) == 3
    judge_calls = [c for c in result.calls if c.stage == "judge"]
    assert [c.seat_id for c in judge_calls] == ["judge1"]
    assert any("judges added to stage 2" in n for n in result.notices)
    # Borda without judges is kept too, so reports can show both.
    assert all(s.borda_peers is None or 0 <= s.borda_peers <= 1 for s in result.seats)
    # s1 and s3 are the same model, so each may rank only s2 and is not asked: without the
    # judge, s2 would have no vote at all.
    assert result.seat("s2").borda_peers is None and result.seat("s2").votes == 1
    assert result.status == "ok"


async def test_collapse_voices_are_ranked_by_a_judge():
    pool = ["openai/gpt-5.4-mini", "anthropic/claude-sonnet-4.6", PARETO]
    council, _ = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced", duplicate_policy="collapse")
    await council.aclose()
    assert {e.seat_id for e in result.ranking} == {"s1", "s2"}
    assert all(e.votes >= 1 for e in result.ranking)
    assert any(r.judge and r.ranking for r in result.reviews)
    assert result.status == "ok"


async def test_configured_judges_replace_the_chairman():
    config = make_config(
        {"balanced": DUPLICATE_POOL}, council={"judges": ["x-ai/grok-4.3", "google/gemini-3-pro"]}
    )
    council, _ = sandbox_council(config)
    result = await council.run(PROMPT, "balanced")
    await council.aclose()
    judges = {r.reviewer_seat: r.requested_model for r in result.reviews if r.judge}
    assert judges == {"judge1": "x-ai/grok-4.3", "judge2": "google/gemini-3-pro"}


async def test_no_judge_when_peer_review_covers_everyone():
    pool = ["anthropic/claude-sonnet-4.6", "openai/gpt-5.4", PARETO]
    council, _ = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced")
    await council.aclose()
    assert not [r for r in result.reviews if r.judge]
    assert not [c for c in result.calls if c.stage == "judge"]
    assert all(s.borda == s.borda_peers for s in result.seats)


async def test_each_reviewer_sees_its_own_rotation_and_the_order_is_recorded():
    pool = [
        "anthropic/claude-sonnet-4.6",
        "openai/gpt-5.4",
        "x-ai/grok-4.3",
        "moonshotai/kimi-k2.6",
    ]
    council, app = sandbox_council(make_config({"balanced": pool}))
    result = await council.run(PROMPT, "balanced")
    await council.aclose()
    orders = {r.reviewer_seat: r.order for r in result.reviews}
    assert all(len(order) == 3 for order in orders.values())
    assert len({tuple(order) for order in orders.values()}) > 1  # not one order for all
    # Across reviewers each answer is shown first at most twice (rotation, own answer removed).
    firsts = [order[0] for order in orders.values()]
    assert max(firsts.count(s) for s in set(firsts)) <= 2
    # The order recorded is the order in the prompt the reviewer got.
    for review in result.reviews:
        body = next(
            b
            for b in app.requests
            if b["model"] == result.seat(review.reviewer_seat).requested_model
            and "<candidate" in b["messages"][-1]["content"]
        )
        text = body["messages"][-1]["content"]
        labels = [result.seat(s).label for s in review.order]
        positions = [text.index(f'<candidate label="{label}">') for label in labels]
        assert positions == sorted(positions)
    dumped = json.loads(result.model_dump_json())
    assert all("order" in r for r in dumped["reviews"])


# --- the verdict -----------------------------------------------------------------------------

LABELS = {"Response A": "s2", "Response B": "s1", "Response C": "s3"}


def test_verdict_block_is_parsed_mapped_to_seats_and_removed_from_the_synthesis():
    text = (
        "Here is the merged function.\n\n```python\ndef merge(a, b): ...\n```\n\n"
        "```json\n"
        + json.dumps(
            {
                "verdict": {
                    "consensus": ["two-pointer merge"],
                    "disagreements": [
                        {
                            "point": "in-place or not",
                            "responses": {"Response A": "new list", "B": "in place", "Z": "?"},
                        }
                    ],
                    "blind_spots": ["None inputs"],
                    "confidence": "High",
                    "built_on": ["Response C", "Response C", "nope"],
                }
            }
        )
        + "\n```\n"
    )
    parsed = parse_verdict(text, LABELS)
    assert parsed.problem is None and parsed.verdict is not None
    verdict = parsed.verdict
    assert verdict.consensus == ["two-pointer merge"]
    assert verdict.disagreements[0].seats == {"s2": "new list", "s1": "in place"}
    assert verdict.confidence == "high" and verdict.built_on == ["s3"]
    assert parsed.synthesis.endswith("```python\ndef merge(a, b): ...\n```")
    assert "verdict" not in parsed.synthesis


def test_missing_or_broken_verdict_gives_none_and_a_reason():
    for text in ("just an answer", "```json\n{not json\n```", '```json\n{"ranking": []}\n```'):
        parsed = parse_verdict(text, LABELS)
        assert parsed.verdict is None and parsed.problem
        assert parsed.synthesis == text.strip()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
            lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        ).map(lambda v: f"text\n```json\n{json.dumps({'verdict': v})}\n```"),
    )
)
def test_verdict_parsing_is_total(text):
    parsed = parse_verdict(text, LABELS)
    if parsed.verdict is not None:
        assert set(parsed.verdict.built_on) <= set(LABELS.values())
        for d in parsed.verdict.disagreements:
            assert set(d.seats) <= set(LABELS.values())
        assert parsed.verdict.confidence in (None, "high", "medium", "low")
    else:
        assert parsed.problem


def test_run_prints_the_verdict_with_seats_and_models(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from llm_council.cli import app

    monkeypatch.setenv("LLM_COUNCIL_AUDITION_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("COLUMNS", "200")
    done = CliRunner().invoke(app, ["run", "Write fizzbuzz in Python", "--tier", "quick"])
    assert done.exit_code == 0, done.output
    line = next(x for x in done.stdout.splitlines() if x.startswith("verdict · confidence"))
    assert "built on s" in line and "(" in line  # a seat id with its concrete model
    assert "agreed: " in done.stdout
    assert '"verdict"' not in done.stdout  # the block itself is not shown as text
