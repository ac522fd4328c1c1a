"""The OpenAI wire side of ``llm-council serve``: request checking, prompt building, errors.

An OpenAI chat request becomes one council question: the system messages and the earlier
turns go in as delimited context, the last user message is the question. Everything here is
pure (no I/O) so the HTTP layer stays a thin translation over ``CouncilService``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_council.choices import TIERS

MODEL_PREFIX = "council"
_ROLES = ("system", "developer", "user", "assistant", "tool")


class RequestError(Exception):
    """A request the endpoint refuses, carried as OpenAI's error object."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.kind = kind

    def body(self) -> dict[str, Any]:
        """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
        return error_body(self.message, kind=self.kind, param=self.param, code=self.code)


def error_body(
    message: str,
    *,
    kind: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """An OpenAI-shaped error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What the council needs from one chat-completions body."""

    tier: str | None  # None: the config's default tier
    prompt: str
    stream: bool
    # The council session this conversation continues (extra field ``council_session_id``):
    # the new session is stored linked to it; the message history is the context.
    parent_session_id: str | None = None


def model_ids() -> list[str]:
    """The model ids ``/v1/models`` lists: ``council`` and ``council/<tier>``."""
    return [MODEL_PREFIX, *(f"{MODEL_PREFIX}/{tier}" for tier in TIERS)]


def parse_model(value: Any) -> str | None:
    """The tier named by ``model`` (None for plain ``council``); errors in OpenAI's terms."""
    if not isinstance(value, str) or not value:
        raise RequestError("'model' is required and must be a string", param="model")
    if value == MODEL_PREFIX:
        return None
    head, sep, tier = value.partition("/")
    if head != MODEL_PREFIX or not sep:
        raise RequestError(
            f"The model {value!r} does not exist; use one of {', '.join(model_ids())}",
            status=404,
            param="model",
            code="model_not_found",
        )
    if tier not in TIERS:
        raise RequestError(
            f"unknown council tier {tier!r}; tiers are {', '.join(TIERS)}",
            param="model",
            code="invalid_tier",
        )
    return tier


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a chat-completions body and build the council prompt from its messages."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    tier = parse_model(body.get("model"))
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise RequestError("'stream' must be a boolean", param="stream")
    n = body.get("n")
    if n not in (None, 1):
        raise RequestError("the council gives one answer: 'n' must be 1", param="n")
    parent = body.get("council_session_id")
    if parent is not None and (not isinstance(parent, str) or not parent.strip()):
        raise RequestError(
            "'council_session_id' must be the id of an earlier council session (a string)",
            param="council_session_id",
        )
    return ChatRequest(
        tier=tier,
        prompt=messages_to_prompt(body.get("messages")),
        stream=stream,
        parent_session_id=parent,
    )


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or a list of ``{"type": "text", "text": ...}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise RequestError(
                    f"{where}: only text content parts are supported", param="messages"
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError(f"{where}: a text part needs a string 'text'", param="messages")
            pieces.append(text)
        return "\n".join(pieces)
    raise RequestError(
        f"{where}: 'content' must be a string or a list of text parts", param="messages"
    )


def messages_to_prompt(messages: Any) -> str:
    """One council prompt from an OpenAI message list.

    The last message must be the user's question. System/developer messages and earlier
    turns are kept, each under a delimiter naming its role, so the seats see the whole
    conversation but know which part they are asked to answer.
    """
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list", param="messages")
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise RequestError(f"{where} must be an object", param="messages")
        role = message.get("role")
        if role not in _ROLES:
            raise RequestError(
                f"{where}: 'role' must be one of {', '.join(_ROLES)}", param="messages"
            )
        turns.append((role, _text(message.get("content"), where)))
    last_role, question = turns[-1]
    if last_role != "user" or not question.strip():
        raise RequestError(
            "the last message must be a user message with the question", param="messages"
        )
    context = [(role, text) for role, text in turns[:-1] if text.strip()]
    if not context:
        return question
    # Context first, question last: the question is what every seat answers and the chairman
    # synthesises; the rest only informs it.
    blocks = [f"[{role}]\n{text.strip()}" for role, text in context]
    return (
        "Context: the conversation so far, oldest first (each part starts with its role).\n\n"
        + "\n\n".join(blocks)
        + "\n\n[end of context]\n\nThe question to answer now:\n\n"
        + question
    )
