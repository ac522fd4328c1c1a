"""OpenTelemetry traces of finished council sessions (optional extra ``llm-council[otel]``).

``record_session`` replays a ``SessionResult`` after the fact: one ``council_session`` span
and, under it, one span per gateway call with the times the call really took, named and
attributed after the OpenTelemetry GenAI semantic conventions (``gen_ai.*``; experimental
in the spec, so the names are kept in one place here). Peer-review Borda scores become
``gen_ai.evaluation.result`` events on the session span.

Nothing here runs unless called, and without ``opentelemetry`` installed the call does
nothing. Prompts, answers, the synthesis and error texts stay out of spans unless
``capture_content=True`` (the conventions make content opt-in: it can be large and
sensitive); the API key is never part of a ``SessionResult`` at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from llm_council.council.result import CallRecord, SessionResult
from llm_council.log import get_logger
from llm_council.timeutil import as_utc

SESSION_SPAN = "council_session"
OPERATION = "chat"
PROVIDER = "openrouter"  # every call goes through OpenRouter (or the sandbox imitating it)
EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "llm_council.peer_review.borda"
# Low-cardinality labels for a Borda score, as the convention asks of score.label.
WINNER_LABEL, RANKED_LABEL = "winner", "ranked"
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_log = get_logger("llm_council.telemetry")


def record_session(
    result: SessionResult, *, tracer_provider: Any = None, capture_content: bool = False
) -> None:
    """Emit the session's spans to ``tracer_provider`` (default: the global one).

    A no-op when ``opentelemetry`` is not importable. Never raises: telemetry must not
    turn a finished session into a failure, so a problem is logged as a warning instead.
    """
    try:
        from opentelemetry import trace
    except ImportError:
        return
    unset = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    if tracer_provider is None and isinstance(trace.get_tracer_provider(), unset):
        return  # nobody set up OpenTelemetry: building spans would only cost time
    try:
        _emit(trace, result, tracer_provider, capture_content)
    except Exception as exc:  # an exporter or SDK bug must not fail the caller
        _log.warning("telemetry.record_failed", session_id=result.session_id, error=repr(exc))


def capture_content_from_env(env: Mapping[str, str]) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (the switch the
    OpenTelemetry GenAI instrumentations share) asks for content in spans: ``true`` (legacy
    form), ``span_only`` or ``span_and_event``, any case. Off when unset or anything else."""
    value = env.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    return value in {"true", "span_only", "span_and_event"}


def _emit(trace: Any, result: SessionResult, provider: Any, capture_content: bool) -> None:
    from llm_council import __version__

    provider = provider or trace.get_tracer_provider()
    tracer = provider.get_tracer("llm_council", __version__)
    start, end = _session_bounds(result)
    session = tracer.start_span(
        SESSION_SPAN,
        kind=trace.SpanKind.INTERNAL,
        start_time=_ns(start),
        attributes=_clean(session_attributes(result, capture_content)),
    )
    parent = trace.set_span_in_context(session)
    for call in result.calls:
        call_start = as_utc(call.started_at)
        span = tracer.start_span(
            f"{OPERATION} {call.requested_model}",
            context=parent,
            kind=trace.SpanKind.CLIENT,
            start_time=_ns(call_start),
            attributes=_clean(call_attributes(result, call, capture_content)),
        )
        if call.status != "ok":
            detail = call.error if capture_content else None
            span.set_status(trace.Status(trace.StatusCode.ERROR, detail))
        span.end(end_time=_ns(call_start + timedelta(milliseconds=call.latency_ms)))
    for name, attributes in evaluation_events(result):
        session.add_event(name, attributes=_clean(attributes), timestamp=_ns(end))
    if result.status == "failed":
        session.set_status(trace.Status(trace.StatusCode.ERROR, "no seat answered"))
    session.end(end_time=_ns(end))


def session_attributes(result: SessionResult, capture_content: bool) -> dict[str, Any]:
    """The session span's attributes (None values are dropped before they reach a span)."""
    attributes: dict[str, Any] = {
        "llm_council.session_id": result.session_id,
        "llm_council.tier": result.tier,
        "llm_council.mode": result.mode,
        "llm_council.status": result.status,
        "llm_council.gateway": result.gateway,
        "llm_council.seats": len(result.seats),
        "llm_council.pareto_seats": sum(1 for s in result.seats if s.is_pareto),
        "llm_council.duplicate_flags": sum(len(s.flags) for s in result.seats),
        "llm_council.chairman.status": result.chairman.status,
        "llm_council.synthesis_is_fallback": result.synthesis_is_fallback,
        "llm_council.cost_usd": result.usage.cost_usd,
        # Totals under our own names: gen_ai.usage.* here would be summed twice by backends
        # that add up every span's usage (the call spans already carry it).
        "llm_council.usage.input_tokens": result.usage.prompt_tokens,
        "llm_council.usage.output_tokens": result.usage.completion_tokens,
    }
    if capture_content:
        attributes["llm_council.prompt"] = result.prompt
        attributes["llm_council.synthesis"] = result.synthesis
    return attributes


