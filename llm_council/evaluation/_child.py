"""The isolated child: run an answer and a task's tests, write a one-line verdict, exit.

Started by :mod:`llm_council.evaluation.isolate` as ``python -I -S _child.py ROOT ...``: no
site-packages, no environment, no llm_council import, only the standard library. It sets its
own resource limits (so the parent never needs ``preexec_fn``, which is unsafe in a threaded
parent), optionally leaves the network namespace, installs an audit hook that refuses writes
outside its working directory, subprocesses, signals to other processes and network use,
then runs the code. A guard against accidents, not a security boundary: code that uses
ctypes or a C extension can get past the hook (ADR-011).

Verdict file ``ROOT/verdict``: ``<outcome>\\t<detail>`` on one line. Exit 0 only on a pass.
"""

from __future__ import annotations

import os
import resource
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Audit events (docs.python.org/3/library/audit_events.html) and which args are paths.
_PATH_EVENTS = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.link": (1,),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
    "shutil.copyfile": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "sqlite3.connect": (0,),  # SQLite opens its file in C, past the "open" event
}
_DIR_FD_ARG = {"os.remove": 1, "os.rmdir": 1, "os.mkdir": 2, "os.chmod": 2, "os.chown": 3}
_REFUSED = {
    "os.system": "starting a shell",
    "os.exec": "replacing the process",
    "os.posix_spawn": "starting a process",
    "os.spawn": "starting a process",
    "os.fork": "forking",
    "os.forkpty": "forking",
    "subprocess.Popen": "starting a process",
    "pty.spawn": "starting a process",
    "socket.connect": "network access",
    "socket.bind": "network access",
    "socket.sendto": "network access",
    "socket.sendmsg": "network access",
    "socket.getaddrinfo": "network access",
    "socket.gethostbyname": "network access",
    "socket.gethostbyaddr": "network access",
}


class GuardError(PermissionError):
    """Raised by the audit hook; the verdict reports it as ``blocked``."""


def _install_guard(work: str) -> None:
    realpath, join, getcwd = os.path.realpath, os.path.join, os.getcwd
    prefix = work + os.sep
    own_pid = os.getpid()

    def inside(path: object, dir_fd: object = None) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor: opening it was checked
        try:
            name = os.fsdecode(path)  # type: ignore[arg-type]
            base = getcwd()
            if isinstance(dir_fd, int) and dir_fd >= 0:  # the events pass -1 for "none"
                base = os.readlink(f"/proc/self/fd/{dir_fd}")
            full = realpath(join(base, name))
        except Exception:
            return False
        return full == work or full.startswith(prefix)

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "open":
            path, _mode, flags = args
            if isinstance(flags, int) and flags & _WRITE_FLAGS and not inside(path):
                raise GuardError(f"write outside the working directory: {path!r}")
            if not isinstance(path, int) and "environ" in str(path):
                # Another process's environment (the eval's parent may hold the API key).
                try:
                    resolved = realpath(join(getcwd(), os.fsdecode(path)))  # type: ignore[arg-type]
                except Exception:
                    resolved = "/proc/?/environ"
                if resolved.startswith("/proc/") and resolved.endswith("/environ"):
                    own = f"/proc/{own_pid}/environ"
                    if resolved not in (own, "/proc/self/environ"):
                        raise GuardError(f"reading another process's environment: {path!r}")
        elif event in _PATH_EVENTS:
            dir_fd = args[_DIR_FD_ARG[event]] if event in _DIR_FD_ARG else None
            for i in _PATH_EVENTS[event]:
                if i < len(args) and not inside(args[i], dir_fd):
                    raise GuardError(f"{event} outside the working directory: {args[i]!r}")
        elif event in _REFUSED:
            raise GuardError(f"{_REFUSED[event]} ({event})")
        elif event in ("os.kill", "os.killpg") and args and args[0] not in (own_pid, 0):
            raise GuardError(f"signalling another process ({event})")

    sys.addaudithook(hook)


def _set_limits(cpu_s: int, memory_mb: int, file_mb: int, nofile: int) -> None:
    mb = 1024 * 1024
    for limit, soft, hard in (
        # SIGXCPU at the soft limit names the cause; SIGKILL a second later if it is caught.
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),
        (resource.RLIMIT_AS, memory_mb * mb, memory_mb * mb),
        (resource.RLIMIT_FSIZE, file_mb * mb, file_mb * mb),
        (resource.RLIMIT_NOFILE, nofile, nofile),
        (resource.RLIMIT_CORE, 0, 0),
    ):
        # Hard limits too, so the code cannot raise them again (unless it runs as root).
        try:  # noqa: SIM105 - contextlib is one more import in every child
            resource.setrlimit(limit, (soft, hard))
        except (ValueError, OSError):
            pass  # a hard limit already lower than ours: keep the stricter one


