"""One kind of cache for everything kept per pinned snapshot.

Defining a snapshot's relations in DuckDB, loading its indexes or materialising its
hit rows costs more than most queries, so each process keeps a few of them. They
are keyed the same way everywhere (:meth:`SnapshotCache.key`): the lake's path, the
snapshot number and when that snapshot was committed, so a lake deleted and made
again at the same path never gets another lake's entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from docframe.lake.snapshot import Snapshot

V = TypeVar("V")


class SnapshotCache(Generic[V]):
    """A thread-safe LRU of at most ``size`` values; ``close`` is called on an evicted
    value (a DuckDB connection, say) once nobody can get it any more."""

    def __init__(self, size: int, close: Callable[[V], None] | None = None) -> None:
        self.size = size
        self._close = close
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._guard = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    @staticmethod
    def key(snapshot: Snapshot, *extra: Hashable) -> tuple:
        """What tells this snapshot from every other, here and in other lakes."""
        return (str(snapshot.root), snapshot.snapshot_id, snapshot.committed_at(), *extra)

    def get(self, key: Hashable) -> V | None:
        with self._guard:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> V:
        evicted = []
        with self._guard:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                evicted.append(self._items.popitem(last=False)[1])
        if self._close is not None:
            for old in evicted:
                self._close(old)
        return value

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The cached value, or ``make()``'s, made by one thread while the others wait."""
        found = self.get(key)
        if found is not None:
            return found
        with self._guard:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            found = self.get(key)
            if found is None:
                found = self.put(key, make())
            with self._guard:
                self._making.pop(key, None)
            return found

    def discard(self, matches: Callable[[Hashable], bool]) -> None:
        """Forget (and close) every entry whose key ``matches``."""
        with self._guard:
            gone = [key for key in self._items if matches(key)]
            values = [self._items.pop(key) for key in gone]
        if self._close is not None:
            for value in values:
                self._close(value)

    def clear(self) -> None:
        with self._guard:
            values = list(self._items.values())
            self._items.clear()
        if self._close is not None:
            for value in values:
                self._close(value)
