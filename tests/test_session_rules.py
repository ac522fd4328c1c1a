"""Session rules end to end on the sandbox, asserted so that breaking the rule fails the test.

Each test drives a real council (the real OpenRouter adapter over real HTTP to the sandbox)
and checks a rule against an independent account of it: family flags as the registry
defines families, votes with ``exclude_self_votes: false``, the stage-2 label shuffle, and
the Borda ranking recomputed from the recorded reviews rather than re-sorted.
"""

from __future__ import annotations

import html
import json
import random
import re

import pytest

from llm_council.council.prompts import stage_label
from llm_council.council.result import SessionResult
from llm_council.registry import load_registry
from llm_council.sandbox import SandboxOptions, create_app
from tests.council_helpers import make_config, sandbox_council
from tests.scripted_openrouter import read_body

PARETO = "openrouter/pareto-code"
PROMPT = "Write a Python function that merges two sorted lists."
OPUS_47, OPUS_46 = "anthropic/claude-opus-4.7", "anthropic/claude-opus-4.6"
GPT, MINI = "openai/gpt-5.4", "openai/gpt-5.4-mini"
SONNET, GROK = "anthropic/claude-sonnet-4.6", "x-ai/grok-4.3"
SESSION_ID = "00000000-0000-4000-8000-0000000000aa"
_CANDIDATE = re.compile(r'<candidate label="([^"]+)">\n(.*?)\n</candidate>', re.DOTALL)


async def test_family_duplicates_are_flagged_end_to_end_over_a_socket(asgi_server):
    """Two models of one registry family (not the same id) are a ``family`` pair: both seats
    name each other, the JSON contract carries it, and the pair still votes normally
    (self-votes are excluded by concrete model, never by family)."""
    registry = load_registry()
    assert registry.family_of(OPUS_47) == registry.family_of(OPUS_46)  # the premise
    assert registry.family_of(GPT) != registry.family_of(OPUS_47)
    app = create_app(registry, SandboxOptions(latency_ms=0))
    config = make_config({"balanced": [OPUS_47, GPT, OPUS_46]})
    with asgi_server(app) as url:
        council, _ = sandbox_council(config, base_url=f"{url}/api/v1", app=app)
        result = await council.run(PROMPT, "balanced")
        await council.aclose()

    assert result.status == "ok"
    s1, s2, s3 = result.seat("s1"), result.seat("s2"), result.seat("s3")
    assert (s1.resolved_model, s3.resolved_model) == (OPUS_47, OPUS_46)
    assert [(f.kind, f.with_seat, f.model) for f in s1.flags] == [("family", "s3", OPUS_46)]
    assert [(f.kind, f.with_seat, f.model) for f in s3.flags] == [("family", "s1", OPUS_47)]
    assert (s1.duplicate_of, s1.duplicate_kind) == (["s3"], "family")
    assert (s3.duplicate_of, s3.duplicate_kind) == (["s1"], "family")
    assert (s2.flags, s2.duplicate_of, s2.duplicate_kind) == ([], [], None)
    seats = {s["seat_id"]: s for s in result.model_dump(mode="json")["seats"]}
    assert seats["s1"]["flags"] == [{"kind": "family", "with": "s3"}]
    assert seats["s3"]["flags"] == [{"kind": "family", "with": "s1"}]
    assert seats["s1"]["duplicate_kind"] == seats["s3"]["duplicate_kind"] == "family"
    reviews = {r.reviewer_seat: r for r in result.reviews}
    assert set(reviews["s1"].ranking) == {"s2", "s3"}  # a family member is still ranked
    assert set(reviews["s3"].ranking) == {"s1", "s2"}
    assert not any(r.judge for r in result.reviews)
    assert (s1.votes, s2.votes, s3.votes) == (2, 2, 2)


