"""Protocols of the engine: what a connector produces and what the loader consumes.

A **connector** (one class per kind of system) is built from its parameters and exposes
**streams**; a stream yields **records** in cursor order from a cursor value it was given. The
cursor is an opaque string owned by the stream (a ``write_date|id`` pair, a file's name and
hash, a row number…): the loader stores the cursor of the last record of each batch in the same
transaction as the batch, and hands it back on the next run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ConfigError


@dataclass(slots=True)
class Record:
    """One record read from the other system.

    ``key`` is its primary key there (becomes the ExternalRef's external id); ``cursor`` the
    stream's position *after* this record; ``deleted`` marks a tombstone (``data`` may be empty);
    ``position`` says where it came from for messages ("line 12"); ``error`` is set when the
    reader could not read the row at all (wrong column count, undecodable bytes): such a record
    is quarantined as it is, never dropped.
    """

    key: str
    data: dict[str, Any]
    cursor: str | None = None
    deleted: bool = False
    position: str = ""
    error: str | None = None


class Stream(ABC):
    """One kind of record of a source (parties, invoices, the rows of one file…)."""

    name: str = ""
    # Common start of this stream's keys, when several streams of one source feed the same
    # CRM object (Tryton sales and invoices both become sales documents): a deletion pass
    # then only looks at the references this stream made.
    key_prefix: str = ""

    @abstractmethod
    def read(self, cursor: str | None) -> Iterator[Record]:
        """Records after ``cursor`` (all of them when None), in cursor order, streamed."""

    def committed(self, cursor: str | None) -> None:  # noqa: B027  (optional hook)
        """Called after a batch ending at ``cursor`` is committed (archive a finished file…)."""

    def existing_keys(self) -> Iterable[str] | None:
        """Every key that exists at the source now, to turn the missing ones into tombstones;
        None when the stream cannot tell (a delta extract)."""
        return None


@dataclass(frozen=True)
class Parameter:
    """A connection parameter, described so the CLI, the API and the UI can ask for it."""

    label: str
    required: bool = True
    default: Any = None
    kind: str = "str"  # str | int | bool | path | url | secret
    help: str = ""


class Connector(ABC):
    """A kind of system Comptoir can sync with. Subclasses register with ``@register``."""

    name: ClassVar[str]
    label: ClassVar[str]
    parameters: ClassVar[dict[str, Parameter]] = {}
    sensitive_parameters: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = self.validate_parameters(params)

    @classmethod
    def validate_parameters(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in; a missing required or unknown parameter is a ConfigError."""
        problems = [f"unknown parameter {name!r}" for name in params if name not in
                    cls.parameters]
        out: dict[str, Any] = {}
        for name, spec in cls.parameters.items():
            value = params.get(name, spec.default)
            if spec.required and value in (None, ""):
                problems.append(f"parameter {name!r} ({spec.label}) is required")
            out[name] = value
        if problems:
            raise ConfigError(f"{cls.label}: " + "; ".join(problems))
        return out

    def public_parameters(self) -> dict[str, Any]:
        """The parameters with every secret masked: the only form shown or logged."""
        return {k: ("********" if k in self.sensitive_parameters and v else v)
                for k, v in self.params.items()}

    def check(self) -> None:  # noqa: B027  (optional hook)
        """Raise a SyncError when the other system cannot be reached or refuses us."""

    @abstractmethod
    def streams(self) -> dict[str, Stream]:
        """The streams this connection offers, by name."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release what the streams opened (sessions, files)."""

    def stats(self) -> dict[str, float]:
        """Figures on the other system's side of the run (e.g. ``calls`` and the ``seconds``
        spent waiting for it), kept on the run so its own overhead shows; cheap, any time."""
        return {}


_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Class decorator: make a connector available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"Two connectors named {cls.name!r}.")
    _REGISTRY[cls.name] = cls
    return cls


def connector_class(name: str) -> type[Connector]:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"Unknown connector {name!r} (known: {known}).") from None


def connectors() -> dict[str, type[Connector]]:
    return dict(_REGISTRY)


@dataclass
class Batch:
    """Records of one stream applied and committed together with ``cursor``."""

    stream: str
    records: list[Record] = field(default_factory=list)

    @property
    def cursor(self) -> str | None:
        for record in reversed(self.records):
            if record.cursor is not None:
                return record.cursor
        return None


def batched(records: Iterable[Record], size: int, stream: str) -> Iterator[Batch]:
    """Cut a stream into batches of ``size`` records, lazily (memory stays flat)."""
    batch = Batch(stream)
    for record in records:
        batch.records.append(record)
        if len(batch.records) >= size:
            yield batch
            batch = Batch(stream)
    if batch.records:
        yield batch
