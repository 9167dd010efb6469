"""Run a callable in a worker process with a time and a memory limit.

Some work must not be able to take the calling process down: parsing hostile
PDFs (fuzzed files, xref loops, image and page-size bombs hang a parser, exhaust
memory or crash it in C code), an agent's SQL (a memory bomb in one value), and
soon media decoding. ``run_isolated`` runs each job in a worker process:

- workers are forked from a ``forkserver`` (a small, clean, single-threaded
  server process with the caller's ``preload`` modules imported); ``spawn``
  where forkserver does not exist; workers with different preloads or memory
  limits never mix;
- ``RLIMIT_AS`` caps a worker's address space, so a runaway allocation fails
  inside it (``MemoryError``, or a parser error reporting a failed malloc)
  instead of swapping the machine; ``RLIMIT_CORE`` = 0 (no core dumps);
- a worker leads its own process group, so a timeout kills it *and* anything
  it started (e.g. a ``tesseract`` process) with one SIGKILL; on Linux it also
  dies with the fork server, i.e. when the calling process dies;
- job and result travel pickled over a pipe; the worker's stdout and stderr go
  to /dev/null (parsers print hints that would garble a progress display).

Starting a process costs 20-40 ms, more than parsing a typical page, so a
worker that finished a job cleanly is kept for the next one (``reuse=True``,
the default). It is retired after ``MAX_JOBS`` jobs, when its peak memory
passed half the limit, and after any failure; a worker that timed out, ran out
of memory or crashed is killed. A crash in a worker that had already run other
jobs is retried once in a fresh worker, so damage left by an earlier file is
never blamed on this one.

Failures become one-line :class:`~docframe.errors.ConnectorError` subclasses:
``timeout after N s`` (:class:`WorkerTimeout`), ``memory limit (N MB)
exceeded`` (:class:`WorkerMemoryError`), ``parser crashed (signal N)``
(:class:`WorkerCrashed`). An exception raised by the job itself is re-raised
in the caller unchanged (it must pickle; docframe's errors do).

``func`` must be importable by the worker: a module-level function of a real
module (workers do not re-import the caller's ``__main__`` unless ``func``
lives there). Call ``run_isolated`` from the main process or from threads
(threads are the cheap way to run several jobs at once: the work happens in
the workers); a daemonic ``multiprocessing`` worker cannot start processes.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from multiprocessing.connection import wait
from typing import Any, TypeVar

from docframe.errors import (
    ConnectorError,
    IsolationError,
    WorkerCrashed,
    WorkerMemoryError,
    WorkerTimeout,
)

T = TypeVar("T")

MAX_JOBS = 200  # jobs per worker before it is replaced
_MB = 1024 * 1024


# ------------------------------------------------------------------ public API


def run_isolated(
    func: Callable[..., T],
    *args: Any,
    timeout_s: float,
    memory_mb: int | None,
    label: str | None = None,
    reuse: bool = True,
    preload: Iterable[str] = (),
) -> T:
    """``func(*args)`` in a worker process: its return value, or a ConnectorError.

    ``func``, ``args`` and the result must pickle. ``memory_mb`` limits the
    worker's address space (None: no limit). ``label`` (usually the file path)
    prefixes error messages. ``reuse=False`` runs the job in a fresh worker that
    is discarded afterwards.
    """
    prefix = f"{label}: " if label else ""
    job = pickle.dumps((func, args), protocol=pickle.HIGHEST_PROTOCOL)
    needs_main = getattr(func, "__module__", None) == "__main__"
    reuse = reuse and not needs_main
    deadline = time.monotonic() + timeout_s
    worker = _acquire(memory_mb, reuse, needs_main, preload)
    try:
        return _run(worker, job, deadline, timeout_s, memory_mb, prefix)
    except WorkerCrashed:
        if worker.jobs == 0 or not reuse:
            raise
    # the crash may be damage from an earlier job: once more, in a fresh worker
    fresh = _Worker.start(memory_mb, reuse, needs_main, preload)
    return _run(fresh, job, deadline, timeout_s, memory_mb, prefix)


def shutdown() -> None:
    """Stop the idle workers (they are also stopped when the process exits)."""
    with _lock:
        idle = [w for pool in _idle.values() for w in pool]
        _idle.clear()
    for worker in idle:
        worker.kill()


# ------------------------------------------------------------------ parent side

_lock = threading.Lock()
_context: Any = None
_idle: dict[tuple[int | None, tuple[str, ...]], list[_Worker]] = {}


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(
        self, proc: Any, conn: Any, memory_mb: int | None, key: Any, reusable: bool
    ) -> None:
        self.proc = proc
        self.conn = conn
        self.memory_mb = memory_mb
        self.key = key
        self.reusable = reusable
        self.jobs = 0  # finished jobs
        self.alive = True

    @classmethod
    def start(
        cls, memory_mb: int | None, reusable: bool, needs_main: bool, preload: Iterable[str]
    ) -> _Worker:
        preload = tuple(preload)
        ctx, process_class = _get_context(preload)
        if needs_main:
            process_class = ctx.Process  # the worker must import __main__ to find func
        parent_end, child_end = ctx.Pipe(duplex=True)
        proc = process_class(
            target=_serve,
            args=(child_end, memory_mb),
            daemon=True,
            name="docframe-isolated",
        )
        proc.start()
        child_end.close()
        return cls(proc, parent_end, memory_mb, (memory_mb, preload), reusable)

    def kill(self) -> None:
        """SIGKILL the worker's process group (it and whatever it started)."""
        if not self.alive:
            return
        self.alive = False
        pid = self.proc.pid
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            if self.proc.is_alive():  # it had not made its own group yet
                self.proc.kill()
        self.proc.join()
        self.conn.close()

    def exitcode(self) -> int | None:
        self.proc.join(timeout=1.0)
        return self.proc.exitcode


