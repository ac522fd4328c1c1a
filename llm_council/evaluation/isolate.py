"""Run extracted code and a task's tests in a separate, limited interpreter.

Each run gets a fresh temporary directory (its working directory, HOME and TMPDIR), an empty
environment, ``python -I -S`` (no site-packages, no user site, no PYTHON* variables), CPU,
address-space, file-size and open-file limits, a wall-clock timeout that kills the whole
process group, no network where the OS allows (a new network namespace via util-linux
``unshare -n``/``-rn``, or ``os.unshare`` on Python 3.12+), and an audit hook that refuses
writes outside the directory, subprocesses and sockets. This is a guard against accidents
in model-written code, not a security boundary: see docs/adr/ADR-011-eval-isolation.md.

Runs share no state and take no lock, so callers may run many at once from threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Outcome = Literal[
    "passed",  # the tests ran to the end and the process exited 0
    "failed",  # an assertion or exception in the tests or while loading the answer
    "timeout",  # wall-clock or CPU limit
    "memory",  # MemoryError under the address-space limit, or killed for memory
    "output_too_large",  # the file-size limit (files written or printed output)
    "syntax_error",  # the extracted code does not compile
    "no_code",  # nothing in the answer defines the entry point
    "no_answer",  # the seat or chairman produced no answer at all
    "blocked",  # the guard refused an action (write outside the directory, network, ...)
    "crashed",  # the interpreter died from a signal without a verdict
    "error",  # the harness could not run the check (cannot start Python, broken tests)
]
NetworkGuard = Literal["namespace", "audit-hook"]

_CHILD = Path(__file__).with_name("_child.py")
_OUTPUT_TAIL = 600  # characters of the child's output quoted when it died without a verdict


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-run limits. The defaults fit the bundled tasks with a wide margin."""

    wall_s: float = 10.0
    cpu_s: int = 5
    memory_mb: int = 512
    file_size_mb: int = 16
    open_files: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_s", "cpu_s", "memory_mb", "file_size_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"limit {name} must be positive (got {getattr(self, name)})")
        if self.open_files < 16:  # the interpreter itself needs a handful
            raise ValueError(f"limit open_files must be at least 16 (got {self.open_files})")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class RunResult:
    """How one isolated run ended. ``reason`` is None exactly when it passed."""

    outcome: Outcome
    reason: str | None
    duration_ms: float
    network: NetworkGuard = "audit-hook"

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@functools.cache
def _network_prefix() -> tuple[str, ...]:
    """The util-linux ``unshare`` invocation that works here, or () when none does.

    ``-n`` needs CAP_SYS_ADMIN (root); ``-rn`` adds a user namespace so an ordinary user can
    do it where unprivileged user namespaces are enabled. Probed once per process.
    """
    exe = shutil.which("unshare")
    if exe is None:
        return ()
    for flags in ("-n", "-rn"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run(
                [exe, flags, "true"], capture_output=True, timeout=5, env={"PATH": os.defpath}
            )
            if probe.returncode == 0:
                return (exe, flags)
    return ()


def network_isolation() -> str:
    """One line saying how network access is prevented on this machine (for docs and ``check``)."""
    if _network_prefix():
        return f"network namespace via {' '.join(_network_prefix())} (plus the audit hook)"
    if hasattr(os, "unshare"):
        return "network namespace via os.unshare when permitted, else the audit hook only"
    return "audit hook only: sockets refused in Python, not at the OS level"


def run_tests(
    code: str,
    tests: str,
    *,
    entry_point: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    scratch: Path | None = None,
) -> RunResult:
    """Run ``code`` then ``tests`` in one module namespace, in an isolated interpreter.

    Passed when the tests finish and the process exits 0 within the limits. Never raises
    for anything the code does; a failure to start Python itself is an ``error`` outcome.
    The run's temporary directory is made under ``scratch`` (default: the system's) and
    removed afterwards, whatever happened.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(
        prefix="llm-council-eval-", dir=scratch, ignore_cleanup_errors=True
    ) as tmp:
        root = Path(os.path.realpath(tmp))
        work = root / "work"
        work.mkdir()
        # Lone surrogates (possible in JSON-decoded model output) become "?": not valid UTF-8.
        (root / "answer.py").write_text(code, encoding="utf-8", errors="replace")
        (root / "tests.py").write_text(tests, encoding="utf-8", errors="replace")
        prefix = _network_prefix()
        argv = [
            *prefix,
            sys.executable,
            "-I",
            "-S",
            "-X",
            "utf8",
            str(_CHILD),
            str(root),
            str(limits.cpu_s),
            str(limits.memory_mb),
            str(limits.file_size_mb),
            str(limits.open_files),
            "no" if prefix else "unshare",  # the child tries os.unshare only without util-linux
            entry_point or "",
        ]
        env = {"HOME": str(work), "TMPDIR": str(work), "PATH": os.defpath, "LC_ALL": "C.UTF-8"}
        with open(root / "output", "wb") as output:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=work,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, killed as one
                    close_fds=True,
                )
            except OSError as exc:
                return RunResult(
                    "error",
                    f"error: could not start the isolated interpreter: {exc}",
                    _ms(started),
                )
            returncode, cpu_used, timed_out = _wait(proc, limits.wall_s)
            _kill_group(proc.pid)  # anything the code left running in its group
        result = _read_verdict(root, returncode, timed_out, cpu_used, limits, bool(prefix))
    return RunResult(result[0], result[1], _ms(started), result[2])


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float | None, bool]:
    """Wait for the child at most ``timeout`` s; kill its group past that.

    Returns (returncode, CPU seconds it used or None, timed out). A pidfd wakes us the moment
    the child exits (``Popen.wait(timeout)`` polls with sleeps of up to 50 ms, a large part
    of a 20 ms run), and ``wait4`` reports the CPU time that tells a CPU-limit kill apart.
    """
    timed_out = False
    pidfd = None
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(proc.pid)
    if pidfd is None:  # no pidfd (not Linux, or an old kernel): Popen's polling wait
        try:
            return proc.wait(timeout=timeout), None, False
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            return proc.wait(), None, True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(timeout * 1000):
            timed_out = True
            _kill_group(proc.pid)
    finally:
        os.close(pidfd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return proc.returncode, usage.ru_utime + usage.ru_stime, timed_out


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _read_verdict(
    root: Path,
    returncode: int,
    timed_out: bool,
    cpu_used: float | None,
    limits: Limits,
    namespaced: bool,
) -> tuple[Outcome, str | None, NetworkGuard]:
    network: NetworkGuard = "namespace" if namespaced else "audit-hook"
    if timed_out:
        return "timeout", f"timeout: still running after {limits.wall_s:g} s (wall clock)", network
    try:
        fields = (root / "verdict").read_text(encoding="utf-8").rstrip("\n").split("\t")
    except (OSError, UnicodeDecodeError):
        fields = []
    if len(fields) == 3:
        outcome, detail, child_network = fields
        if child_network == "namespace":
            network = "namespace"
        if outcome == "passed" and returncode == 0:
            return "passed", None, network
        if outcome in _VERDICTS:
            label = _VERDICTS[outcome]
            return outcome, f"{label}: {detail}" if detail else label, network  # type: ignore[return-value]
    return (*_from_signal(returncode, cpu_used, limits, _tail(root / "output")), network)


_VERDICTS: dict[str, str] = {
    "failed": "failed",
    "memory": "memory",
    "output_too_large": "output too large",
    "syntax_error": "syntax error",
    "blocked": "blocked",
    "error": "error",
}


def _from_signal(
    returncode: int, cpu_used: float | None, limits: Limits, tail: str
) -> tuple[Outcome, str]:
    """The process ended without a verdict: say why from its exit status."""
    if returncode < 0:
        sig = -returncode
        cpu_out = cpu_used is not None and cpu_used >= limits.cpu_s - 0.05
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_out):
            return "timeout", f"timeout: CPU limit of {limits.cpu_s} s reached"
        if sig == signal.SIGXFSZ:
            return "output_too_large", f"output too large: over {limits.file_size_mb} MB"
        if sig == signal.SIGKILL:
            return "memory", "memory: killed by SIGKILL (most likely out of memory)"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return "crashed", f"crashed: killed by signal {name}" + (
            f"; output: {tail}" if tail else ""
        )
    detail = f"; output: {tail}" if tail else ""
    return "crashed", f"crashed: exited {returncode} without a verdict{detail}"


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _OUTPUT_TAIL))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return " ".join(text.split())[-_OUTPUT_TAIL:]