def call_attributes(
    result: SessionResult, call: CallRecord, capture_content: bool
) -> dict[str, Any]:
    """One call span's attributes: GenAI conventions first, then the council's own."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION,
        "gen_ai.provider.name": PROVIDER,
        "gen_ai.request.model": call.requested_model,
        "gen_ai.response.model": call.resolved_model,
        "gen_ai.response.id": call.generation_id,
        "gen_ai.usage.input_tokens": call.prompt_tokens,
        "gen_ai.usage.output_tokens": call.completion_tokens,
        "error.type": None if call.status == "ok" else call.status,
        "llm_council.session_id": result.session_id,
        "llm_council.seat_id": call.seat_id,
        "llm_council.stage": call.stage,
        "llm_council.min_coding_score": call.min_coding_score,
        "llm_council.variant": call.variant,
        "llm_council.attempts": call.attempts,
        "llm_council.cost_usd": call.cost_usd,
        "llm_council.cost_estimated": call.cost_estimated,
        "llm_council.upstream_provider": call.provider,
    }
    if call.router is not None:
        attributes["llm_council.router.selected"] = call.router.selected
        attributes["llm_council.router.candidates"] = len(call.router.candidates)
        attributes["llm_council.router.failed_attempts"] = len(call.router.failed_attempts)
        attributes["llm_council.router.strategy"] = call.router.strategy
    if capture_content:
        answer = _answer_of(result, call)
        if call.stage in ("answer", "reroute", "chairman"):
            attributes["gen_ai.input.messages"] = _messages("user", result.prompt)
        if answer is not None:
            attributes["gen_ai.output.messages"] = _messages("assistant", answer)
    return attributes


def evaluation_events(result: SessionResult) -> list[tuple[str, dict[str, Any]]]:
    """One ``gen_ai.evaluation.result`` per seat the peers scored, best first.

    The convention prefers an event under the evaluated operation's span, or else
    ``gen_ai.response.id`` to find it; the scores are a session-level outcome, so they sit
    on the session span and carry the seat's answer id.
    """
    winner = result.ranking[0].seat_id if result.ranking else None
    scored = sorted((s for s in result.seats if s.borda is not None), key=lambda s: -(s.borda or 0))
    return [
        (
            EVALUATION_EVENT,
            {
                "gen_ai.evaluation.name": EVALUATION_NAME,
                "gen_ai.evaluation.score.value": seat.borda,
                "gen_ai.evaluation.score.label": (
                    WINNER_LABEL if seat.seat_id == winner else RANKED_LABEL
                ),
                "gen_ai.response.id": seat.generation_id,
                "gen_ai.response.model": seat.resolved_model,
                "llm_council.seat_id": seat.seat_id,
                "llm_council.votes": seat.votes,
                "llm_council.requested_model": seat.requested_model,
            },
        )
        for seat in scored
    ]


def _answer_of(result: SessionResult, call: CallRecord) -> str | None:
    """The text a call produced, where the result keeps it (answers and the synthesis)."""
    if call.status != "ok":
        return None
    if call.stage == "chairman":
        return result.synthesis
    if call.stage in ("answer", "reroute"):
        seat = next((s for s in result.seats if s.seat_id == call.seat_id), None)
        if seat is not None and seat.generation_id == call.generation_id:
            return seat.answer
    return None


def _messages(role: str, text: str) -> str:
    """A GenAI ``*.messages`` attribute: JSON of ``[{role, parts: [{type, content}]}]``."""
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _session_bounds(result: SessionResult) -> tuple[datetime, datetime]:
    """From the session's creation (or its first call, if earlier) to its last call's end."""
    start = as_utc(result.created_at)
    ends = [as_utc(c.started_at) + timedelta(milliseconds=c.latency_ms) for c in result.calls]
    starts = [as_utc(c.started_at) for c in result.calls]
    return min([start, *starts]), max([start, *ends])


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenTelemetry attributes cannot be None: drop those instead of sending 'None'."""
    return {k: v for k, v in attributes.items() if v is not None and not _empty_seq(v)}


def _empty_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and not value


def _ns(value: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (no float rounding)."""
    return (value - _EPOCH) // timedelta(microseconds=1) * 1000