def _acquire(
    memory_mb: int | None, reuse: bool, needs_main: bool, preload: Iterable[str]
) -> _Worker:
    if reuse:
        key = (memory_mb, tuple(preload))
        with _lock:
            pool = _idle.get(key, [])
            while pool:
                worker = pool.pop()
                if worker.proc.is_alive():
                    return worker
                worker.kill()
    return _Worker.start(memory_mb, reuse, needs_main, preload)


def _release(worker: _Worker, peak_mb: float) -> None:
    worker.jobs += 1
    limit = worker.memory_mb
    keep = worker.reusable and worker.jobs < MAX_JOBS and not (limit and peak_mb > limit / 2)
    if not keep:
        worker.kill()
        return
    with _lock:
        _idle.setdefault(worker.key, []).append(worker)


def _run(
    worker: _Worker,
    job: bytes,
    deadline: float,
    timeout_s: float,
    memory_mb: int | None,
    prefix: str,
) -> Any:
    setup = (list(sys.path), os.getcwd(), dict(os.environ))
    try:
        worker.conn.send_bytes(pickle.dumps((job, setup), protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # it died while idle: the wait below sees its exit
    remaining = max(0.0, deadline - time.monotonic())
    ready = wait([worker.conn, worker.proc.sentinel], timeout=remaining)
    reply: tuple[str, Any, float] | None = None
    if worker.conn in ready or (ready and worker.conn.poll(0)):
        reply = _receive(worker.conn)
    if reply is None:
        timed_out = not ready
        code = None if timed_out else worker.exitcode()
        worker.kill()
        if timed_out:
            raise WorkerTimeout(
                f"{prefix}timeout after {timeout_s:g} s",
                help="the file may be hostile or just very large; raise the time limit if genuine",
            )
        raise _exit_error(prefix, code, memory_mb)
    status, value, peak_mb = reply
    if status == "memory":
        worker.kill()
        raise _memory_error(prefix, memory_mb)
    _release(worker, peak_mb)
    if status == "ok":
        return value
    if isinstance(value, BaseException):
        raise value
    # what could not be sent back (an unpicklable result or error): a docframe bug
    raise ConnectorError(f"{prefix}{value}", help="a docframe bug: please report it")


def _receive(conn: Any) -> tuple[str, Any, float] | None:
    """The worker's answer; None when it died before or while writing it."""
    try:
        data = conn.recv_bytes()
    except (EOFError, OSError):
        return None
    try:
        return pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - e.g. an exception class that does not unpickle
        unread = ConnectorError(
            f"worker result could not be read: {exc!r}",
            help="a docframe bug (the reader's result does not unpickle): please report it",
        )
        return ("error", unread, 0.0)


def _memory_error(prefix: str, memory_mb: int | None) -> WorkerMemoryError:
    limit = f"{memory_mb} MB" if memory_mb else "no limit set"
    return WorkerMemoryError(
        f"{prefix}memory limit ({limit}) exceeded",
        help="the file may be a decompression or image bomb; raise the memory limit if genuine",
    )


def _exit_error(prefix: str, code: int | None, memory_mb: int | None) -> IsolationError:
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGKILL:  # nobody but the kernel's OOM killer sends it here
            return _memory_error(prefix, memory_mb)
        return WorkerCrashed(
            f"{prefix}parser crashed (signal {sig})",
            help="the file is probably damaged or hostile",
        )
    return WorkerCrashed(
        f"{prefix}parser exited without a result (exit status {code})",
        help="the file is probably damaged or hostile",
    )


@atexit.register
def _stop_idle_workers() -> None:
    shutdown()


def _get_context(preload: tuple[str, ...]) -> tuple[Any, type]:
    """(multiprocessing context, Process class), decided once per process."""
    global _context
    with _lock:
        if _context is None:
            methods = multiprocessing.get_all_start_methods()
            method = "forkserver" if "forkserver" in methods else "spawn"
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                # only effective if nobody started the fork server yet; harmless otherwise
                ctx.set_forkserver_preload(list(preload))
            cls = _NoMainProcess if method == "forkserver" and _NoMainProcess else ctx.Process
            _context = (ctx, cls)
        return _context


def _define_no_main_process() -> type | None:
    """A Process whose child does not re-import the caller's ``__main__`` module.

    multiprocessing runs the parent's main script again in every forkserver or
    spawn child (as ``__mp_main__``); for the ``docframe`` command that costs
    ~0.3 s of imports per worker. The jobs are functions of real modules, so
    the worker needs nothing from ``__main__``. The launch below is the standard
    library's ``popen_forkserver.Popen._launch`` (identical in 3.11-3.13) minus
    the main-module entries; elsewhere the stock class is used.
    """
    if not ((3, 11) <= sys.version_info[:2] <= (3, 13)):
        return None
    try:
        import io
        from multiprocessing import forkserver, popen_forkserver, reduction, spawn, util
        from multiprocessing.context import ForkServerProcess, set_spawning_popen
    except ImportError:  # no forkserver on this platform
        return None

    class _Popen(popen_forkserver.Popen):
        def _launch(self, process_obj: Any) -> None:
            prep_data = spawn.get_preparation_data(process_obj._name)
            prep_data.pop("init_main_from_path", None)
            prep_data.pop("init_main_from_name", None)
            buf = io.BytesIO()
            set_spawning_popen(self)
            try:
                reduction.dump(prep_data, buf)
                reduction.dump(process_obj, buf)
            finally:
                set_spawning_popen(None)
            self.sentinel, w = forkserver.connect_to_new_process(self._fds)
            _parent_w = os.dup(w)
            self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
            with open(w, "wb", closefd=True) as f:
                f.write(buf.getbuffer())
            self.pid = forkserver.read_signed(self.sentinel)

    class NoMainProcess(ForkServerProcess):
        @staticmethod
        def _Popen(process_obj: Any) -> Any:
            return _Popen(process_obj)

    NoMainProcess.__qualname__ = "_NoMainProcess"  # pickled by reference to this module
    return NoMainProcess


_NoMainProcess = _define_no_main_process()


# ------------------------------------------------------------------ worker side


def _serve(conn: Any, memory_mb: int | None) -> None:
    """The worker: set limits, then run jobs until the parent closes the pipe."""
    try:
        os.setpgrp()
    except OSError:
        pass
    _die_with_parent()
    _silence_output()
    _set_limits(memory_mb)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break
        payload = _run_job(data)
        out_of_memory = payload[0] == "memory"
        try:
            reply = _dumps(payload)
            del payload
            conn.send_bytes(reply)
        except MemoryError:
            _send_quietly(conn, ("memory", None, 0.0))
            break
        except OSError:
            break
        if out_of_memory:
            break  # the parent retires this worker anyway
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)  # skip interpreter teardown


def _run_job(data: bytes) -> tuple[str, Any, float]:
    try:
        job, (sys_path, cwd, env) = pickle.loads(data)
        sys.path[:0] = [p for p in sys_path if p not in sys.path]
        if os.environ != env:
            os.environ.clear()
            os.environ.update(env)
        if os.getcwd() != cwd:
            os.chdir(cwd)
        func, args = pickle.loads(job)
        result = ("ok", func(*args))
    except MemoryError:
        return ("memory", None, 0.0)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
        result = ("error", exc)
    return (result[0], result[1], _peak_mb())


def _peak_mb() -> float:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    except (ImportError, OSError):
        return 0.0


def _dumps(payload: tuple[str, Any, float]) -> bytes:
    try:
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        status, value, peak = payload
        what = "error" if status == "error" else "result"
        detail = repr(value) if status == "error" else f"{type(value).__name__}: {exc}"
        return pickle.dumps(("error", f"worker {what} could not be sent back: {detail}", peak))


def _send_quietly(conn: Any, payload: tuple[str, Any, float]) -> None:
    try:
        conn.send_bytes(pickle.dumps(payload))
    except Exception:  # noqa: BLE001 - the parent reads the exit status instead
        pass


def _silence_output() -> None:
    """Parsers print hints and warnings; the worker answers only through its pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _set_limits(memory_mb: int | None) -> None:
    try:
        import resource
    except ImportError:  # not on this platform: time limit only
        return
    for name, soft in (("RLIMIT_AS", memory_mb * _MB if memory_mb else None), ("RLIMIT_CORE", 0)):
        which = getattr(resource, name, None)
        if which is None or soft is None:
            continue
        try:
            _old_soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when its parent (the fork server) exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
