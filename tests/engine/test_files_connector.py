"""The files connector: inbox order, resume mid-file, archive after commit, complete extracts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from comptoir.integration.connectors.files import FileCursor, FilesConnector, FilesStream
from comptoir.integration.engine.core import Record, batched, connector_class
from comptoir.integration.engine.errors import ConfigError


def drop(folder: Path, name: str, text: str, mtime: int, encoding: str = "utf-8") -> Path:
    """A file arriving in the inbox at ``mtime`` (seconds since the epoch)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    os.utime(path, (mtime, mtime))
    return path


def stream_of(**params: Any) -> FilesStream:
    connector = FilesConnector(params)
    (stream,) = connector.streams().values()
    assert isinstance(stream, FilesStream)
    return stream


def keys(records: list[Record]) -> list[str]:
    return [r.key for r in records]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    drop(folder, "b.csv", "Code;Nom\nB1;Bœuf\nB2;Garçon\n", 1_000)
    drop(folder, "a.csv", "Code;Nom\nA1;Société\nA2;Œuvre\nA3;Café\n", 2_000, "cp1252")
    drop(folder, "c.json", '[{"Code": "C1", "Nom": "Zoë"}]', 2_000)
    drop(folder, "notes.md", "not an extract", 500)
    drop(folder, "~$a.xlsx", "an Excel lock file", 500)
    return folder


def test_registered_with_its_parameters() -> None:
    assert connector_class("files") is FilesConnector
    assert FilesConnector.label == "Files (CSV, XLSX, JSON)"
    assert set(FilesConnector.parameters) == {"path", "pattern", "stream", "key_field",
                                              "encoding", "delimiter", "sheet", "archive",
                                              "complete"}
    with pytest.raises(ConfigError, match=r"parameter 'path' .* is required"):
        FilesConnector({})
    with pytest.raises(ConfigError, match="unknown parameter 'folder'"):
        FilesConnector({"path": "x", "folder": "y"})
    with pytest.raises(ConfigError, match="complete extracts need a key column"):
        FilesConnector({"path": "x", "complete": True})


def test_reads_the_inbox_oldest_first(inbox: Path) -> None:
    stream = stream_of(path=str(inbox), key_field="Code")
    assert stream.name == "rows"
    assert [p.name for p in stream.files()] == ["b.csv", "a.csv", "c.json"]
    records = list(stream.read(None))
    assert keys(records) == ["B1", "B2", "A1", "A2", "A3", "C1"]
    assert [r.data["Nom"] for r in records] == ["Bœuf", "Garçon", "Société", "Œuvre", "Café",
                                                "Zoë"]
    assert records[0].position == "b.csv, line 2"
    assert records[-1].position == "c.json, item 1 (line 1)"
    # Reading archives nothing: only commits do.
    assert sorted(p.name for p in inbox.iterdir()) == ["a.csv", "b.csv", "c.json",
                                                       "notes.md", "~$a.xlsx"]


def test_cursor_names_the_file_its_hash_and_line(inbox: Path) -> None:
    records = list(stream_of(path=str(inbox), key_field="Code").read(None))
    cursors = [FileCursor.decode(r.cursor) for r in records]
    assert [(c.name, c.line, c.done) for c in cursors if c] == [
        ("b.csv", 2, False), ("b.csv", 3, True), ("a.csv", 2, False), ("a.csv", 3, False),
        ("a.csv", 4, True), ("c.json", 1, True)]
    assert cursors[0] is not None
    assert len(cursors[0].sha256) == 64
    assert FileCursor.decode("garbage") is None
    assert FileCursor.decode(None) is None


def test_resume_mid_file(inbox: Path) -> None:
    first = stream_of(path=str(inbox), key_field="Code")
    records = list(first.read(None))
    cursor = records[3].cursor  # A2 committed, then the run stopped
    again = list(stream_of(path=str(inbox), key_field="Code").read(cursor))
    # b.csv was never archived (no commit reached it): it is read again; a.csv resumes at A3.
    assert keys(again) == ["B1", "B2", "A3", "C1"]


def test_a_changed_file_is_read_again_from_its_start(inbox: Path) -> None:
    records = list(stream_of(path=str(inbox), key_field="Code").read(None))
    cursor = records[3].cursor
    drop(inbox, "a.csv", "Code;Nom\nA1;Société\nA2;Œuvre\nA3;Café\nA4;Nouveau\n", 2_000, "cp1252")
    again = list(stream_of(path=str(inbox), key_field="Code").read(cursor))
    assert keys(again) == ["B1", "B2", "A1", "A2", "A3", "A4", "C1"]


def test_commits_archive_finished_files(inbox: Path) -> None:
    stream = stream_of(path=str(inbox), key_field="Code")
    archive = inbox / "archive"
    batches = list(batched(stream.read(None), 3, "rows"))
    assert [keys(b.records) for b in batches] == [["B1", "B2", "A1"], ["A2", "A3", "C1"]]
    stream.committed(batches[0].cursor)  # b.csv is behind the cursor: done
    assert sorted(p.name for p in archive.iterdir()) == ["b.csv"]
    stream.committed(batches[1].cursor)  # the cursor is c.json's last row
    assert sorted(p.name for p in archive.iterdir()) == ["a.csv", "b.csv", "c.json"]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["notes.md", "~$a.xlsx"]
    # Nothing left to read; the committed cursor is of a file now gone.
    assert list(stream_of(path=str(inbox)).read(batches[1].cursor)) == []


