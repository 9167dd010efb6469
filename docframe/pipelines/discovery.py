"""Finding the inputs of an ingest: files, folders, globs, and their fingerprints.

A partitioned Parquet folder counts as one input. Fingerprints (size, mtime)
make the unchanged check cheap; the content hash settles it.

**Symbolic links.** A path named on the command line is followed (as ``find -H``
does): the user chose it. A link met while walking a folder is not followed
unless ``follow_symlinks`` is set, because a link can lead anywhere (outside the
folder the user meant, or back into it); it is skipped and *reported*, never
dropped silently. Followed folders are walked once each (by real path), so a
link back to an ancestor ends instead of looping.

**Allowed roots.** The agent's ingest tool may only read under the folders the
operator allowed. Checking the paths it names is not enough: a link inside an
allowed folder may point anywhere. With ``allowed_roots``, every file and folder
found is resolved to its real path and refused (a problem naming it) when that
lies outside; the rest of the batch goes on.

**Include and exclude patterns** (an ingest job's ``include``/``exclude``, ``--include``
and ``--exclude``) choose among the files found, so one spec can name a whole folder
and keep only what it wants. A pattern without ``/`` is matched (``fnmatch``) against
the file's name and the name of each folder between it and the source it was found
under (as ``.gitignore`` does), one with ``/`` against its path relative to that source
(a walked folder; a glob's fixed leading folders; a named file's own folder) and each
folder on that path. Exclude wins. A file left out is *reported* (``excluded``), not
dropped silently, and is not a failure; it is not pruned either while it exists:
pruning removes only inputs that are gone.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path, PurePath

from docframe.connectors.parquet import is_partitioned_dataset

GLOB_CHARS = set("*?[")


@dataclass
class Discovered:
    """What an ingest's arguments name: the inputs to read, and why others are not read."""

    files: list[tuple[Path, bool]] = field(default_factory=list)  # (input, named explicitly)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (input, message): failed
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, message): left out
    # (input, message): found but left out by an include/exclude pattern; neither read nor pruned
    excluded: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Patterns:
    """An ingest's ``include`` and ``exclude`` patterns (see the module notes)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def left_out(self, path: Path, base: Path) -> str | None:
        """Why ``path``, found under ``base``, is not an input; None when it is."""
        if not (self.include or self.exclude):
            return None
        rel = path.relative_to(base) if path.is_relative_to(base) else PurePath(path.name)
        hit = next((p for p in self.exclude if _matches(p, rel)), None)
        if hit is not None:
            return f"excluded by pattern {hit!r}"
        if self.include and not any(_matches(p, rel) for p in self.include):
            return f"matches no include pattern ({', '.join(map(repr, self.include))})"
        return None


def _matches(pattern: str, rel: PurePath) -> bool:
    """``pattern`` against a relative path: a bare name against each part, a pattern with
    ``/`` against the path and each folder above it (so ``drafts/**`` and ``drafts`` both
    take what is under drafts/); a leading ``**/`` may also match no folder at all."""
    pattern = pattern.strip("/")
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in rel.parts)
    heads = ["/".join(rel.parts[:n]) for n in range(len(rel.parts), 0, -1)]
    forms = (pattern, pattern[3:]) if pattern.startswith("**/") else (pattern,)
    return any(fnmatch.fnmatchcase(head, form) for head in heads for form in forms)


def discover(
    args: list[str],
    lake_root: Path,
    *,
    follow_symlinks: bool = False,
    allowed_roots: Sequence[Path] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Discovered:
    """Expand files, folders and globs into inputs (see the module notes on links and
    patterns).

    ``allowed_roots`` are real (resolved) folders; None allows everything.
    """
    walk = _Walker(
        lake_root, follow_symlinks, allowed_roots, Patterns(tuple(include), tuple(exclude))
    )
    for arg in args:
        if GLOB_CHARS & set(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            if not matches:
                walk.out.problems.append((arg, f"{arg}: no files match this pattern"))
            fixed = takewhile(lambda part: not GLOB_CHARS & set(part), Path(arg).parts)
            walk.base = Path(*fixed).absolute()
            for m in matches:
                if (m.is_file() or is_partitioned_dataset(m)) and walk.allowed(m):
                    walk.take(m.absolute(), True, replace=False)
            continue
        path = Path(arg).expanduser()
        walk.base = path.absolute().parent
        if path.is_file() or is_partitioned_dataset(path):
            if walk.allowed(path):
                walk.take(path.absolute(), True)
        elif path.is_dir():
            if walk.allowed(path):
                walk.base = path.absolute()
                walk.walk(path)
        elif path.is_symlink():
            walk.out.problems.append((arg, f"{arg}: broken symbolic link; its target is missing"))
        elif path.exists():
            walk.out.problems.append(
                (arg, f"{arg}: not a regular file or folder (a pipe or device?); name a file")
            )
        else:
            walk.out.problems.append((arg, f"{arg}: no such file or directory; check the path"))
    walk.out.files = sorted(walk.found.items())
    left_out = walk.left_out.items()  # a file another source takes is not left out
    walk.out.excluded = sorted(
        (str(p), f"{p}: {why}") for p, why in left_out if p not in walk.found
    )
    return walk.out


class _Walker:
    """One discovery's state: what was found, which real folders were walked."""

    def __init__(
        self,
        lake_root: Path,
        follow: bool,
        allowed_roots: Sequence[Path] | None,
        patterns: Patterns = Patterns(),
    ) -> None:
        self.lake_root = lake_root.absolute()
        self.lake_real = self.lake_root.resolve()
        self.follow = follow
        self.roots = None if allowed_roots is None else [Path(r) for r in allowed_roots]
        self.patterns = patterns
        self.base = Path.cwd()  # the folder of the source being expanded: patterns match below
        self.found: dict[Path, bool] = {}
        self.left_out: dict[Path, str] = {}  # file -> the pattern that left it out
        self.walked: set[Path] = set()  # real paths of the folders walked
        self.out = Discovered()

    def take(self, path: Path, named: bool, *, replace: bool = True) -> None:
        """``path`` is an input unless a pattern leaves it out (then it is listed instead);
        a path named on the command line stays named (``replace``: even if walked first)."""
        why = self.patterns.left_out(path, self.base)
        if why is not None:
            self.left_out.setdefault(path, why)
        elif named and replace:
            self.found[path] = True
        else:
            self.found.setdefault(path, named)

    def _inside(self, real: Path) -> bool:
        return self.roots is None or any(real.is_relative_to(root) for root in self.roots)

    def allowed(self, path: Path) -> bool:
        """True when ``path`` (and, for a dataset folder, every file in it) stays inside."""
        if self.roots is None:
            return True
        escape = path if not self._inside(_real(path)) else None
        if escape is None and is_partitioned_dataset(path):  # read whole: check its files
            escape = self._escape_in(path)
        if escape is None:
            return True
        self.out.problems.append(
            (
                str(path),
                f"{escape}: refused: it leads outside the allowed folders (a symbolic link); "
                "only files under the folders given to --allow-ingest can be ingested",
            )
        )
        return False

    def _escape_in(self, top: Path) -> Path | None:
        """The first thing under a folder read whole (a dataset) that resolves outside."""
        seen: set[Path] = set()
        for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
            here = Path(dirpath)
            real = _real(here)
            if not self._inside(real):
                return here
            if real in seen:
                dirnames[:] = []
                continue
            seen.add(real)
            for name in filenames:
                if not self._inside(_real(here / name)):
                    return here / name
        return None

    def walk(self, top: Path) -> None:
        """Add every visible file under ``top`` (a folder), iteratively."""
        real = _real(top)
        if real in self.walked:
            return
        self.walked.add(real)
        stack = [top.absolute()]
        while stack:
            here = stack.pop()
            try:
                with os.scandir(here) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self.out.problems.append(
                    (str(here), f"{here}: cannot list this folder: {exc.strerror}")
                )
                continue
            for entry in entries:
                if not entry.name.startswith("."):  # hidden files and folders stay out
                    self._entry(entry, here / entry.name, stack)

    def _entry(self, entry: os.DirEntry, path: Path, stack: list[Path]) -> None:
        link = entry.is_symlink()
        if link and not self.follow:
            self._skip(path, "a symbolic link, not followed (pass --follow-symlinks to read it)")
            return
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()  # both follow links
        except OSError as exc:
            self._skip(path, f"cannot read: {exc.strerror}")
            return
        if not (is_dir or is_file):
            why = "not a regular file (a pipe, socket or device)"
            self._skip(path, "broken symbolic link; its target is missing" if link else why)
            return
        real = _real(path) if link or self.roots is not None else path
        if path.is_relative_to(self.lake_root) or real.is_relative_to(self.lake_real):
            return  # never the lake itself
        if not self._inside(real):
            self.allowed(path)  # records the refusal
        elif is_file:
            self.take(path, False)
        elif is_partitioned_dataset(path):
            if self.allowed(path):
                self.take(path, False)
        elif (real := _real(path)) not in self.walked:
            self.walked.add(real)
            stack.append(path)
        elif link:  # a loop back to an ancestor, or a second link to one folder
            self._skip(path, "a symbolic link to a folder already walked (a loop?)")

    def _skip(self, path: Path, why: str) -> None:
        self.out.skipped.append((str(path), f"{path}: {why}"))


def _real(path: Path) -> Path:
    """The real path (links resolved); a link loop resolves as far as it can."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return path.absolute()


def fingerprint(path: Path) -> tuple[int, float]:
    """(size, mtime) of a file, or totals over a dataset folder's files."""
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return sum(s.st_size for s in stats), max((s.st_mtime for s in stats), default=0.0)


def hash_source(path: Path) -> str:
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
