"""The ``push`` connector: the other system sends its changes to Comptoir's push API.

Nothing is pulled: a run of a push connection reads nothing. The streams are the names the
ERP-side plugin uses in its requests (``parties``, ``invoices``…), declared by the mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from comptoir.integration.engine.core import Connector, Parameter, Record, Stream, register


class PushStream(Stream):
    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, cursor: str | None) -> Iterator[Record]:
        return iter(())


class _AnyStreams(dict[str, Stream]):
    """Every stream name is offered: the mapping decides which ones exist."""

    def __missing__(self, name: str) -> Stream:
        stream = self[name] = PushStream(name)
        return stream

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)


@register
class PushConnector(Connector):
    name = "push"
    label = "Push API (an ERP plugin sends its changes)"
    parameters: ClassVar[dict[str, Parameter]] = {
        "max_age_seconds": Parameter("Accepted clock skew (s)", required=False, default=300,
                                     kind="int",
                                     help="Requests signed longer ago than this are refused."),
    }

    def streams(self) -> dict[str, Stream]:
        return _AnyStreams()
