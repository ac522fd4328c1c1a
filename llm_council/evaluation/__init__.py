"""The eval: coding tasks with hidden tests, graded on every seat's answer and the synthesis.

``tasks`` loads the bundled set or a user's JSONL/directory; ``extract`` pulls the code out
of a Markdown answer; ``isolate`` runs it with the tests in a limited subprocess (ADR-011);
``grade`` grades one session; ``report`` and ``render`` build and show the eval report.
Nothing is imported here, so importing a submodule stays cheap.
"""
