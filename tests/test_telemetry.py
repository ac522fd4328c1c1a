"""``record_session``: a finished session as OpenTelemetry spans, after the GenAI conventions.

Exported through the real SDK into its InMemorySpanExporter. The attribute names are the
OpenTelemetry GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/
gen-ai-spans/ and gen-ai-events for ``gen_ai.evaluation.result``), checked below against the
constants of the installed ``opentelemetry-semantic-conventions`` package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llm_council.telemetry import (
    EVALUATION_EVENT,
    SESSION_SPAN,
    capture_content_from_env,
    record_session,
)
from tests.audition_data import MINI, PARETO, make_session
from tests.test_check_store import KIMI, with_router

ROOT = Path(__file__).resolve().parents[1]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1) * 1000


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


def session():
    """A balanced session: s1-s3 named, s4 Pareto (router metadata listing Mini and Kimi)."""
    return with_router(make_session(3), [MINI, KIMI])


def spans_by_name(exporter):
    spans = exporter.get_finished_spans()
    root = next(s for s in spans if s.name == SESSION_SPAN)
    return root, [s for s in spans if s is not root]


def test_one_session_span_with_one_child_per_call(exporter, provider):
    result = session()
    record_session(result, tracer_provider=provider)
    root, children = spans_by_name(exporter)
    assert len(exporter.get_finished_spans()) == 1 + len(result.calls) == 1 + 4 + 4 + 1
    assert root.kind is SpanKind.INTERNAL and root.parent is None
    assert all(c.parent.span_id == root.context.span_id for c in children)
    assert {c.context.trace_id for c in children} == {root.context.trace_id}
    assert all(c.kind is SpanKind.CLIENT for c in children)
    assert (
        dict(root.attributes).items()
        >= {
            "llm_council.session_id": result.session_id,
            "llm_council.tier": "balanced",
            "llm_council.mode": "coding",
            "llm_council.status": "ok",
            "llm_council.gateway": "sandbox",
            "llm_council.seats": 4,
            "llm_council.pareto_seats": 1,
        }.items()
    )
    # Each child carries its call's real times; the session span covers them all.
    for call, span in zip(result.calls, children, strict=True):
        assert span.start_time == ns(call.started_at)
        assert span.end_time - span.start_time == pytest.approx(call.latency_ms * 1e6, abs=1000)
    assert root.start_time == min(c.start_time for c in children) == ns(result.created_at)
    assert root.end_time == max(c.end_time for c in children)


def test_call_attributes_follow_the_genai_conventions(exporter, provider):
    result = session()
    record_session(result, tracer_provider=provider)
    _root, children = spans_by_name(exporter)
    pareto_call = next(c for c in result.calls if c.requested_model == PARETO)
    span = children[result.calls.index(pareto_call)]
    assert span.name == f"chat {PARETO}"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openrouter",
        "gen_ai.request.model": PARETO,
        "gen_ai.response.model": MINI,  # the concrete model behind the router
        "gen_ai.response.id": pareto_call.generation_id,
        "gen_ai.usage.input_tokens": pareto_call.prompt_tokens,
        "gen_ai.usage.output_tokens": pareto_call.completion_tokens,
        "llm_council.session_id": result.session_id,
        "llm_council.seat_id": "s4",
        "llm_council.stage": "answer",
        "llm_council.min_coding_score": 0.5,
        "llm_council.attempts": 1,
        "llm_council.cost_usd": pareto_call.cost_usd,
        "llm_council.cost_estimated": False,
        "llm_council.router.selected": MINI,
        "llm_council.router.candidates": 4,  # Mini and Kimi, each from two providers
        "llm_council.router.failed_attempts": 0,
        "llm_council.router.strategy": "pareto",
    }
    named = children[0]  # s1's answer: no score, no router metadata, nothing set to "None"
    assert named.attributes["gen_ai.request.model"] == named.attributes["gen_ai.response.model"]
    assert "llm_council.min_coding_score" not in named.attributes
    assert not any(k.startswith("llm_council.router") for k in named.attributes)
    assert all(s.status.status_code is StatusCode.UNSET for s in children)


def test_a_failed_call_carries_error_type(exporter, provider):
    result = make_session(4, failed_seat="s2")
    record_session(result, tracer_provider=provider)
    _root, children = spans_by_name(exporter)
    failed = [s for s in children if "error.type" in s.attributes]
    assert len(failed) == 1 and failed[0].attributes["error.type"] == "timeout"
    assert failed[0].status.status_code is StatusCode.ERROR
    assert failed[0].status.description is None  # the error text is content: opt-in
    assert "gen_ai.response.model" not in failed[0].attributes


def test_peer_review_scores_are_evaluation_events(exporter, provider):
    result = session()
    record_session(result, tracer_provider=provider)
    root, _children = spans_by_name(exporter)
    events = [e for e in root.events if e.name == EVALUATION_EVENT]
    scored = sorted((s for s in result.seats if s.borda is not None), key=lambda s: -s.borda)
    assert len(events) == len(scored) == 4
    for event, seat in zip(events, scored, strict=True):
        assert event.attributes["gen_ai.evaluation.name"] == "llm_council.peer_review.borda"
        assert event.attributes["gen_ai.evaluation.score.value"] == seat.borda
        assert event.attributes["gen_ai.response.id"] == seat.generation_id
        assert event.attributes["llm_council.seat_id"] == seat.seat_id
    labels = [e.attributes["gen_ai.evaluation.score.label"] for e in events]
    assert labels == ["winner", "ranked", "ranked", "ranked"]
    assert events[0].attributes["llm_council.seat_id"] == result.ranking[0].seat_id


def _everything(exporter) -> str:
    parts = []
    for span in exporter.get_finished_spans():
        parts.append(json.dumps(dict(span.attributes), default=str))
        parts += [json.dumps(dict(e.attributes), default=str) for e in span.events]
        parts.append(str(span.status.description))
    return "\n".join(parts)


def test_no_prompt_answer_or_synthesis_unless_asked(exporter, provider):
    result = session()
    result.prompt = "PROMPT-SECRET-TEXT: write a sort"
    result.synthesis = "SYNTHESIS-TEXT"
    for seat in result.seats:
        seat.answer = f"ANSWER-TEXT-{seat.seat_id}"
    record_session(result, tracer_provider=provider)
    plain = _everything(exporter)
    assert "PROMPT-SECRET-TEXT" not in plain and "ANSWER-TEXT" not in plain
    assert "SYNTHESIS-TEXT" not in plain and "gen_ai.input.messages" not in plain


def test_content_when_opted_in(exporter, provider):
    result = make_session(4, failed_seat="s2")
    result.prompt = "PROMPT-TEXT"
    result.synthesis = "SYNTHESIS-TEXT"
    record_session(result, tracer_provider=provider, capture_content=True)
    root, children = spans_by_name(exporter)
    assert root.attributes["llm_council.prompt"] == "PROMPT-TEXT"
    assert root.attributes["llm_council.synthesis"] == "SYNTHESIS-TEXT"
    s1 = children[0]
    assert json.loads(s1.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "PROMPT-TEXT"}]}
    ]
    output = json.loads(s1.attributes["gen_ai.output.messages"])
    assert output[0]["role"] == "assistant"
    assert output[0]["parts"][0]["content"] == result.seat("s1").answer
    chairman = children[-1]
    assert json.loads(chairman.attributes["gen_ai.output.messages"])[0]["parts"][0] == {
        "type": "text",
        "content": "SYNTHESIS-TEXT",
    }
    failed = next(s for s in children if "error.type" in s.attributes)
    assert failed.status.description == "no answer within 60 s"


def test_attribute_names_are_the_conventions_own():
    """Every gen_ai.* name we emit is one the semantic-conventions package defines."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes

    known = {v for k, v in vars(gen_ai_attributes).items() if k.startswith("GEN_AI_")}
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    record_session(session(), tracer_provider=tp, capture_content=True)
    used = set()
    for span in exporter.get_finished_spans():
        used |= {k for k in span.attributes if k.startswith("gen_ai.")}
        used |= {k for e in span.events for k in e.attributes if k.startswith("gen_ai.")}
    assert used and used <= known, used - known
    assert EVALUATION_EVENT == "gen_ai.evaluation.result"


