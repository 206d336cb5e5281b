"""Readers for extract files (CSV, XLSX, JSON, JSON Lines, vCard), streamed as records.

Extracts come from ERPs, spreadsheets and old CRMs: any encoding, any delimiter, broken rows.
A reader never stops at a bad row: it yields it as a record with ``error`` set and the line it
starts on, so the loader quarantines it and the good rows still go in. What makes the whole
file unusable (duplicate column names, an unknown sheet) is a ConfigError.

Memory stays flat whatever the file size: rows are decoded and parsed one at a time. The only
thing that grows is the set of keys seen when ``key_field`` is given (duplicates are errors),
about 100 bytes per key.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .core import Record
from .errors import ConfigError

__all__ = [
    "FORMATS",
    "JSON_ITEM_LIMIT",
    "SAMPLE_SIZE",
    "VCARD_FIELDS",
    "XLSX_GUARD",
    "detect_delimiter",
    "detect_encoding",
    "detect_format",
    "file_headers",
    "read_file",
]

#: Format by file extension.
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
           ".json": "json", ".jsonl": "json", ".ndjson": "json", ".vcf": "vcard"}
#: How much of a file's head decides its encoding and delimiter.
SAMPLE_SIZE = 64 * 1024
#: Largest single item of a JSON array: the array itself may be of any size (it is streamed).
JSON_ITEM_LIMIT = 16 * 1024 * 1024
#: The fields of a vCard record (always all present, empty when the card lacks them).
VCARD_FIELDS = ("UID", "FN", "N.family", "N.given", "N.prefix", "N.suffix", "ORG", "ORG.unit",
                "TITLE", "ROLE", "EMAIL", "EMAIL2", "TEL", "TEL.cell", "TEL.work", "TEL.home",
                "ADR.street", "ADR.code", "ADR.city", "ADR.region", "ADR.country", "URL",
                "NOTE", "BDAY", "CATEGORIES")

#: Called with an XLSX file's path before it is opened; raises ``ValueError`` (its message
#: said to the user) for a workbook not to read: a "zip bomb" of a million rows in 200 KB,
#: whose shared strings would fill the memory and rows take minutes. The integration app
#: installs ``comptoir.core.archives.check_zip_archive`` with the COMPTOIR_IMPORT_MAX_*
#: settings; the engine alone has none.
XLSX_GUARD: Callable[[Path], None] | None = None

_DELIMITERS = ";,\t|"
# Bytes with no character in Windows-1252: a file holding them is Latin-1 (ISO 8859-1).
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
csv.field_size_limit(16 * 1024 * 1024)  # long notes fields exceed csv's 128 KiB default


def detect_format(path: str | os.PathLike[str]) -> str:
    """The reader for a file, by its extension."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        hint = " (save it as .xlsx)" if suffix in (".xls", ".ods") else ""
        raise ConfigError(f"{Path(path).name}: unsupported file type {suffix or '(none)'!r}"
                          f"{hint}; expected one of {', '.join(sorted(FORMATS))}") from None


