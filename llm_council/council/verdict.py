"""The chairman's structured verdict: asked for as a fenced JSON block, parsed totally.

The chairman names answers by their stage-2 labels ("Response B"); the verdict we keep
names seats (``s3``), so it can be joined with the concrete models that wrote them.
Parsing never raises: a missing or unusable block gives ``None`` and a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_council.council.result import Disagreement, Verdict

VERDICT_INSTRUCTIONS = (
    "After the final answer, add a fenced JSON block describing how you reached it, "
    "exactly in this form (labels as above; lists may be empty):\n"
    "```json\n"
    '{"verdict": {"consensus": ["point most answers agree on"], '
    '"disagreements": [{"point": "what they disagree on", '
    '"responses": {"Response A": "its position", "Response B": "its position"}}], '
    '"blind_spots": ["what every answer missed"], "confidence": "high|medium|low", '
    '"built_on": ["Response A"]}}\n'
    "```"
)

_FENCE = re.compile(r"```[ \t]*(?:json)?[^\n]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_LETTERS = re.compile(r"^(?:response\s+)?([a-z]{1,2})$", re.IGNORECASE)
_MAX_ITEMS = 20
_MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    verdict: Verdict | None
    problem: str | None  # why there is no verdict, for the session's notices
    synthesis: str  # the chairman's text without the verdict block


def parse_verdict(text: str, seat_of_label: Mapping[str, str]) -> ParsedVerdict:
    """Find the last verdict block in ``text`` and map its labels to seat ids."""
    if not isinstance(text, str):
        return ParsedVerdict(None, "the chairman's answer is not text", "")
    for match in reversed(list(_FENCE.finditer(text))):
        raw = _load(match.group(1))
        if raw is None:
            continue
        verdict = _verdict(raw, seat_of_label)
        if verdict is None:
            continue
        synthesis = (text[: match.start()] + text[match.end() :]).strip()
        return ParsedVerdict(verdict, None, synthesis)
    return ParsedVerdict(
        None, "the chairman gave no verdict block that could be read", text.strip()
    )


def _load(body: str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, dict) and isinstance(value.get("verdict"), dict):
        return value["verdict"]
    if isinstance(value, dict) and ({"consensus", "confidence", "built_on"} & value.keys()):
        return value
    return None


def _verdict(raw: dict[str, Any], seat_of_label: Mapping[str, str]) -> Verdict | None:
    resolve = _resolver(seat_of_label)
    disagreements = []
    for entry in _list(raw.get("disagreements")):
        if not isinstance(entry, dict) or not _text(entry.get("point")):
            continue
        sides = entry.get("responses", entry.get("seats"))
        seats = {
            seat: position
            for label, value in (sides.items() if isinstance(sides, dict) else ())
            if (seat := resolve(label)) and (position := _text(value)) is not None
        }
        disagreements.append(Disagreement(point=_text(entry["point"]) or "", seats=seats))
    confidence = _text(raw.get("confidence"))
    confidence = confidence.strip().lower() if confidence else None
    verdict = Verdict(
        consensus=_texts(raw.get("consensus")),
        disagreements=disagreements,
        blind_spots=_texts(raw.get("blind_spots")),
        confidence=confidence if confidence in ("high", "medium", "low") else None,  # type: ignore[arg-type]
        built_on=list(
            dict.fromkeys(s for item in _list(raw.get("built_on")) if (s := resolve(item)))
        ),
    )
    empty = not (verdict.consensus or verdict.disagreements or verdict.blind_spots)
    return None if empty and verdict.confidence is None and not verdict.built_on else verdict


def _resolver(seat_of_label: Mapping[str, str]):  # type: ignore[no-untyped-def]
    by_letters: dict[str, str] = {}
    for label, seat in seat_of_label.items():
        match = _LETTERS.match(label.strip())
        if match:
            by_letters[match.group(1).upper()] = seat
    seats = set(seat_of_label.values())

    def resolve(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        value = value.strip()
        if value in seats:
            return value
        match = _LETTERS.match(value)
        return by_letters.get(match.group(1).upper()) if match else None

    return resolve


def _list(value: Any) -> list[Any]:
    return value[:_MAX_ITEMS] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:_MAX_TEXT]


def _texts(value: Any) -> list[str]:
    return [t for item in _list(value) if (t := _text(item)) is not None]


class VerdictStreamFilter:
    """Passes a streamed synthesis through, holding back a trailing verdict block.

    Text is released line by line; from a line that opens a fenced block onwards it is held
    until the stream ends, then released unless it is the verdict (which the final result
    carries parsed, not as text). So a stream shows exactly the synthesis the result keeps.
    """

    def __init__(self, emit: Callable[[str], None], seat_of_label: Mapping[str, str]) -> None:
        self._emit = emit
        self._labels = seat_of_label
        self._line = ""  # the current, unfinished line
        self._held: list[str] = []  # from a fence opening on; released at the end if not ours

    def feed(self, text: str) -> None:
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._take(line + "\n")

    def _take(self, line: str) -> None:
        if self._held or line.lstrip().startswith("```"):
            self._held.append(line)
            if not self._held[0].lstrip().lower().startswith("```json") and _closes(self._held):
                self._release()  # a code block, not the verdict: let it through once closed
        else:
            self._emit(line)

    def _release(self) -> None:
        if self._held:
            self._emit("".join(self._held))
            self._held = []

    def finish(self) -> None:
        """The stream ended: drop a verdict block, release anything else."""
        if self._line:
            self._take(self._line)
            self._line = ""
        held = "".join(self._held)
        if held and parse_verdict(held, self._labels).verdict is not None:
            self._held = []
            return
        self._release()


def _closes(lines: list[str]) -> bool:
    return len(lines) > 1 and lines[-1].strip() == "```"
