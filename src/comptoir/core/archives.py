"""Zip archives (XLSX workbooks) checked before they are opened: no "zip bomb".

A workbook of a million identical rows packs into 200 KB and unpacks to tens of MB of XML,
which a reader then takes minutes and gigabytes to go through. :func:`check_zip_archive` reads
only the zip's directory and refuses an archive unpacking too far, in all or for its ratio.
Plain Python (no Django): the pre-import audit calls it, and the sync's file reader through
the hook the integration app installs (``engine.files.XLSX_GUARD``).
"""

from __future__ import annotations

import os
import zipfile
from typing import IO

#: Members unpacking to less than this are never refused for their ratio (small XML parts
#: compress very well and cost nothing).
RATIO_FLOOR = 1024 * 1024


class ArchiveTooLarge(ValueError):
    """An archive that would unpack too far. ``kind`` is ``"ratio"`` (``member`` is packed
    more than ``limit`` times) or ``"size"`` (the members unpack to more than ``limit``
    bytes in all); the message is for logs, callers word their own."""

    def __init__(self, message: str, *, kind: str, member: str, size: int, limit: int) -> None:
        super().__init__(message)
        self.kind, self.member, self.size, self.limit = kind, member, size, limit


def check_zip_archive(source: str | os.PathLike[str] | IO[bytes], *, max_bytes: int,
                      max_ratio: int) -> None:
    """Raise :class:`ArchiveTooLarge` when the members of ``source`` unpack to more than
    ``max_bytes`` in all, or one of them to more than ``max_ratio`` times its packed size.

    Reads the directory only: the sizes it declares are the most Python's zip reader unpacks
    (it stops there), so they bound what a reader can be made to parse. Not a zip at all: the
    caller's reader says so.
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        total = 0
        for info in archive.infolist():
            total += info.file_size
            packed = max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * packed:
                raise ArchiveTooLarge(
                    f"{info.filename} is compressed {info.file_size // packed} times (at most "
                    f"{max_ratio}): a possible zip bomb", kind="ratio", member=info.filename,
                    size=info.file_size, limit=max_ratio)
            if total > max_bytes:
                raise ArchiveTooLarge(
                    f"the archive unpacks to more than {max_bytes:,} bytes", kind="size",
                    member=info.filename, size=total, limit=max_bytes)
