"""The ``files`` connector: extract files dropped in an inbox folder (or one fixed file).

Files are read oldest first (modification time, then name). The cursor names the current file
by name *and* content hash with the last row done, so a run stopped mid-file resumes at the
next row, and a file replaced by a new version under the same name is read again. Once a
file's last row is committed it moves to the archive folder: what is left in the inbox is what
is still to do.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comptoir.integration.engine.core import Connector, Parameter, Record, Stream, register
from comptoir.integration.engine.errors import ConfigError
from comptoir.integration.engine.files import read_file

DEFAULT_PATTERN = "*.csv,*.tsv,*.txt,*.xlsx,*.json,*.jsonl,*.ndjson,*.vcf"


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "oui")
    return bool(value)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class FileCursor:
    """Where a stream stands: a file (name + content hash), its last row done, and whether
    that row was its last one."""

    name: str
    sha256: str
    line: int
    done: bool = False

    def encode(self) -> str:
        return json.dumps([self.name, self.sha256, self.line, self.done],
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str | None) -> FileCursor | None:
        """None for no cursor, or one this connector did not write (the inbox is then read
        from its first file: what is in it is by definition not archived, so not done)."""
        if not cursor:
            return None
        try:
            name, digest, line, done = json.loads(cursor)
            return cls(str(name), str(digest), int(line), bool(done))
        except (ValueError, TypeError):
            return None


@dataclass
class _ReadFile:
    path: Path
    sha256: str
    errors: bool = False
    rows: int = 0
    archived: bool = False


class FilesStream(Stream):
    """The rows of every file of the inbox, one file after the other."""

    def __init__(self, connector: FilesConnector, name: str) -> None:
        self.connector = connector
        self.name = name
        self._read: list[_ReadFile] = []  # files fully read by the current read(), in order
        self._exhausted = False

    def files(self) -> list[Path]:
        """The files to read, in reading order."""
        path = self.connector.path
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
        if path.is_file():
            return [path]
        patterns = self.connector.patterns
        found = [p for p in path.iterdir() if p.is_file()
                 and not p.name.startswith((".", "~$"))  # hidden files, Excel lock files
                 and any(fnmatch.fnmatch(p.name.lower(), pat.lower()) for pat in patterns)]
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def read(self, cursor: str | None) -> Iterator[Record]:
        at = FileCursor.decode(cursor)
        self._read = []
        self._exhausted = False
        params = self.connector.params
        for path in self.files():
            digest = _sha256(path)
            start = 0
            if at is not None and at.name == path.name and at.sha256 == digest:
                if at.done:  # committed, but not archived (the run stopped just then)
                    self._archive(_ReadFile(path, digest))
                    continue
                start = at.line
            state = _ReadFile(path, digest)
            previous: Record | None = None
            # The cursor's JSON is the same but for the line: encode the head once per file.
            head = FileCursor(path.name, digest, 0).encode().rsplit(",", 2)[0]
            label = f"{path.name}, "
            for record in read_file(path, encoding=params["encoding"] or None,
                                    delimiter=params["delimiter"] or None,
                                    sheet=params["sheet"] or None,
                                    key_field=params["key_field"] or None,
                                    start_after_line=start):
                record.cursor = f"{head},{int(record.cursor or 0)},false]"
                record.position = label + record.position
                state.errors = state.errors or record.error is not None
                state.rows += 1
                if previous is not None:
                    yield previous
                previous = record
            self._read.append(state)
            if previous is None:
                # Nothing left to load (an empty file): no commit will come to archive it.
                self._archive(state)
                continue
            last = FileCursor.decode(previous.cursor)
            assert last is not None
            previous.cursor = FileCursor(last.name, last.sha256, last.line, True).encode()
            yield previous
        self._exhausted = True

    def committed(self, cursor: str | None) -> None:
        """Archive the files whose last row is now committed: those read before the cursor's
        file, and that file when the cursor is its last row."""
        at = FileCursor.decode(cursor)
        if at is None:
            return
        for state in self._read:
            if state.path.name == at.name and state.sha256 == at.sha256:
                if at.done:
                    self._archive(state)
                return
            self._archive(state)

    def existing_keys(self) -> Iterable[str] | None:
        """With ``complete`` files, the keys of the last file this run read to its end. None
        when it cannot tell for sure: a delta extract, nothing read, a run that stopped early,
        or a last file that had unreadable rows or none at all (a truncated or failed export
        must not delete everything)."""
        if not self.connector.complete or not self._exhausted or not self._read:
            return None
        last = self._read[-1]
        if last.errors or not last.rows:
            return None
        params = self.connector.params
        keys: set[str] = set()
        for record in read_file(last.path, encoding=params["encoding"] or None,
                                delimiter=params["delimiter"] or None,
                                sheet=params["sheet"] or None, key_field=params["key_field"]):
            if record.error is not None:
                return None
            keys.add(record.key)
        return keys

    def _archive(self, state: _ReadFile) -> None:
        folder = self.connector.archive
        if folder is None or state.archived:
            return
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / state.path.name
        if target.exists():
            stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
            target = folder / f"{state.path.stem}-{stamp}{state.path.suffix}"
            n = 1
            while target.exists():
                n += 1
                target = folder / f"{state.path.stem}-{stamp}-{n}{state.path.suffix}"
        shutil.move(state.path, target)
        state.path = target
        state.archived = True


@register
class FilesConnector(Connector):
    """Extract files: CSV (any encoding and delimiter), XLSX, JSON / JSON Lines, vCard."""

    name = "files"
    label = "Files (CSV, XLSX, JSON)"
    parameters = {
        "path": Parameter("File or inbox folder", kind="path",
                          help="A folder: every matching file is read, oldest first, then "
                               "archived. A file: read again whenever its content changes."),
        "pattern": Parameter("File name patterns", required=False, default=DEFAULT_PATTERN,
                             help="Comma-separated patterns of the files to read in a folder."),
        "stream": Parameter("Stream name", required=False, default="rows",
                            help="The stream the mapping names for these files."),
        "key_field": Parameter("Key column", required=False,
                               help="The column holding each row's id in the other system; "
                                    "without it rows are keyed by line number."),
        "encoding": Parameter("Encoding", required=False,
                              help="Detected when empty (UTF-8, Windows-1252 or Latin-1)."),
        "delimiter": Parameter("Delimiter", required=False,
                               help="Detected when empty (; , tab or |)."),
        "sheet": Parameter("Sheet", required=False, help="XLSX: the first sheet when empty."),
        "archive": Parameter("Archive folder", required=False, kind="path",
                             help="Where read files go; default: 'archive' in the inbox. A "
                                  "single file is left in place unless this is set."),
        "complete": Parameter("Complete extracts", required=False, default=False, kind="bool",
                              help="Each file holds every row: rows missing from the last one "
                                   "are deletions. Needs a key column."),
    }

    def __init__(self, params: Mapping[str, Any]) -> None:
        super().__init__(params)
        self.path = Path(str(self.params["path"])).expanduser()
        self.patterns = [p.strip() for p in str(self.params["pattern"] or DEFAULT_PATTERN)
                         .split(",") if p.strip()]
        self.complete = _flag(self.params["complete"])
        if self.complete and not self.params["key_field"]:
            raise ConfigError(f"{self.label}: complete extracts need a key column "
                              "(parameter 'key_field') to tell which rows disappeared")
        archive = self.params["archive"]
        if archive:
            self.archive: Path | None = Path(str(archive)).expanduser()
        elif self.path.suffix and not self.path.is_dir():
            self.archive = None  # a fixed file, overwritten by each export
        else:
            self.archive = self.path / "archive"

    def check(self) -> None:
        if not self.path.exists():
            raise ConfigError(f"{self.path}: no such file or folder")
        if self.archive is not None and self.archive.exists() and not self.archive.is_dir():
            raise ConfigError(f"{self.archive}: the archive is not a folder")

    def streams(self) -> dict[str, Stream]:
        name = str(self.params["stream"] or "rows")
        return {name: FilesStream(self, name)}
