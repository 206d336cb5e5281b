"""An in-memory sync source for tests: each stream yields the rows a test put in a dict.

Tests that only need "these rows arrive from the ERP" register one with
:func:`memory_connector` instead of writing a connector each; the rows are read when the sync
runs, so a test changes them between runs.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any, ClassVar

from .engine.core import Connector, Record, Stream, register

Rows = MutableMapping[str, list[dict[str, Any]]]


class MemoryStream(Stream):
    def __init__(self, source: Rows, name: str) -> None:
        self.source = source
        self.name = name

    def read(self, cursor: str | None) -> Iterator[Record]:
        for i, row in enumerate(self.source.get(self.name, []), start=1):
            yield Record(key=str(row["id"]), data=row, cursor=str(i), position=f"row {i}")


def memory_connector(name: str, source: Rows, streams: Sequence[str] = ("customers",)
                     ) -> type[Connector]:
    """Register (under ``name``) a connector whose ``streams`` read their rows in ``source``."""

    class MemoryConnector(Connector):
        label = f"In-memory source ({name})"
        parameters: ClassVar[dict[str, Any]] = {}

        def streams(self) -> dict[str, Stream]:
            return {stream: MemoryStream(source, stream) for stream in streams}

    MemoryConnector.name = name
    register(MemoryConnector)
    return MemoryConnector
