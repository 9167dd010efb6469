"""The isolation layer: results, exceptions, time and memory limits, crashes, reuse.

The jobs are small functions of this module (a worker imports them by name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from docframe.errors import (
    ConnectorError,
    IsolationError,
    WorkerCrashed,
    WorkerMemoryError,
    WorkerTimeout,
)
from docframe.isolation import run_isolated

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process limits")

# a worker's address space holds ~400 MB of libraries before any job runs
ROOMY_MB = 900

_poisoned = False  # module state inside a worker, to simulate damage left by an earlier job


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def sleep_with_child(pid_file: str) -> None:
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(child.pid))
    time.sleep(60)


def allocate(mb: int) -> int:
    block = bytearray(mb * 1024 * 1024)
    return len(block)


def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def killed() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def fail(message: str) -> None:
    raise ConnectorError(message, help="do something")


class Unpicklable(Exception):
    def __init__(self, a: int, b: int) -> None:  # pickles as Unpicklable(args) -> TypeError
        super().__init__(f"{a}/{b}")


def fail_unpicklably() -> None:
    raise Unpicklable(1, 2)


def unpicklable_result() -> object:
    return lambda: None


def poison() -> int:
    global _poisoned
    _poisoned = True
    return os.getpid()


def crash_if_poisoned() -> int:
    if _poisoned:
        os.kill(os.getpid(), signal.SIGSEGV)
    return os.getpid()


def test_returns_the_result_from_another_process():
    assert run_isolated(add, 2, 3, timeout_s=30, memory_mb=None) == 5
    assert run_isolated(pid, timeout_s=30, memory_mb=None) != os.getpid()


def test_job_exceptions_come_back_unchanged():
    with pytest.raises(ConnectorError) as info:
        run_isolated(fail, "bad input", timeout_s=30, memory_mb=None)
    assert info.value.message == "bad input"
    assert info.value.help == "do something"
    assert not isinstance(info.value, IsolationError)


def test_unpicklable_exceptions_and_results_become_clear_errors():
    with pytest.raises(ConnectorError, match="could not be"):
        run_isolated(fail_unpicklably, timeout_s=30, memory_mb=None)
    with pytest.raises(ConnectorError, match="could not be sent back"):
        run_isolated(unpicklable_result, timeout_s=30, memory_mb=None)


def test_timeout_kills_the_worker_and_what_it_started(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(WorkerTimeout) as info:
        run_isolated(sleep_with_child, str(pid_file), timeout_s=2, memory_mb=None, label="slow.pdf")
    assert time.monotonic() - start < 10
    assert str(info.value).startswith("slow.pdf: timeout after 2 s")
    grandchild = int(pid_file.read_text())
    assert _gone(grandchild), "the worker's own child outlived the timeout"


def test_memory_limit_turns_into_an_error():
    with pytest.raises(WorkerMemoryError) as info:
        run_isolated(allocate, 2048, timeout_s=30, memory_mb=ROOMY_MB, label="bomb.pdf")
    assert info.value.message == f"bomb.pdf: memory limit ({ROOMY_MB} MB) exceeded"
    # the same job fits without the limit's squeeze when it asks for little
    assert run_isolated(allocate, 16, timeout_s=30, memory_mb=ROOMY_MB) == 16 * 1024 * 1024


def test_killed_by_the_kernel_reads_as_memory():
    with pytest.raises(WorkerMemoryError, match=r"memory limit \(512 MB\) exceeded"):
        run_isolated(killed, timeout_s=30, memory_mb=512)


def test_crash_is_reported_with_its_signal():
    with pytest.raises(WorkerCrashed) as info:
        run_isolated(segfault, timeout_s=30, memory_mb=None, label="evil.pdf")
    assert info.value.message == f"evil.pdf: parser crashed (signal {int(signal.SIGSEGV)})"
    # the caller carries on: the next job runs in a fresh worker
    assert run_isolated(add, 1, 1, timeout_s=30, memory_mb=None) == 2


def test_a_clean_worker_is_reused_and_a_fresh_one_on_request():
    first = run_isolated(pid, timeout_s=30, memory_mb=1500)
    assert run_isolated(pid, timeout_s=30, memory_mb=1500) == first
    one_shot = {run_isolated(pid, timeout_s=30, memory_mb=1500, reuse=False) for _ in range(2)}
    assert len(one_shot) == 2 and first not in one_shot


def test_a_crash_after_earlier_jobs_is_retried_in_a_fresh_worker():
    # the first job leaves its (reused) worker damaged; the second crashes there,
    # is retried in a clean worker and succeeds: the damage is not blamed on it
    damaged = run_isolated(poison, timeout_s=30, memory_mb=1400)
    clean = run_isolated(crash_if_poisoned, timeout_s=30, memory_mb=1400)
    assert clean != damaged
    # a fresh worker that crashes is not retried
    with pytest.raises(WorkerCrashed):
        run_isolated(segfault, timeout_s=30, memory_mb=1400, reuse=False)


def test_threads_run_jobs_side_by_side():
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda i: run_isolated(add, i, i, timeout_s=60, memory_mb=None), range(8))
        )
    assert results == [2 * i for i in range(8)]


def _gone(pid: int, wait_s: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
