"""Kernel-enforced "no writes" for a worker process, with Linux Landlock.

The agent sandbox hands DuckDB no file path it may write, but a guarantee that
rests on one engine's configuration is only as good as that engine's next bug.
Landlock (Linux 5.13+) lets an unprivileged process, root included, give up
rights for good: after :func:`deny_writes`, the kernel refuses every attempt of
this process (and of any child it starts) to create, write, truncate, rename or
delete a file anywhere, whatever the file modes say. Reads are left alone (the
worker must read the lake's Parquet files and its own libraries). Where the
kernel supports it (Landlock ABI 4+), outgoing and listening TCP is denied too.

Files already open keep working (the worker's pipe to its parent), and
``/dev/null`` stays writable so libraries that print somewhere still can.

Only ctypes and the three Landlock system calls: no dependency. On kernels or
systems without Landlock, :func:`deny_writes` says why and changes nothing, and
``docframe doctor`` shows which protection is in force.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# system call numbers: the same on every Linux architecture that has Landlock
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# LANDLOCK_ACCESS_FS_* (include/uapi/linux/landlock.h)
WRITE_FILE = 1 << 1
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2: link or rename a file into another directory
TRUNCATE = 1 << 14  # ABI 3
_WRITES_V1 = (
    WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK
    | MAKE_FIFO | MAKE_BLOCK | MAKE_SYM
)  # fmt: skip
# LANDLOCK_ACCESS_NET_* (ABI 4)
_NET_BIND_TCP = 1 << 0
_NET_CONNECT_TCP = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_STATE: dict[str, object] = {}  # in this process: what deny_writes did


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is absent or disabled."""
    if sys.platform != "linux" or platform.machine() not in _SUPPORTED_MACHINES:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


_SUPPORTED_MACHINES = ("x86_64", "aarch64", "arm64", "riscv64", "s390x", "ppc64le")


def deny_writes(*, deny_tcp: bool = True) -> str | None:
    """From now on this process (and its children) cannot write any file, nor
    (``deny_tcp``, ABI 4+) open TCP connections or listen. Returns None when in
    force, else the reason it could not be (no Landlock here). Idempotent."""
    if "result" in _STATE:
        return _STATE["result"]  # type: ignore[return-value]
    result = _restrict(deny_tcp)
    _STATE["result"] = result
    return result


def status() -> str:
    """One line for ``docframe doctor``: what a sandbox worker gets on this machine."""
    abi = abi_version()
    if abi == 0:
        return "unavailable (needs Linux 5.13+ with Landlock enabled); DuckDB's own limits only"
    net = ", TCP denied" if abi >= 4 else ""
    return f"Landlock ABI {abi}: SQL workers cannot write files{net}"


def _restrict(deny_tcp: bool) -> str | None:
    abi = abi_version()
    if abi == 0:
        return "Landlock is not available on this kernel"
    libc = ctypes.CDLL(None, use_errno=True)
    handled = _WRITES_V1 | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(handled_access_fs=handled, handled_access_net=0)
    size = ctypes.sizeof(ctypes.c_uint64)
    if deny_tcp and abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = ctypes.sizeof(_RulesetAttr)
    fd = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        return f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}"
    try:
        # the one exception: /dev/null stays writable (writes there go nowhere)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        try:
            rule = _PathBeneathAttr(
                allowed_access=WRITE_FILE | (TRUNCATE if abi >= 3 else 0), parent_fd=null
            )
            if libc.syscall(_ADD_RULE, fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
                return f"landlock_add_rule failed: {os.strerror(ctypes.get_errno())}"
        finally:
            os.close(null)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}"
        if libc.syscall(_RESTRICT_SELF, fd, 0) != 0:
            return f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}"
    finally:
        os.close(fd)
    return None
