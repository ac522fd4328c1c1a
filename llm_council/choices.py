"""The closed sets of names a user chooses from: tiers, modes, duplicate policies, gateways.

They live apart from ``config`` (which re-exports them) so the command line can declare its
options without importing pydantic and the config loader; ``llm-council --help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Tier(StrEnum):
    QUICK = "quick"
    BALANCED = "balanced"
    HIGH = "high"
    REASONING = "reasoning"
    FRONTIER = "frontier"


TIERS: tuple[str, ...] = tuple(t.value for t in Tier)
DuplicatePolicy = Literal["flag", "collapse", "reroute"]
Mode = Literal["coding", "general"]
# Which gateway a council uses: auto = OpenRouter with a key, else the offline sandbox.
GatewayChoice = Literal["auto", "sandbox", "openrouter"]
