"""``python -m llm_council`` runs the CLI."""

from llm_council.cli import main

main()