def test_a_broken_provider_never_fails_the_caller(capsys, caplog):
    class Broken:
        def get_tracer(self, *_args, **_kwargs):
            raise RuntimeError("exporter down")

    assert record_session(session(), tracer_provider=Broken()) is None
    said = capsys.readouterr()
    logged = said.out + said.err + caplog.text
    assert "telemetry.record_failed" in logged and "exporter down" in logged


def test_without_opentelemetry_it_does_nothing(tmp_path):
    """A shim package named ``opentelemetry`` that fails to import shadows the real one."""
    shim = tmp_path / "shim" / "opentelemetry"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('opentelemetry is not installed')\n")
    code = (
        "import sys\n"
        "try:\n"
        "    import opentelemetry.trace\n"
        "    print('importable')\n"
        "except ImportError:\n"
        "    print('not importable')\n"
        "from tests.audition_data import make_session\n"
        "from llm_council.telemetry import record_session\n"
        "print('result', record_session(make_session(1), capture_content=True))\n"
        "print('loaded', sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "shim"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["not importable", "result None", "loaded []"]
    assert "telemetry" not in done.stderr


def test_content_capture_follows_the_shared_genai_switch():
    """OpenTelemetry's GenAI instrumentations read OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    (``true`` on the legacy path; span_only / event_only / span_and_event on the latest)."""
    key = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    for on in ("true", "TRUE", "span_only", "SPAN_AND_EVENT", " true "):
        assert capture_content_from_env({key: on}), on
    for off in ("", "false", "no_content", "event_only", "1", "yes"):
        assert not capture_content_from_env({key: off}), off
    assert not capture_content_from_env({})