def _leave_network(wanted: bool) -> str:
    """Python 3.12+: unshare the network namespace here. Returns what is in force."""
    if not wanted or not hasattr(os, "unshare"):
        return "none"
    for flags in (os.CLONE_NEWNET, os.CLONE_NEWUSER | os.CLONE_NEWNET):  # type: ignore[attr-defined]
        try:
            os.unshare(flags)  # type: ignore[attr-defined]
            return "namespace"
        except OSError:
            continue
    return "none"


def _where(exc: BaseException, tests: list[str]) -> str:
    """Where it happened: `` at tests line 4: assert f(2) == 3``, or in the answer and from
    which test line it was called."""
    tb = exc.__traceback__
    test_at: str | None = None
    answer_line: int | None = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name == "<tests>":
            n = tb.tb_lineno
            text = tests[n - 1].strip() if 0 < n <= len(tests) else ""
            test_at = f"tests line {n}" + (f": {text}" if text else "")
            answer_line = None  # only answer frames below the last test frame count
        elif name == "<answer>":
            answer_line = tb.tb_lineno
        tb = tb.tb_next
    if answer_line is not None:
        return f" (answer line {answer_line}" + (f", called at {test_at})" if test_at else ")")
    return f" at {test_at}" if test_at else ""


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable message>"
    return type(exc).__name__ + (f": {text}" if text else "")


def _classify(exc: BaseException, tests: list[str]) -> tuple[str, str]:
    where = _where(exc, tests)
    if isinstance(exc, MemoryError):
        return "memory", f"MemoryError{where}: the memory limit was reached"
    if isinstance(exc, GuardError):
        return "blocked", f"{exc}{where}"
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: RLIMIT_FSIZE (SIGXFSZ ignored)
        return "output_too_large", f"the file size limit was reached{where}"
    if isinstance(exc, SystemExit):
        return "failed", f"the code called exit({exc.code!r}){where}"
    return "failed", f"{_describe(exc)}{where}"


def main(argv: list[str]) -> int:
    root, cpu_s, memory_mb, file_mb, nofile, net, entry = argv[1:8]
    work = os.path.join(root, "work")
    verdict_fd = os.open(os.path.join(root, "verdict"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    network = _leave_network(net == "unshare")
    _set_limits(int(cpu_s), int(memory_mb), int(file_mb), int(nofile))
    with open(os.path.join(root, "answer.py"), encoding="utf-8") as f:
        answer = f.read()
    with open(os.path.join(root, "tests.py"), encoding="utf-8") as f:
        tests_source = f.read()
    tests = tests_source.splitlines()

    def verdict(outcome: str, detail: str = "") -> int:
        line = f"{outcome}\t{' '.join(detail.split())[:400]}\t{network}\n"
        os.write(verdict_fd, line.encode("utf-8", "backslashreplace"))
        os.close(verdict_fd)
        return 0 if outcome == "passed" else 1

    try:
        code = compile(answer, "<answer>", "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        line = getattr(exc, "lineno", None)
        message = getattr(exc, "msg", None) or _describe(exc)
        return verdict("syntax_error", message + (f" (answer line {line})" if line else ""))
    try:
        test_code = compile(tests_source, "<tests>", "exec")
    except (SyntaxError, ValueError) as exc:
        return verdict("error", f"the task's tests do not compile: {_describe(exc)}")
    # A real module in sys.modules (dataclasses, pickle and typing look the module up), and
    # not "__main__", so an answer's `if __name__ == "__main__":` demo does not run.
    module = type(sys)("solution")
    sys.modules["solution"] = module
    namespace = module.__dict__
    _install_guard(work)
    try:
        exec(code, namespace)
    except BaseException as exc:
        outcome, detail = _classify(exc, tests)
        return verdict(outcome, f"while loading the answer: {detail}")
    if entry and entry not in namespace:
        return verdict("failed", f"the answer does not define `{entry}`")
    try:
        exec(test_code, namespace)
    except BaseException as exc:
        return verdict(*_classify(exc, tests))
    return verdict("passed")


if __name__ == "__main__":
    _status = main(sys.argv)
    # Skip interpreter shutdown: the answer's atexit handlers and buffered output do not
    # matter once the verdict is written, and exiting at once keeps each run short.
    os._exit(_status)
