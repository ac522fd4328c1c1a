"""Per-user locations: the data directory holding the audition store and registry overlay."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "llm-council"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_overlay_path() -> Path:
    """Where ``llm-council registry sync`` writes refreshed prices and context windows."""
    return user_data_dir() / "registry_overlay.yaml"
