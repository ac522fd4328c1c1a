"""Parse a reviewer's ranking (total: never raises) and aggregate votes with normalised Borda."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_council.council.result import ParseKind

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[^\n]*\n(.*?)```", re.DOTALL)
_LABEL = re.compile(r"\bresponse\s+([A-Z]{1,2})\b", re.IGNORECASE)
_FINAL = re.compile(r"final\s+ranking\s*:?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ParsedRanking:
    labels: tuple[str, ...]  # allowed labels only, no duplicates, best first
    parse: ParseKind

    @property
    def abstained(self) -> bool:
        return not self.labels


def parse_ranking(text: str, allowed: Sequence[str]) -> ParsedRanking:
    """Read a ranking from review text, trying the strictest form first.

    Fenced JSON, then bare JSON, then a ``FINAL RANKING:`` list, then labels in order of
    appearance. Unknown, duplicate or non-string entries are dropped; text with no usable
    ranking (a refusal, say) is an abstention.
    """
    if not isinstance(text, str) or not allowed:
        return ParsedRanking((), "none")
    canonical = {label.lower(): label for label in allowed}
    for match in _FENCE.finditer(text):
        lang, body = match.group(1).lower(), match.group(2)
        if lang not in {"", "json", "json5", "javascript"}:
            continue
        labels = _from_json_text(body, canonical)
        if labels:
            return ParsedRanking(labels, "json")
    labels = _from_bare_json(text, canonical)
    if labels:
        return ParsedRanking(labels, "bare_json")
    final = _FINAL.search(text)
    if final:
        labels = _clean(_label_mentions(text[final.end() :]), canonical)
        if labels:
            return ParsedRanking(labels, "final_ranking")
    labels = _clean(_label_mentions(text), canonical)
    if labels:
        return ParsedRanking(labels, "labels")
    return ParsedRanking((), "none")


def _from_json_text(body: str, canonical: Mapping[str, str]) -> tuple[str, ...]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return _from_bare_json(body, canonical)
    return _from_value(value, canonical)


def _from_bare_json(text: str, canonical: Mapping[str, str]) -> tuple[str, ...]:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        labels = _from_value(value, canonical)
        if labels:
            return labels
    return ()


def _from_value(value: Any, canonical: Mapping[str, str]) -> tuple[str, ...]:
    if isinstance(value, dict):
        ranking = value.get("ranking")
        if isinstance(ranking, list):
            return _clean((item for item in ranking if isinstance(item, str)), canonical)
    return ()


def _label_mentions(text: str) -> list[str]:
    return [f"Response {m.group(1)}" for m in _LABEL.finditer(text)]


def _clean(items: Iterable[str], canonical: Mapping[str, str]) -> tuple[str, ...]:
    seen: list[str] = []
    for item in items:
        label = canonical.get(" ".join(item.split()).lower())
        if label is not None and label not in seen:
            seen.append(label)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class BordaScore:
    seat_id: str
    borda: float
    votes: int


def borda(
    ballots: Iterable[tuple[Sequence[str], int]], tie_order: Sequence[str]
) -> list[BordaScore]:
    """Aggregate ballots of seat ids (best first) into normalised Borda scores, best first.

    Each ballot is ``(ranking, n)`` where ``n`` is how many candidates that reviewer was
    allowed to rank: position ``pos`` scores ``(n-1-pos)/(n-1)``. Ballots with ``n < 2`` carry
    no information and are skipped. Ties break by votes, then by ``tie_order`` (stage labels).
    """
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for ranking, n in ballots:
        if n < 2:
            continue
        for pos, seat_id in enumerate(ranking[:n]):
            totals[seat_id] = totals.get(seat_id, 0.0) + (n - 1 - pos) / (n - 1)
            counts[seat_id] = counts.get(seat_id, 0) + 1
    order = {seat_id: i for i, seat_id in enumerate(tie_order)}
    scores = [BordaScore(s, totals[s] / counts[s], counts[s]) for s in totals]
    # Equal means summed in another order differ in the last bit (7/9 as 1+1+1/3 or as
    # 2/3+2/3+1); compare them rounded so the documented tie-break applies.
    scores.sort(
        key=lambda b: (-round(b.borda, 9), -b.votes, order.get(b.seat_id, len(order)), b.seat_id)
    )
    return scores