async def test_exclude_self_votes_false_lets_same_model_seats_rank_each_other():
    """With the rule off, a seat may rank an answer its own concrete model wrote: every
    reviewer ranks all three other answers, and no judge is needed."""
    pool = [MINI, SONNET, GROK, PARETO]
    config = make_config({"balanced": pool}, council={"exclude_self_votes": False})
    assert config.council.exclude_self_votes is False
    council, app = sandbox_council(config)
    result = await council.run(PROMPT, "balanced")
    await council.aclose()

    s1, s4 = result.seat("s1"), result.seat("s4")
    assert s1.resolved_model == s4.resolved_model == MINI
    # Flagging does not depend on the voting rule.
    assert s1.duplicate_kind == s4.duplicate_kind == "exact"
    reviews = {r.reviewer_seat: r for r in result.reviews}
    assert set(reviews) == {"s1", "s2", "s3", "s4"}  # no judges
    assert "s4" in reviews["s1"].ranking and "s1" in reviews["s4"].ranking
    for seat_id, review in reviews.items():
        assert len(review.order) == 3 and seat_id not in review.order
        assert sorted(review.ranking) == sorted(review.order)
    assert {s.seat_id: s.votes for s in result.seats} == {"s1": 3, "s2": 3, "s3": 3, "s4": 3}
    # Each reviewer was shown three candidates, its own answer never among them.
    review_prompts = [
        b["messages"][-1]["content"]
        for b in app.requests
        if "<candidate" in b["messages"][-1]["content"]
        and "Borda" not in b["messages"][-1]["content"]
    ]
    assert len(review_prompts) == 4
    assert all(len(_CANDIDATE.findall(text)) == 3 for text in review_prompts)


async def _labels_for(session_id: str) -> tuple[dict[str, str], SessionResult, list[str]]:
    council, app = sandbox_council(make_config({"balanced": [SONNET, GPT, GROK, PARETO]}))
    result = await council.run(PROMPT, "balanced", session_id=session_id)
    await council.aclose()
    prompts = [b["messages"][-1]["content"] for b in app.requests]
    return {s.seat_id: s.label or "" for s in result.seats}, result, prompts


async def test_stage2_labels_are_one_shuffle_seeded_by_the_session_id():
    """Labels are a permutation drawn once per session from its id: the same id gives the
    same labels, ids differ in the labels they give (so "Response A" does not betray seat
    s1), and every reviewer sees each answer under its seat's label."""
    seen: set[tuple[str, ...]] = set()
    for n in range(6):
        labels, result, prompts = await _labels_for(f"00000000-0000-4000-8000-00000000000{n}")
        assert sorted(labels.values()) == [stage_label(i) for i in range(4)]
        # The documented rule (session._stage2): one random.Random(session_id) shuffle.
        expected = [s.seat_id for s in result.seats]
        random.Random(result.session_id).shuffle(expected)
        assert labels == {seat_id: stage_label(i) for i, seat_id in enumerate(expected)}
        seen.add(tuple(labels[s] for s in sorted(labels)))
        answers = {s.label: s.answer for s in result.seats}
        reviewed = [p for p in prompts if "<candidate" in p and "Borda" not in p]
        assert len(reviewed) == 4
        for text in reviewed:
            for label, body in _CANDIDATE.findall(text):
                assert body == html.escape(answers[label] or "", quote=False)
    assert len(seen) >= 2, "every session id gave the same labels: no shuffle"
    again, _, _ = await _labels_for("00000000-0000-4000-8000-000000000003")
    first, _, _ = await _labels_for("00000000-0000-4000-8000-000000000003")
    assert again == first


def _borda_from_reviews(result: SessionResult) -> dict[str, tuple[float, int]]:
    """Normalised Borda recomputed from the recorded reviews: position p among the n
    answers a reviewer was shown scores (n-1-p)/(n-1); a seat's score is its mean."""
    points: dict[str, list[float]] = {}
    for review in result.reviews:
        n = len(review.order)
        if n < 2:
            continue
        for pos, seat_id in enumerate(review.ranking):
            points.setdefault(seat_id, []).append((n - 1 - pos) / (n - 1))
    return {sid: (sum(p) / len(p), len(p)) for sid, p in points.items()}


