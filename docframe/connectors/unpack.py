"""Compressed input, opened safely: gzip and zstd streams, ZIP archives and their members.

**Addressing a member.** A file inside a ZIP archive is named ``ARCHIVE!/MEMBER``
(``/data/flights.csv.zip!/flights.csv``), as Java's ``jar:`` URLs and Apache VFS do.
That string is the member's ``source_uri`` in the lake and the path connectors are given
to read it: :func:`docframe.connectors.sources.open_source` streams the member out of the
archive, so a zipped CSV or JSON is read like a gzipped one, never unpacked whole. Formats
that need a real file (PDF, media, Parquet, Excel, SQLite) are copied, one member at a
time, into a temporary folder (:func:`unpacked`) and removed when read.

**Limits** (a hostile or absurd input fails in one line naming it, before the disk or
memory fills):

- at most :data:`MAX_MEMBERS` entries in an archive;
- no member name that is absolute, climbs out with ``..``, or appears twice;
- at most :data:`MAX_UNPACKED` bytes out of one archive or compressed file, declared
  (checked before reading) and counted (checked while reading: headers can lie);
- past the first :data:`RATIO_GRACE` bytes, at most :data:`MAX_RATIO` bytes out per
  compressed byte — the zip bomb's signature (deflate bombs reach about 1000x,
  ``42.zip``'s layers and overlapping-entry bombs thousands to millions).
"""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from docframe.errors import ConnectorError

MAX_MEMBERS = 10_000
MAX_UNPACKED = 64 << 30
MAX_RATIO = 200
RATIO_GRACE = 64 << 20
SEPARATOR = "!/"
COMPRESSED = {".gz": "gzip", ".zst": "zstd"}  # single-file compression: suffix -> codec
# suffixes of archives and compressed files: not opened inside an archive (no nesting)
NESTED = (".zip", ".gz", ".tgz", ".zst", ".bz2", ".xz", ".tar", ".7z", ".rar")
BOMB_HELP = (
    "a decompression bomb, or a file larger than docframe unpacks; if you trust it, "
    "unpack it yourself and ingest what it holds"
)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.0f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


class Bounded(io.RawIOBase):
    """A decompressing stream that stops, with one line naming ``label``, once it has
    given more than :data:`MAX_UNPACKED` bytes, or past :data:`RATIO_GRACE` more than
    :data:`MAX_RATIO` times the ``packed`` bytes it came from."""

    def __init__(self, raw: IO[bytes], label: str, packed: int) -> None:
        super().__init__()
        self.raw, self.label, self.packed, self.out = raw, label, max(packed, 1), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self.raw.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error) as exc:  # a bad CRC, a damaged stream
            raise ConnectorError(
                f"{self.label}: damaged: {exc}".splitlines()[0],
                help="the archive is damaged; get a good copy",
            ) from None
        n = len(data)
        buffer[:n] = data
        self.out += n
        if self.out > MAX_UNPACKED:
            raise ConnectorError(
                f"{self.label}: unpacks to more than {_size(MAX_UNPACKED)}: refused",
                help=BOMB_HELP,
            )
        if self.out > RATIO_GRACE and self.out > MAX_RATIO * self.packed:
            raise ConnectorError(
                f"{self.label}: unpacks to more than {MAX_RATIO} times its compressed size "
                f"({_size(self.packed)}): refused",
                help=BOMB_HELP,
            )
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


def bounded(raw: IO[bytes], label: str, packed: int) -> IO[bytes]:
    """``raw`` (a decompressing stream) behind :class:`Bounded`, buffered."""
    return io.BufferedReader(Bounded(raw, label, packed), buffer_size=1 << 20)


def codec_of(path: Path) -> str | None:
    """``gzip`` or ``zstd`` when the name ends in ``.gz`` / ``.zst``, else None."""
    return COMPRESSED.get(Path(path.name.lower()).suffix)


def open_compressed(path: Path) -> IO[bytes]:
    """The decompressed bytes of a ``.gz`` or ``.zst`` file, bounded (module notes).
    gzip by the standard library (its errors are known: ``BadGzipFile``), zstd by
    pyarrow's codec (the ``zstandard`` package is not a dependency)."""
    codec = codec_of(path)
    packed = path.stat().st_size
    if codec == "gzip":
        import gzip

        return bounded(gzip.open(path, "rb"), str(path), packed)
    import pyarrow as pa

    return bounded(pa.CompressedInputStream(pa.OSFile(str(path)), "zstd"), str(path), packed)


def split_member(path: Path) -> tuple[Path, str] | None:
    """``(archive, member)`` for a path ``ARCHIVE!/MEMBER`` whose archive is a file, or
    None (a real file of that name always wins: the caller checks it first)."""
    text = str(path)
    start = 0
    while (at := text.find(SEPARATOR, start)) >= 0:
        archive = Path(text[:at])
        if archive.is_file():
            return archive, text[at + len(SEPARATOR) :]
        start = at + 1
    return None


def member_path(archive: Path, member: str) -> Path:
    """The path that names ``member`` of ``archive`` (see the module notes)."""
    return Path(f"{archive}{SEPARATOR}{member}")


@dataclass(frozen=True)
class Member:
    """One file in an archive: its name (``/``-separated), sizes as the archive says."""

    name: str
    size: int
    packed: int

    @property
    def suffix(self) -> str:
        """The lower-case suffix, compound for compression (``.csv.gz``)."""
        return "".join(PurePosixPath(self.name.lower()).suffixes[-2:])


@dataclass
class Listing:
    """What an archive holds: the members to consider, and what was left out and why."""

    members: list[Member] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # notes: encrypted, links...


