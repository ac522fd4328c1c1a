"""Locate the shipped default files (config and registry) in a wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
# In a wheel the defaults are copied under llm_council/_defaults (see pyproject's
# force-include); in a source checkout or editable install they sit at the repo root.
_CANDIDATES: dict[str, tuple[Path, ...]] = {
    "unified_config.yaml": (
        _PACKAGE_DIR / "_defaults" / "unified_config.yaml",
        _PACKAGE_DIR.parent / "unified_config.yaml",
    ),
    "registry.yaml": (
        _PACKAGE_DIR / "_defaults" / "registry.yaml",
        _PACKAGE_DIR.parent / "models" / "registry.yaml",
    ),
}


def shipped_file(name: str) -> Path:
    """The path of a shipped default file; FileNotFoundError naming where it looked."""
    candidates = _CANDIDATES[name]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(f"shipped default {name} not found (looked in: {looked}); reinstall")
