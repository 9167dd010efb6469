"""A real Dask cluster started the way a user starts one: the ``dask scheduler`` and
``dask worker`` commands, each in its own process group, logs in a folder.

For the Dask ingest tests and ``benchmarks/ingest_scale.py``. Workers import docframe
from ``repo`` (the tree under test, put first on their ``PYTHONPATH``), never download
(``HF_HUB_OFFLINE=1``) and start without ``DOCFRAME_*`` settings unless given. Whatever
was started is killed by :meth:`ExternalCluster.close` (a ``with`` block does it), the
whole process group of each command, so a nanny's worker goes too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


def dask_command(*args: str) -> list[str]:
    """``dask scheduler ...`` / ``dask worker ...`` from this interpreter's environment."""
    cli = Path(sys.executable).with_name("dask")
    if cli.exists():
        return [str(cli), *args]
    return [sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]]


def cluster_env(repo: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a scheduler or worker: docframe from ``repo``, offline."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for var in [v for v in env if v.startswith("DOCFRAME_")]:  # not whoever started it's
        env.pop(var, None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH")) if p)
    env.update(extra or {})
    return env


class ExternalCluster:
    """A scheduler and workers started with the distributed CLI on this host."""

    def __init__(self, folder: Path, repo: Path) -> None:
        self.folder = folder
        self.repo = repo
        self.address: str | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, IO[bytes]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ExternalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str] | None,
        prefix: Sequence[str] = (),
    ) -> subprocess.Popen:
        log = self._logs[name] = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*prefix, *dask_command(*args)], env=cluster_env(self.repo, env), cwd=self.folder,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: close() kills what it starts
        )  # fmt: skip
        self.procs[name] = proc
        return proc

    def log(self, name: str, tail: int = 4000) -> str:
        """The last ``tail`` characters a process wrote (stdout and stderr)."""
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def start_scheduler(self, env: Mapping[str, str] | None = None, timeout: float = 60) -> str:
        """Start ``dask scheduler`` on a free port of 127.0.0.1; returns its address."""
        info = self.folder / "scheduler.json"
        args = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                "--scheduler-file", str(info)]  # fmt: skip
        proc = self._spawn("scheduler", args, env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"dask scheduler exited ({proc.returncode}):\n{self.log('scheduler')}"
                )
            try:
                self.address = json.loads(info.read_text())["address"]
                return self.address
            except (OSError, ValueError, KeyError):  # not written yet, or half written
                time.sleep(0.1)
        raise RuntimeError(
            f"dask scheduler gave no address in {timeout} s:\n{self.log('scheduler')}"
        )

    def add_worker(
        self,
        name: str,
        *,
        nanny: bool = True,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> subprocess.Popen:
        """Start ``dask worker ADDRESS --nthreads 1`` (``prefix``: a command it runs under)."""
        if self.address is None:
            raise RuntimeError("start the scheduler first")
        args = ["worker", self.address, "--nthreads", "1", "--name", name, "--no-dashboard",
                "--local-directory", str(self.folder / name)]  # fmt: skip
        if not nanny:
            args.append("--no-nanny")
        return self._spawn(name, args, env, prefix)

    def wait_for_workers(self, n: int, timeout: float = 120) -> list[str]:
        """Wait until ``n`` workers are connected; returns their addresses."""
        import distributed

        try:
            with distributed.Client(self.address, timeout=30) as client:
                client.wait_for_workers(n, timeout=timeout)
                return sorted(client.scheduler_info(n_workers=-1)["workers"])
        except TimeoutError:
            logs = "\n".join(f"--- {name}\n{self.log(name)}" for name in self.procs)
            raise RuntimeError(
                f"{n} Dask worker(s) did not connect in {timeout} s:\n{logs}"
            ) from None

    def addresses(self) -> dict[str, str]:
        """Each connected worker's address by the name it was started with."""
        import distributed

        with distributed.Client(self.address, timeout=30) as client:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        return {str(info["name"]): address for address, info in workers.items()}

    def close(self) -> None:
        """Kill every process group started here (scheduler, nannies and their workers)."""
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # gone already (a worker's kill -9)
                pass
            proc.wait()
        for log in self._logs.values():
            log.close()
        self.procs.clear()
        self._logs.clear()