@pytest.mark.parametrize(
    "pool",
    [
        [SONNET, GPT, PARETO],
        [MINI, SONNET, GROK, PARETO],  # a duplicate pair: votes between them excluded
        [SONNET, GPT, GROK, OPUS_46, PARETO],
    ],
    ids=["three", "duplicate", "five"],
)
async def test_ranking_is_the_borda_of_the_recorded_reviews(pool):
    """``ranking`` (and each seat's borda/votes) equals Borda recomputed from the reviews,
    best first with ties broken by votes then label; not merely "sorted by borda"."""
    council, _ = sandbox_council(make_config({"balanced": pool}))
    # A fixed id, so the labels (and the sandbox's reviews) are the same on every run: with
    # a random one, an exact tie summed in another order can differ in the last bit and
    # break the documented tie rule (test_mutation_kills.py, the xfail on borda ties).
    result = await council.run(PROMPT, "balanced", session_id=SESSION_ID)
    await council.aclose()

    expected = _borda_from_reviews(result)
    assert expected, "no review counted: the test would prove nothing"
    assert {e.seat_id for e in result.ranking} == set(expected)
    for entry in result.ranking:
        borda, votes = expected[entry.seat_id]
        assert entry.borda == pytest.approx(borda, abs=1e-6) and entry.votes == votes
        seat = result.seat(entry.seat_id)
        assert (seat.borda, seat.votes) == (entry.borda, entry.votes)
    label = {s.seat_id: s.label or "" for s in result.seats}
    order = sorted(expected, key=lambda s: (-round(expected[s][0], 6), -expected[s][1], label[s]))
    assert [e.seat_id for e in result.ranking] == order
    # The ranking must discriminate, or a constant score would pass the checks above.
    assert len({e.borda for e in result.ranking}) > 1


def _unreadable_usage_for(model: str, app):
    """The sandbox, but every answer from ``model`` carries a ``usage`` OpenRouter would never
    send (a cost that is text): an ASGI wrapper rewriting that model's response bodies."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        body = await read_body(receive)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        if not body or json.loads(body).get("model") != model:
            return await app(scope, replay, send)
        held: list[dict] = []

        async def hold(message):
            held.append(message)

        await app(scope, replay, hold)
        start = held[0]
        payload = json.loads(b"".join(m.get("body", b"") for m in held[1:]))
        payload["usage"] = {**payload.get("usage", {}), "cost": "cheap"}
        raw = json.dumps(payload).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})

    return wrapped


async def test_an_answer_with_unreadable_usage_is_kept_once_and_its_cost_is_unknown(asgi_server):
    """A billed answer whose ``usage`` cannot be read is not retried (that would pay twice and
    drop it): the seat keeps its answer, reviews as usual, its calls record no cost (not a
    zero, not an estimate from unknown tokens), and the session says so."""
    app = create_app(load_registry(), SandboxOptions(latency_ms=0))
    config = make_config({"balanced": [OPUS_47, GPT, SONNET]})
    with asgi_server(_unreadable_usage_for(GPT, app)) as url:
        council, _ = sandbox_council(config, base_url=f"{url}/api/v1", app=app)
        result = await council.run(PROMPT, "balanced")
        await council.aclose()

    assert result.status == "ok"
    s2 = result.seat("s2")
    assert (s2.status, s2.resolved_model) == ("ok", GPT) and s2.answer
    gpt_calls = [c for c in result.calls if c.requested_model == GPT]
    assert [c.stage for c in gpt_calls] == ["answer", "review"]
    assert all(c.attempts == 1 for c in gpt_calls)  # asked once each: nothing paid twice
    assert sum(1 for b in app.requests if b["model"] == GPT) == 2
    for call in gpt_calls:
        assert (call.prompt_tokens, call.completion_tokens) == (0, 0)
        assert (call.cost_usd, call.cost_estimated) == (None, False)
    others = [c for c in result.calls if c.requested_model != GPT]
    assert others and all(c.cost_usd is not None for c in others)
    unreadable = [n for n in result.notices if "usage was unreadable" in n]
    assert [n.split(" ")[:2] for n in unreadable] == [["s2", "(answer):"], ["s2", "(review):"]]
    assert all("usage.cost" in n and "unknown, not zero" in n for n in unreadable)
