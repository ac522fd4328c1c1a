"""llm-council: a coding council with OpenRouter Pareto Router seats."""

from __future__ import annotations

__version__ = "0.1.0"