def _bad_zip(path: Path, exc: BaseException) -> ConnectorError:
    return ConnectorError(
        f"{path}: not a readable ZIP archive: {exc}".splitlines()[0],
        help="check the file; it may be cut short, damaged, or of another type",
    )


_held = threading.local()  # str(archive) -> its open ZipFile, while ``reading`` it


def _open_zip(path: Path) -> tuple[zipfile.ZipFile, bool]:
    """(the archive, whether the caller must close it): the one :func:`reading` holds
    in this thread, or a new one."""
    held = getattr(_held, "zips", {}).get(str(path))
    if held is not None:
        return held, False
    try:
        return zipfile.ZipFile(path), True
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _bad_zip(path, exc) from None


@contextmanager
def reading(archive: Path) -> Iterator[None]:
    """Within, this thread lists and opens ``archive``'s members from one parsed central
    directory: parsing a 10,000-entry directory takes ~30 ms, so once per archive rather
    than once per member (which would be minutes)."""
    zips = _held.__dict__.setdefault("zips", {})
    key = str(archive)
    if key in zips:
        yield
        return
    zf, _ = _open_zip(archive)
    zips[key] = zf
    try:
        yield
    finally:
        zips.pop(key, None)
        zf.close()  # members still open keep the file open until they are closed


def list_zip(path: Path) -> Listing:
    """The members of the ZIP archive ``path``, checked against the limits (module notes).

    Folders, hidden files (``.DS_Store``; any part of the name starting with ``.``) and
    macOS's ``__MACOSX/`` resource forks are passed over, as a folder walk passes over
    hidden files; encrypted members and symbolic links are left out with a note."""
    zf, owned = _open_zip(path)
    try:
        infos = zf.infolist()
    finally:
        if owned:
            zf.close()
    if len(infos) > MAX_MEMBERS:
        raise ConnectorError(
            f"{path}: {len(infos):,} entries, more than the {MAX_MEMBERS:,} docframe reads "
            "from one archive: refused",
            help="unpack it yourself and ingest the folder",
        )
    out = Listing()
    seen: set[str] = set()
    declared = 0
    encrypted, links = [], []
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
            raise ConnectorError(
                f"{path}: member {info.filename!r} would land outside the archive's folder "
                "(an absolute path or '..'): refused",
                help="a hostile or broken archive; docframe reads none of it",
            )
        if name in seen:
            raise ConnectorError(
                f"{path}: member {info.filename!r} appears twice: refused",
                help="a hostile or broken archive; docframe reads none of it",
            )
        seen.add(name)
        declared += info.file_size
        if info.is_dir() or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            links.append(name)
        elif info.flag_bits & 0x1:
            encrypted.append(name)
        else:
            out.members.append(Member(name, info.file_size, info.compress_size))
    packed = path.stat().st_size
    if declared > MAX_UNPACKED or (declared > RATIO_GRACE and declared > MAX_RATIO * packed):
        raise ConnectorError(
            f"{path}: its members unpack to {_size(declared)} from {_size(packed)}: refused",
            help=BOMB_HELP,
        )
    if encrypted:
        out.left_out.append(f"not read: {_few(encrypted)} (encrypted)")
    if links:
        out.left_out.append(f"not read: {_few(links)} (symbolic links)")
    return out


def _few(names: list[str], most: int = 5) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def open_member(archive: Path, name: str) -> IO[bytes]:
    """The bytes of member ``name``, streamed out of the archive and bounded."""
    label = str(member_path(archive, name))
    zf, owned = _open_zip(archive)
    try:
        info = zf.getinfo(name)
        raw = zf.open(info)  # keeps the archive's file open until it is closed
    except KeyError:
        raise ConnectorError(
            f"{label}: no such member in the archive", help="list it with: unzip -l ARCHIVE"
        ) from None
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:  # encrypted...
        raise ConnectorError(f"{label}: cannot read: {exc}", help="unpack it yourself") from None
    finally:
        if owned:
            zf.close()
    return bounded(raw, label, info.compress_size)


def scratch() -> tempfile.TemporaryDirectory:
    """A temporary folder for :func:`unpacked` copies, removed on leaving."""
    return tempfile.TemporaryDirectory(prefix="docframe-unpack-")


@contextmanager
def unpacked(
    opener: Callable[[], IO[bytes]], name: str, label: str, folder: str | None = None
) -> Iterator[Path]:
    """A temporary file named ``name`` (its last part) holding what ``opener`` gives,
    removed on leaving; for readers that need a real file (PDF, media, Parquet).

    ``folder``: a :func:`scratch` folder to write it in, when copies come one after
    another (an archive's members): one folder per archive, not one per member (making
    and removing a folder costs milliseconds on some filesystems)."""
    with scratch() if folder is None else nullcontext(folder) as tmp:
        dest = Path(tmp) / PurePosixPath(name).name
        try:
            try:
                with opener() as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (OSError, EOFError, zipfile.BadZipFile) as exc:  # BadGzipFile: OSError
                raise ConnectorError(
                    f"{label}: cannot unpack: {exc}".splitlines()[0],
                    help="check the file is not damaged, and that the temporary folder "
                    "(TMPDIR) has room for it",
                ) from None
            yield dest
        finally:
            dest.unlink(missing_ok=True)


def relabel(exc: ConnectorError, temporary: Path, label: str) -> ConnectorError:
    """``exc`` (raised reading the temporary copy) naming ``label`` instead of the copy."""
    old = str(temporary)
    help_ = exc.help.replace(old, label) if exc.help else exc.help
    return type(exc)(exc.message.replace(old, label), help=help_)