def _guess_encoding(data: bytes, *, final: bool = True) -> str:
    """UTF-8 when most non-ASCII bytes form valid UTF-8 characters: a UTF-8 file with one
    corrupt row stays UTF-8 (that row becomes an error) instead of turning every accent of
    the file into mojibake; Windows-1252 text almost never forms valid UTF-8 sequences."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final)
    invalid = text.count("\ufffd")
    if not invalid:
        return "utf-8"
    valid = len(text) - len(text.encode("ascii", "ignore")) - invalid
    if valid > invalid:
        return "utf-8"
    return "latin-1" if _CP1252_UNDEFINED.intersection(data) else "cp1252"


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a file from its head: UTF-16 by its BOM, UTF-8 when it decodes (but
    for a few bad bytes), else Windows-1252, or Latin-1 when bytes undefined in Windows-1252
    occur. None when the sample is plain ASCII: then the first line that is not decides.
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.isascii():
        return None
    # The sample may end inside a multi-byte character: not final.
    return _guess_encoding(sample, final=False)


def detect_delimiter(text: str) -> str:
    """``;``, ``,``, tab or ``|``: csv.Sniffer on the head, else the most frequent one in the
    header line (Sniffer needs a few consistent lines; a header alone is enough here)."""
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample cut the last line
    head = "\n".join(lines[:50])
    first = next((line for line in lines if line.strip()), "")
    try:
        sniffed = csv.Sniffer().sniff(head, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and len(next(csv.reader([first], delimiter=sniffed), [])) > 1:
        return sniffed
    outside = re.sub(r'"[^"]*"', "", first)  # delimiters inside quotes do not count
    counts = {d: outside.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"unknown encoding {encoding!r}") from None


class _LineDecoder:
    """Decodes a binary file line by line, so one bad line fails alone (its number is kept in
    ``bad``) instead of the whole file; with no encoding given the first non-ASCII line picks
    one."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = encoding
        self.bad: list[int] = []

    def lines(self, raw_lines: Iterable[bytes]) -> Iterator[str]:
        encoding = self.encoding
        for number, raw in enumerate(raw_lines, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            if encoding is None:
                if raw.isascii():
                    yield raw.decode("ascii")
                    continue
                encoding = self.encoding = _guess_encoding(raw)
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError:
                self.bad.append(number)
                yield raw.decode(encoding, "replace")

    @property
    def reason(self) -> str:
        return f"bytes not valid in {self.encoding or 'utf-8'}"

    def error(self, number: int) -> str:
        return f"line {number}: {self.reason}"


class _Keys:
    """Duplicate-key detection within one file: the second occurrence is an error record."""

    def __init__(self, key_field: str | None, unit: str) -> None:
        self.key_field = key_field
        self.unit = unit
        self.seen: dict[str, int] = {}

    def key(self, data: dict[str, Any], number: int) -> tuple[str, str | None]:
        """(key, error) of a row: its line number when no key field is set."""
        if self.key_field is None:
            return str(number), None
        value = data.get(self.key_field)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a numeric code typed in a spreadsheet
        if isinstance(value, dict | list):
            return str(number), f"the key {self.key_field!r} is not a single value"
        key = "" if value is None else str(value).strip()
        if not key:
            return str(number), f"no key in {self.key_field!r}"
        first = self.seen.setdefault(key, number)
        if first != number:
            return key, f"duplicate key {key}, first seen {self.unit} {first}"
        return key, None


def _header(cells: list[Any], where: str) -> list[str]:
    """Column names: stripped, unique, none empty (trailing empty cells dropped)."""
    names = ["" if c is None else str(int(c) if isinstance(c, float) and c.is_integer()
                                       else c).strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    problems = [f"column {i} has no name" for i, name in enumerate(names, 1) if not name]
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    if problems:
        raise ConfigError(f"{where}: bad header row: " + "; ".join(problems))
    return names


# --------------------------------------------------------------------------------------------
# CSV


def _csv_lines(f: IO[bytes], encoding: str | None, sample: bytes
               ) -> tuple[Iterator[str], _LineDecoder | None]:
    detected = _check_encoding(encoding) if encoding else detect_encoding(sample)
    if detected is not None and detected.startswith(("utf-16", "utf-32")):
        # Not ASCII-compatible: bytes lines cannot be split; decode the stream as a whole.
        text = io.TextIOWrapper(f, encoding=detected, newline="")
        return iter(text), None
    decoder = _LineDecoder(detected)
    if b"\r" in sample and b"\n" not in sample:  # old Mac line ends
        return decoder.lines(_cr_lines(f)), decoder
    return decoder.lines(f), decoder


def _cr_lines(f: IO[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in iter(lambda: f.read(1024 * 1024), b""):
        parts = (rest + chunk).split(b"\r")
        rest = parts.pop()
        for part in parts:
            yield part + b"\r"
    if rest:
        yield rest


def _csv_records(path: Path, encoding: str | None, delimiter: str | None,
                 key_field: str | None, start_after: int, headers_only: bool = False,
                 ) -> Iterator[Record]:
    with path.open("rb") as f:
        sample = f.read(SAMPLE_SIZE)
        f.seek(0)
        lines, decoder = _csv_lines(f, encoding, sample)
        if delimiter is None:
            if path.suffix.lower() == ".tsv":
                delimiter = "\t"
            else:
                enc = (decoder.encoding if decoder else "utf-16") or "utf-8"
                delimiter = detect_delimiter(sample.decode(enc, "replace").lstrip("\ufeff"))
        reader = csv.reader(lines, delimiter=delimiter)
        bad = decoder.bad if decoder is not None else []
        header: list[str] = []
        ncols = 0
        key_index = -1
        seen: dict[str, int] = {}
        end = 0  # physical line where the last row read ends
        while True:
            try:
                for row in reader:
                    start, end = end + 1, reader.line_num
                    error = None
                    if bad and bad[0] <= end:
                        error = decoder.error(bad[0]) if decoder else ""
                        del bad[:sum(1 for n in bad if n <= end)]
                        if not header:
                            raise ConfigError(f"{path.name}: {error} (header row)")
                    elif not any(row):
                        continue
                    elif not header:
                        if not any(cell.strip() for cell in row):
                            continue
                        header = _header(row, path.name)
                        ncols = len(header)
                        if key_field is not None:
                            if key_field not in header:
                                raise ConfigError(
                                    f"{path.name}: key field {key_field!r} is not a column "
                                    f"(columns: {', '.join(header)})")
                            key_index = header.index(key_field)
                        if headers_only:
                            yield Record("", dict.fromkeys(header))
                            return
                        continue
                    elif len(row) != ncols:
                        if len(row) > ncols and not any(c.strip() for c in row[ncols:]):
                            del row[ncols:]  # trailing empty cells ("a;b;;")
                        else:
                            error = (f"line {start}: {len(row)} fields, expected {ncols} "
                                     f"({delimiter.join(header)})")
                    if error is not None:
                        if start > start_after:
                            yield Record(str(start), {"_raw": delimiter.join(row)}, str(start),
                                         position=f"line {start}", error=error)
                        continue
                    if key_index < 0:
                        if start > start_after:
                            yield Record(str(start), dict(zip(header, row, strict=False)),
                                         str(start), position=f"line {start}")
                        continue
                    # Keys of rows before start_after are still recorded, for duplicates.
                    key = row[key_index].strip()
                    if not key:
                        key, error = str(start), f"line {start}: no key in {key_field!r}"
                    else:
                        first = seen.setdefault(key, start)
                        if first != start:
                            error = f"line {start}: duplicate key {key}, first seen line {first}"
                    if start > start_after:
                        yield Record(key, dict(zip(header, row, strict=False)), str(start),
                                     position=f"line {start}", error=error)
                return
            except csv.Error as exc:  # e.g. a field over the size limit: this row only
                start, end = end + 1, reader.line_num
                if not header:
                    raise ConfigError(f"{path.name}: line {start}: {exc}") from None
                if start > start_after:
                    yield Record(str(start), {}, str(start), position=f"line {start}",
                                 error=f"line {start}: {exc}")
            except UnicodeDecodeError as exc:  # UTF-16 files are decoded as a whole
                raise ConfigError(f"{path.name}: near line {end + 1}: {exc}") from None


# --------------------------------------------------------------------------------------------
# XLSX


def _xlsx_records(path: Path, sheet: str | None, key_field: str | None,
                  start_after: int, headers_only: bool = False) -> Iterator[Record]:
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if XLSX_GUARD is not None:
        try:
            XLSX_GUARD(path)
        except ValueError as exc:
            raise ConfigError(f"{path.name}: {exc}") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ConfigError(f"{path.name}: not a readable XLSX file ({exc})") from None
    try:
        if sheet is None:
            ws = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            ws = workbook[sheet]
        else:
            raise ConfigError(f"{path.name}: no sheet {sheet!r} (sheets: "
                              f"{', '.join(workbook.sheetnames)})")
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # trust the rows, not the (often wrong) declared size
        where = f"sheet {ws.title}"
        header: list[str] | None = None
        ncols = 0
        keys = _Keys(key_field, "row")
        for number, values in enumerate(ws.iter_rows(values_only=True), 1):
            if not any(v is not None and v != "" for v in values):
                continue  # empty rows, trailing ones included
            if header is None:
                header = _header(list(values), f"{path.name}, {where}")
                ncols = len(header)
                if key_field is not None and key_field not in header:
                    raise ConfigError(f"{path.name}, {where}: key field {key_field!r} is not a "
                                      f"column (columns: {', '.join(header)})")
                if headers_only:
                    yield Record("", dict.fromkeys(header))
                    return
                continue
            position = f"{where}, row {number}"
            cells = list(values)
            if len(cells) > ncols:
                if any(v is not None and v != "" for v in cells[ncols:]):
                    if number > start_after:
                        yield Record(str(number), {"_raw": cells}, str(number),
                                     position=position,
                                     error=f"{position}: values beyond the last named column")
                    continue
                cells = cells[:ncols]
            elif len(cells) < ncols:
                cells += [None] * (ncols - len(cells))
            data = dict(zip(header, cells, strict=True))
            key, error = keys.key(data, number)
            if number > start_after:
                yield Record(key, data, str(number), position=position,
                             error=f"{position}: {error}" if error else None)
    finally:
        workbook.close()


# --------------------------------------------------------------------------------------------
# JSON and JSON Lines


def _json_item(obj: Any, number: int, position: str, keys: _Keys) -> Record:
    if not isinstance(obj, dict):
        kind = {list: "a list", str: "a text", type(None): "null", bool: "a boolean"}.get(
            type(obj), "a number")
        return Record(str(number), {"_raw": obj}, str(number), position=position,
                      error=f"{position}: expected an object, got {kind}")
    key, error = keys.key(obj, number)
    return Record(key, obj, str(number), position=position,
                  error=f"{position}: {error}" if error else None)


def _jsonl_records(f: IO[bytes], key_field: str | None, start_after: int) -> Iterator[Record]:
    keys = _Keys(key_field, "line")
    decoder = _LineDecoder("utf-8")
    for number, line in enumerate(decoder.lines(f), 1):
        if decoder.bad and decoder.bad[-1] == number:
            if number > start_after:
                yield Record(str(number), {"_raw": line}, str(number),
                             position=f"line {number}", error=decoder.error(number))
            continue
        if not line.strip():
            continue
        position = f"line {number}"
        line = line.rstrip("\r\n")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if number > start_after:
                yield Record(str(number), {"_raw": line}, str(number),
                             position=position, error=f"{position}: invalid JSON ({exc.msg}, "
                                                      f"column {exc.colno})")
            continue
        record = _json_item(obj, number, position, keys)
        if number > start_after:
            yield record


def _json_array_records(f: IO[bytes], name: str, key_field: str | None,
                        start_after: int) -> Iterator[Record]:
    """A top-level array, streamed: items are decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    text_decoder = codecs.getincrementaldecoder("utf-8-sig")()
    chunk_size = 1024 * 1024
    buffer = ""
    pos = 0
    line = 1  # line of buffer[pos]
    eof = False
    keys = _Keys(key_field, "item")

    def fill() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        data = f.read(chunk_size)
        try:
            text = text_decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{name}: near line {line}: bytes not valid in utf-8 "
                              f"({exc.reason})") from None
        eof = not data
        buffer = buffer[pos:] + text
        pos = 0
        return bool(data)

    def skip_space() -> None:
        nonlocal pos, line
        while True:
            end = len(buffer)
            while pos < end and buffer[pos] in " \t\r\n":
                if buffer[pos] == "\n":
                    line += 1
                pos += 1
            if pos < end or not fill():
                return

    fill()
    skip_space()
    if buffer[pos:pos + 1] != "[":
        raise ConfigError(f"{name}: expected a JSON array of objects or JSON Lines")
    pos += 1
    number = 0
    while True:
        skip_space()
        if buffer[pos:pos + 1] == "]":
            return
        if number:
            if buffer[pos:pos + 1] != ",":
                raise ConfigError(f"{name}: line {line}: expected ',' or ']' after item "
                                  f"{number}")
            pos += 1
            skip_space()
        start_line = line
        while True:
            try:
                obj, end = decoder.raw_decode(buffer, pos)
                if end < len(buffer) or eof:
                    break
            except json.JSONDecodeError as exc:
                if eof or len(buffer) - pos > JSON_ITEM_LIMIT:
                    raise ConfigError(f"{name}: invalid JSON in item {number + 1} (line "
                                      f"{start_line + exc.doc.count(chr(10), pos, exc.pos)}:"
                                      f" {exc.msg})") from None
            fill()
        number += 1
        line += buffer.count("\n", pos, end)
        pos = end
        record = _json_item(obj, number, f"item {number} (line {start_line})", keys)
        if number > start_after:
            yield record


def _json_records(path: Path, key_field: str | None, start_after: int) -> Iterator[Record]:
    with path.open("rb") as f:
        head = f.read(SAMPLE_SIZE).lstrip(codecs.BOM_UTF8).lstrip()
        f.seek(0)
        first_line = head.split(b"\n", 1)[0].rstrip()
        if head.startswith(b"["):
            yield from _json_array_records(f, path.name, key_field, start_after)
        elif not head or first_line.endswith(b"}"):
            yield from _jsonl_records(f, key_field, start_after)
        else:
            raise ConfigError(f"{path.name}: expected a JSON array of objects or JSON Lines")


# --------------------------------------------------------------------------------------------
# vCard


def _vcard_blocks(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line of BEGIN, text) of each card: cards are split here, so one broken card is one
    error record and the file is never held in memory."""
    block: list[str] = []
    start = 0
    for number, line in enumerate(lines, 1):
        upper = line.strip().upper()
        if upper == "BEGIN:VCARD":
            if block:
                yield start, "".join(block)  # missing END: let the parser say so
            block, start = [line], number
        elif block:
            block.append(line)
            if upper == "END:VCARD":
                yield start, "".join(block)
                block = []
    if block:
        yield start, "".join(block)


def _card_types(item: Any) -> set[str]:
    types = {t.upper() for t in item.params.get("TYPE", [])}
    return types | {t.upper() for t in getattr(item, "singletonparams", [])}


def _vcard_data(card: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict.fromkeys(VCARD_FIELDS)
    contents = card.contents

    def first(name: str) -> Any:
        items = contents.get(name.lower())
        return items[0].value if items else None

    for name in ("UID", "FN", "TITLE", "ROLE", "URL", "NOTE", "BDAY"):
        value = first(name)
        data[name] = value.strip() if isinstance(value, str) else value
    name = first("N")
    if name is not None:
        for part in ("family", "given", "prefix", "suffix"):
            value = getattr(name, part, "")
            data[f"N.{part}"] = " ".join(value) if isinstance(value, list) else value
    org = first("ORG")
    if org:
        units = org if isinstance(org, list) else [org]
        data["ORG"] = units[0]
        data["ORG.unit"] = " / ".join(u for u in units[1:] if u) or None
    categories = first("CATEGORIES")
    if categories:
        data["CATEGORIES"] = ", ".join(categories) if isinstance(categories, list) \
            else categories
    emails = sorted(contents.get("email", []), key=lambda e: "PREF" not in _card_types(e))
    if emails:
        data["EMAIL"] = emails[0].value
        data["EMAIL2"] = emails[1].value if len(emails) > 1 else None
    phones = contents.get("tel", [])
    for phone in sorted(phones, key=lambda e: "PREF" not in _card_types(e)):
        types = _card_types(phone)
        slot = ("TEL.cell" if types & {"CELL", "MOBILE"} else "TEL.work" if "WORK" in types
                else "TEL.home" if "HOME" in types else None)
        if slot and data[slot] is None:
            data[slot] = phone.value
        if data["TEL"] is None and "CELL" not in types:
            data["TEL"] = phone.value
    if data["TEL"] is None and phones:
        data["TEL"] = phones[0].value
    addresses = sorted(contents.get("adr", []), key=lambda e: ("PREF" not in _card_types(e),
                                                               "WORK" not in _card_types(e)))
    if addresses:
        adr = addresses[0].value
        for part, field in (("street", "ADR.street"), ("code", "ADR.code"),
                            ("city", "ADR.city"), ("region", "ADR.region"),
                            ("country", "ADR.country")):
            value = getattr(adr, part, "")
            data[field] = (" ".join(value) if isinstance(value, list) else value) or None
    return data


def _vcard_records(path: Path, encoding: str | None, key_field: str | None,
                   start_after: int) -> Iterator[Record]:
    import vobject

    keys = _Keys(key_field, "card")
    with path.open("rb") as f:
        sample = f.read(SAMPLE_SIZE)
        f.seek(0)
        decoder = _LineDecoder(_check_encoding(encoding) if encoding
                               else detect_encoding(sample))
        for number, (line, text) in enumerate(_vcard_blocks(decoder.lines(f)), 1):
            if number <= start_after:
                decoder.bad.clear()
                continue
            position = f"card {number} (line {line})"
            if decoder.bad:
                decoder.bad.clear()
                yield Record(str(number), {"_raw": text}, str(number), position=position,
                             error=f"{position}: {decoder.reason}")
                continue
            try:
                card = vobject.readOne(text, allowQP=True)
                data = _vcard_data(card)
            except Exception as exc:  # vobject raises many kinds on malformed input
                yield Record(str(number), {"_raw": text}, str(number), position=position,
                             error=f"{position}: unreadable vCard ({exc})")
                continue
            key, error = keys.key(data, number)
            yield Record(key, data, str(number), position=position,
                         error=f"{position}: {error}" if error else None)


# --------------------------------------------------------------------------------------------
# Entry points


def read_file(path: str | os.PathLike[str], *, format: str | None = None,
              encoding: str | None = None, delimiter: str | None = None,
              sheet: str | None = None, key_field: str | None = None,
              start_after_line: int = 0) -> Iterator[Record]:
    """The records of an extract file, streamed.

    ``Record.cursor`` is the row's number (CSV/JSON Lines line, XLSX row, JSON item, vCard
    card), the one ``start_after_line`` takes to resume; ``Record.key`` is the ``key_field``
    value, else that number. Bad rows come as records with ``error`` set.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt not in ("csv", "xlsx", "json", "vcard"):
        raise ConfigError(f"unknown file format {fmt!r} (csv, xlsx, json or vcard)")
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    if delimiter is not None and len(delimiter) != 1:
        delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower())
        if delimiter is None:
            raise ConfigError("the delimiter must be one character (or 'tab')")
    start = int(start_after_line or 0)
    if fmt == "csv":
        return _csv_records(path, encoding, delimiter, key_field, start)
    if fmt == "xlsx":
        return _xlsx_records(path, sheet, key_field, start)
    if fmt == "vcard":
        return _vcard_records(path, encoding, key_field, start)
    return _json_records(path, key_field, start)


def file_headers(path: str | os.PathLike[str], *, format: str | None = None,
                 encoding: str | None = None, delimiter: str | None = None,
                 sheet: str | None = None) -> list[str]:
    """The column names of a file, to check a mapping against it or propose one before
    reading any row (JSON: the keys of the first object)."""
    fmt = format or detect_format(path)
    if fmt == "vcard":
        return list(VCARD_FIELDS)
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such file")
    records: Iterator[Record]
    if fmt == "csv":
        records = _csv_records(Path(path), encoding, delimiter, None, 0, headers_only=True)
    elif fmt == "xlsx":
        records = _xlsx_records(Path(path), sheet, None, 0, headers_only=True)
    else:
        records = read_file(path, format=fmt)
    try:
        for record in records:
            if record.error is None:
                return list(record.data)
        return []
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()