def test_committed_while_reading_lazily(inbox: Path) -> None:
    """As the loader does it: commit each batch while the generator is still running."""
    stream = stream_of(path=str(inbox), key_field="Code")
    seen = []
    for batch in batched(stream.read(None), 2, "rows"):
        seen += keys(batch.records)
        stream.committed(batch.cursor)
    assert seen == ["B1", "B2", "A1", "A2", "A3", "C1"]
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == ["a.csv", "b.csv", "c.json"]


def test_archive_name_clash_gets_a_timestamp(inbox: Path, tmp_path: Path) -> None:
    archive = tmp_path / "done"
    drop(archive, "b.csv", "old", 1)
    stream = stream_of(path=str(inbox), archive=str(archive), pattern="b.csv")
    records = list(stream.read(None))
    stream.committed(records[-1].cursor)
    names = sorted(p.name for p in archive.iterdir())
    assert len(names) == 2
    assert names[1] == "b.csv"
    assert names[0].startswith("b-")
    assert (archive / "b.csv").read_text() == "old"


def test_a_done_file_left_in_the_inbox_is_archived_not_read_again(inbox: Path) -> None:
    records = list(stream_of(path=str(inbox), key_field="Code").read(None))
    done_b = records[1].cursor  # committed, but the run died before archiving
    again = list(stream_of(path=str(inbox), key_field="Code").read(done_b))
    assert keys(again) == ["A1", "A2", "A3", "C1"]
    assert [p.name for p in (inbox / "archive").iterdir()] == ["b.csv"]


def test_empty_inbox_and_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert list(stream_of(path=str(empty)).read(None)) == []
    drop(empty, "header-only.csv", "Code;Nom\n", 1)
    stream = stream_of(path=str(empty))
    assert list(stream.read(None)) == []
    # No commit will ever come for it: it is archived at once.
    assert [p.name for p in (empty / "archive").iterdir()] == ["header-only.csv"]


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    connector = FilesConnector({"path": str(missing)})
    with pytest.raises(ConfigError, match=f"{missing}: no such file or folder"):
        connector.check()
    with pytest.raises(ConfigError, match="no such file or folder"):
        list(connector.streams()["rows"].read(None))


def test_single_file_is_read_when_it_changes(tmp_path: Path) -> None:
    path = drop(tmp_path, "export.csv", "Code;Nom\nX1;a\nX2;b\n", 1)
    stream = stream_of(path=str(path), key_field="Code", stream="clients")
    assert stream.name == "clients"
    records = list(stream.read(None))
    stream.committed(records[-1].cursor)
    assert path.exists()  # a fixed file is not archived unless asked
    assert list(stream_of(path=str(path)).read(records[-1].cursor)) == []
    drop(tmp_path, "export.csv", "Code;Nom\nX1;a\nX2;b\nX3;c\n", 2)
    assert keys(list(stream_of(path=str(path), key_field="Code").read(
        records[-1].cursor))) == ["X1", "X2", "X3"]


def test_parameters_reach_the_reader(tmp_path: Path) -> None:
    drop(tmp_path / "in", "a.txt", "Code|Nom\n1|Café\n", 1, "latin-1")
    stream = stream_of(path=str(tmp_path / "in"), pattern="*.txt", delimiter="|",
                       encoding="latin-1")
    assert [r.data for r in stream.read(None)] == [{"Code": "1", "Nom": "Café"}]


def test_complete_extracts_give_existing_keys(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "monday.csv", "Code;Nom\nK1;a\nK2;b\nK3;c\n", 1)
    drop(inbox, "tuesday.csv", "Code;Nom\nK1;a\nK3;c\nK4;d\n", 2)
    stream = stream_of(path=str(inbox), key_field="Code", complete="true")
    assert stream.existing_keys() is None  # nothing read yet
    for batch in batched(stream.read(None), 2, "rows"):
        stream.committed(batch.cursor)
    # The last extract is the truth (even once archived): K2 is gone.
    assert stream.existing_keys() == {"K1", "K3", "K4"}
    assert not (inbox / "tuesday.csv").exists()


def test_existing_keys_only_when_sure(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "a.csv", "Code;Nom\nK1;a\nK2\n", 1)  # a broken row: K2 may or may not exist
    stream = stream_of(path=str(inbox), key_field="Code", complete=True)
    list(stream.read(None))
    assert stream.existing_keys() is None
    delta = stream_of(path=str(inbox), key_field="Code")
    list(delta.read(None))
    assert delta.existing_keys() is None  # not complete: a delta extract
    partial = stream_of(path=str(inbox), key_field="Code", complete=True)
    next(iter(partial.read(None)))  # a run that stopped early
    assert partial.existing_keys() is None


def test_xlsx_in_the_inbox(tmp_path: Path) -> None:
    import openpyxl

    inbox = tmp_path / "in"
    inbox.mkdir()
    workbook = openpyxl.Workbook()
    workbook.active.title = "Clients"
    workbook.active.append(["Code", "Nom"])
    workbook.active.append(["X1", "Lefèvre"])
    workbook.save(inbox / "clients.xlsx")
    records = list(stream_of(path=str(inbox), key_field="Code", sheet="Clients").read(None))
    assert [(r.key, r.position) for r in records] == [("X1", "clients.xlsx, sheet Clients, row 2")]
