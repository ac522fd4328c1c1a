"""``llm-council sandbox serve`` in its own process, for tests that need a real server and
real signals (the CLI under test runs as another subprocess)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def sandbox_process(latency_ms: float) -> Iterator[str]:
    """Serve the sandbox with every model taking ``latency_ms``; yield its ``/api/v1`` URL."""
    port = free_port()
    command = [sys.executable, "-m", "llm_council", "sandbox", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--latency-ms", str(latency_ms), "--fixed-latency"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("sandbox serve did not start") from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
