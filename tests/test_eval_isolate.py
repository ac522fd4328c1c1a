"""The isolated test runner, with real subprocesses: outcomes, reasons, limits, containment.

Each test runs answer code that misbehaves in one way (loops, allocates 10 GB, writes
outside its directory, opens sockets, floods output, crashes) and checks that the run is
stopped or contained and recorded as failed with a reason that names the cause.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llm_council.evaluation.isolate import Limits, network_isolation, run_tests

FAST = Limits(wall_s=5.0, cpu_s=1)


def test_a_correct_answer_passes_with_no_reason():
    result = run_tests("def f(x):\n    return x + 1\n", "assert f(1) == 2\n", entry_point="f")
    assert result.passed and result.outcome == "passed" and result.reason is None
    assert result.duration_ms > 0


def test_a_failed_assertion_names_the_test_line():
    tests = "assert f(1) == 2\nassert f(2) == 4\n"
    result = run_tests("def f(x):\n    return 2 if x == 1 else 5\n", tests, entry_point="f")
    assert result.outcome == "failed"
    assert result.reason == "failed: AssertionError at tests line 2: assert f(2) == 4"


def test_an_exception_names_its_type_message_and_where():
    result = run_tests("def f(x):\n    return {}[x]\n", "f('key')\n", entry_point="f")
    assert result.outcome == "failed"
    assert "KeyError: 'key'" in result.reason
    assert "answer line 2" in result.reason and "tests line 1: f('key')" in result.reason


def test_a_syntax_error_is_its_own_outcome():
    result = run_tests("def f(x)\n    return x\n", "assert f(1) == 1\n", entry_point="f")
    assert result.outcome == "syntax_error"
    assert result.reason.startswith("syntax error: ") and "answer line 1" in result.reason


def test_a_missing_entry_point_is_named():
    result = run_tests("def g(x):\n    return x\n", "assert f(1) == 1\n", entry_point="f")
    assert result.outcome == "failed" and "does not define `f`" in result.reason


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)\ndef f():\n    return 1\n",  # exits 0 before the tests run
        "import os\ndef f():\n    os._exit(0)\n",  # exits 0 in the middle of the tests
    ],
)
def test_exiting_zero_early_is_not_a_pass(code):
    result = run_tests(code, "f()\nassert False\n", entry_point="f")
    assert not result.passed
    assert result.outcome in {"failed", "crashed"} and result.reason


def test_an_infinite_loop_is_stopped_by_the_cpu_limit():
    started = time.monotonic()
    result = run_tests("def f():\n    while True:\n        pass\n", "f()\n", limits=FAST)
    assert result.outcome == "timeout" and "CPU limit of 1 s" in result.reason
    assert time.monotonic() - started < 4.5  # well before the 5 s wall clock


def test_a_sleeping_answer_is_stopped_by_the_wall_clock():
    started = time.monotonic()
    code = "import time\ndef f():\n    time.sleep(60)\n"
    result = run_tests(code, "f()\n", limits=Limits(wall_s=1.0, cpu_s=5))
    assert result.outcome == "timeout" and "after 1 s (wall clock)" in result.reason
    assert time.monotonic() - started < 3


def test_allocating_ten_gigabytes_is_stopped_by_the_memory_limit():
    code = "def f():\n    return bytearray(10 * 1024 ** 3)\n"
    result = run_tests(code, "f()\n", limits=FAST)
    assert result.outcome == "memory" and "MemoryError" in result.reason


def test_growing_memory_step_by_step_is_stopped_too():
    code = "def f():\n    chunks = []\n    while True:\n        chunks.append(bytearray(10 ** 7))\n"
    result = run_tests(code, "f()\n", limits=Limits(wall_s=10.0, cpu_s=5, memory_mb=256))
    assert result.outcome == "memory"


def test_a_write_outside_the_directory_is_refused_and_leaves_nothing(tmp_path):
    target = tmp_path / "escaped.txt"
    code = f"def f():\n    with open({str(target)!r}, 'w') as fh:\n        fh.write('x')\n"
    result = run_tests(code, "f()\n")
    assert result.outcome == "blocked"
    assert "write outside the working directory" in result.reason and str(target) in result.reason
    assert not target.exists()


@pytest.mark.parametrize(
    "action",
    [
        "os.remove(TARGET)",
        "os.rename(TARGET, TARGET + '.moved')",
        "os.open(TARGET, os.O_WRONLY | os.O_TRUNC)",
        "pathlib.Path(TARGET).write_text('overwritten')",
        "shutil.rmtree(os.path.dirname(TARGET))",
        "os.chdir(os.path.dirname(TARGET)); open('keep.txt', 'a').write('x')",
        "os.symlink(TARGET, 'link'); open('link', 'w').write('x')",
    ],
)
def test_other_ways_of_changing_files_outside_are_refused(tmp_path, action):
    target = tmp_path / "keep.txt"
    target.write_text("original")
    code = f"import os, pathlib, shutil\nTARGET = {str(target)!r}\ndef f():\n    {action}\n"
    result = run_tests(code, "f()\n")
    assert result.outcome == "blocked", result.reason
    assert target.read_text() == "original"


def test_files_inside_the_working_directory_and_home_work():
    code = (
        "import os, pathlib, tempfile\n"
        "def f():\n"
        "    pathlib.Path('a.txt').write_text('one')\n"
        "    os.makedirs('sub/dir')\n"
        "    with open(os.path.expanduser('~/b.txt'), 'w') as fh:\n"
        "        fh.write('two')\n"
        "    with tempfile.NamedTemporaryFile('w', delete=False) as fh:\n"
        "        fh.write('three')\n"
        "    return open('a.txt').read() + open(os.path.expanduser('~/b.txt')).read()\n"
    )
    assert run_tests(code, "assert f() == 'onetwo'\n").passed


def test_a_huge_file_is_stopped_by_the_file_size_limit():
    code = "def f():\n    with open('big', 'wb') as fh:\n        while True:\n            fh.write(b'x' * 10 ** 6)\n"
    result = run_tests(code, "f()\n", limits=Limits(file_size_mb=4))
    assert result.outcome == "output_too_large"
    assert "file size limit" in result.reason


def test_flooding_stdout_is_stopped_by_the_file_size_limit():
    code = "def f():\n    while True:\n        print('x' * 10000)\n"
    result = run_tests(code, "f()\n", limits=Limits(file_size_mb=4))
    assert result.outcome == "output_too_large"


def test_connecting_to_a_listening_socket_is_refused():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        code = (
            "import socket\n"
            f"def f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')\n"
        )
        result = run_tests(code, "f()\n")
        assert result.outcome == "blocked" and "network access" in result.reason
        with pytest.raises(TimeoutError):
            server.accept()  # nothing ever connected


@pytest.mark.skipif(
    not network_isolation().startswith("network namespace via"),
    reason="util-linux unshare cannot create a network namespace here",
)
def test_with_unshare_the_child_has_only_a_loopback_interface():
    # Checked below the audit hook: if_nameindex is not audited, so this sees the real OS state.
    code = "import socket\ndef f():\n    return sorted(name for _, name in socket.if_nameindex())\n"
    result = run_tests(code, "assert f() == ['lo'], f()\n")
    assert result.passed, result.reason
    assert result.network == "namespace"


def test_starting_a_process_is_refused():
    code = "import subprocess\ndef f():\n    subprocess.run(['true'])\n"
    result = run_tests(code, "f()\n")
    assert result.outcome == "blocked" and "starting a process" in result.reason


def test_the_child_sees_no_environment_and_no_llm_council(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-secret-value-123")
    tests = (
        "import os\n"
        "assert 'OPENROUTER_API_KEY' not in os.environ, 'key leaked'\n"
        "assert os.environ['HOME'] == os.getcwd()\n"
        "try:\n"
        "    import llm_council\n"
        "except ModuleNotFoundError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('llm_council importable in the child')\n"
    )
    result = run_tests("x = 1\n", tests)
    assert result.passed, result.reason


def test_reading_the_parents_environment_is_refused(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-secret-value-123")
    code = "import os\ndef f():\n    return open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
    result = run_tests(code, "assert b'sk-or-secret' not in f()\n")
    assert result.outcome == "blocked" and "another process's environment" in result.reason
    via_path = "import os, pathlib\ndef f():\n    return pathlib.Path(f'/proc/{os.getppid()}/environ').read_bytes()\n"
    assert run_tests(via_path, "f()\n").outcome == "blocked"
    own = "def f():\n    return open('/proc/self/environ', 'rb').read()\n"
    assert run_tests(own, "assert b'HOME=' in f()\n").passed


def test_a_segfault_is_recorded_as_a_crash():
    code = "import ctypes\ndef f():\n    ctypes.string_at(0)\n"
    result = run_tests(code, "f()\n")
    assert result.outcome == "crashed" and "SIGSEGV" in result.reason


def test_hostile_messages_become_one_line():
    code = "def f():\n    raise ValueError('line one\\nline two\\tand\\r\\x1b[31m red')\n"
    result = run_tests(code, "f()\n")
    assert result.outcome == "failed"
    assert "\n" not in result.reason and "\t" not in result.reason
    assert "line one line two and" in result.reason


def test_concurrent_runs_do_not_interfere_and_clean_up():
    # Each run reports its own working directory through a failing assertion.
    def run(i: int):
        return run_tests(f"def f():\n    return {i}\n", "import os\nassert False, os.getcwd()\n")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    dirs = {r.reason.split("AssertionError: ", 1)[1].split(" at tests")[0] for r in results}
    assert len(dirs) == 8  # eight separate directories
    for d in dirs:
        assert not Path(d).parent.exists(), f"{d} was not removed"
    good = [run_tests(f"def f():\n    return {i}\n", f"assert f() == {i}\n") for i in range(3)]
    assert all(r.passed for r in good)


@pytest.mark.parametrize(
    "code",
    [
        "def f():\n    while True:\n        pass\n",  # killed at the CPU limit
        "import os\ndef f():\n    os.makedirs('a/b')\n    os.chmod('a/b', 0)\n    os.chmod('a', 0)\n",
    ],
)
def test_the_temporary_directory_is_removed_whatever_happened(tmp_path, code):
    result = run_tests(code, "f()\nassert False\n", limits=FAST, scratch=tmp_path)
    assert not result.passed
    assert list(tmp_path.iterdir()) == []
