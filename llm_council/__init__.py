"""llm-council: a coding council with OpenRouter Pareto Router seats.

``from llm_council import Council``; ``Council.from_config()`` then ``await council.run(prompt)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_council.api import Council
    from llm_council.council.result import SessionResult

__all__ = ["Council", "SessionResult"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so importing a leaf module (e.g. the gateway) does not pull in the whole council.
    if name == "Council":
        from llm_council.api import Council

        return Council
    if name == "SessionResult":
        from llm_council.council.result import SessionResult

        return SessionResult
    raise AttributeError(f"module 'llm_council' has no attribute {name!r}")
