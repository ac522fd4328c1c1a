"""The gateway contract: typed requests and results, the Gateway protocol and the error taxonomy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from llm_council.gateway.router_metadata import RouterMetadata
from llm_council.redaction import redact, redact_deep

GatewayKind = Literal["openrouter", "sandbox"]
# The outcome of one call, as recorded per seat; "ok" is success, the rest name a cause.
# "cancelled": the call was in flight when the session was interrupted (Ctrl-C, a client).
CallStatus = Literal[
    "ok",
    "timeout",
    "rate_limited",
    "auth_error",
    "payment_required",
    "refused",
    "error",
    "cancelled",
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class CompletionRequest(BaseModel):
    """One chat completion. ``tier`` and ``min_coding_score`` steer a Pareto seat only."""

    model_config = ConfigDict(frozen=True)

    model: str
    messages: tuple[ChatMessage, ...]
    tier: str | None = None
    min_coding_score: float | None = Field(default=None, ge=0, le=1)
    session_id: str | None = None
    # OpenRouter's `models`: fallbacks tried in order only after `model` fails (docs: Model
    # Fallbacks). Never a pin: to get a given model, name it in `model`.
    models: tuple[str, ...] | None = None
    plugins: tuple[dict[str, Any], ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    # Wall-clock budget for the whole call including retries; None uses the gateway default.
    deadline_s: float | None = Field(default=None, gt=0)


class Usage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None  # OpenRouter's usage.cost when the API reports it


class CompletionResult(BaseModel):
    """A successful completion. ``resolved_model`` is the response's ``model`` field.

    ``resolved_model`` is None when a billed answer came back without naming its model:
    the answer is kept (it was paid for) and the record says the model is unknown. Likewise
    an answer whose ``usage`` is unreadable is kept, not retried (a retry would pay again and
    drop this answer): ``usage`` is then empty and ``usage_problem`` says why, so its tokens
    and cost read as unknown, never as zero.
    """

    model_config = ConfigDict(frozen=True)

    requested_model: str
    resolved_model: str | None
    generation_id: str | None
    content: str
    finish_reason: str | None
    usage: Usage
    latency_ms: float
    attempts: int
    min_coding_score: float | None = None
    variant: str | None = None
    provider: str | None = None
    # OpenRouter's own account of the routing (``openrouter_metadata``), when it sent one.
    router: RouterMetadata | None = None
    usage_problem: str | None = None  # why ``usage`` could not be read; None when it could


class GatewayError(Exception):
    """Base of the error taxonomy. ``status`` is the seat outcome this error maps to."""

    status: CallStatus = "error"
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        code: str | int | None = None,
        metadata: dict[str, Any] | None = None,
        attempts: int = 1,
    ) -> None:
        # Masked where built: any message may quote server text that echoes the key.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after
        self.code = redact_deep(code)
        self.metadata = redact_deep(metadata or {})
        self.attempts = attempts

    def __str__(self) -> str:
        prefix = f"HTTP {self.http_status}: " if self.http_status else ""
        return f"{prefix}{self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, retryable={self.retryable})"


class BadRequestError(GatewayError):
    """400: the request itself is wrong (e.g. a min_coding_score outside 0..1)."""


class AuthError(GatewayError):
    """401: missing, invalid or revoked API key."""

    status: CallStatus = "auth_error"


class PaymentRequiredError(GatewayError):
    """402: the account has run out of credits."""

    status: CallStatus = "payment_required"


class RefusedError(GatewayError):
    """403: moderation or a guardrail refused the input."""

    status: CallStatus = "refused"


class CallTimeoutError(GatewayError):
    """408 from upstream, or the call's wall-clock deadline passed."""

    status: CallStatus = "timeout"
    retryable = True


class RateLimitedError(GatewayError):
    """429: rate limited; ``retry_after`` carries the server's advice when given."""

    status: CallStatus = "rate_limited"
    retryable = True


class UpstreamError(GatewayError):
    """502/503/5xx: the provider or the router is down or overloaded."""

    retryable = True


class ProviderError(GatewayError):
    """An ``error`` object inside a 200 response body (or a mid-stream error chunk)."""

    retryable = True


class MalformedResponseError(GatewayError):
    """The response was not the JSON shape OpenRouter documents (e.g. truncated)."""

    retryable = True


class GatewayConnectionError(GatewayError):
    """The server could not be reached (refused, reset, DNS)."""

    retryable = True


class CallCancelledError(GatewayError):
    """The call was in flight when its session was cancelled (Ctrl-C, a client going away)."""

    status: CallStatus = "cancelled"


class GatewayConfigError(GatewayError):
    """The gateway cannot be built as asked (e.g. ``--gateway openrouter`` with no key)."""


@runtime_checkable
class Gateway(Protocol):
    """What the council needs from a model gateway."""

    @property
    def kind(self) -> GatewayKind: ...

    async def complete(
        self,
        request: CompletionRequest,
        *,
        on_delta: Callable[[str], None] | None = None,
    ) -> CompletionResult:
        """One completion; with ``on_delta`` it streams and hands over content as it arrives."""
        ...

    async def list_models(self) -> list[dict[str, Any]]: ...

    async def aclose(self) -> None: ...
