"""Produce in a forked process, consume here: Python work overlaps database work on two cores.

Bulk jobs (the demo loader, the search index rebuild) build rows in pure Python and write them
with the database; running the producer in a child lets both cores work. The child inherits the
prepared state by ``fork`` and leaves with ``os._exit`` (multiprocessing's default), so the
parent's database connection is never closed by it.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from queue import Empty
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def produced_in_fork(produce: Callable[[], Iterator[T]], *, name: str, depth: int = 1
                     ) -> Iterator[T]:
    """Run ``produce`` in a forked child and yield its items, at most ``depth`` ahead.

    A failure in the child is raised here with its traceback; a child that dies is noticed
    within five seconds.
    """
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=depth)

    def target() -> None:
        try:
            for item in produce():
                queue.put(("item", item))
            queue.put(("done", None))
        except BaseException:
            queue.put(("error", traceback.format_exc()))

    process = context.Process(target=target, name=name, daemon=True)
    process.start()
    try:
        while True:
            try:
                kind, item = queue.get(timeout=5)
            except Empty:
                if not process.is_alive():
                    raise RuntimeError(f"The {name} process died (exit code "
                                       f"{process.exitcode}).") from None
                continue
            if kind == "done":
                break
            if kind == "error":
                raise RuntimeError(f"The {name} process failed:\n{item}")
            yield item
        process.join()
    finally:
        if process.is_alive():
            process.terminate()
            process.join()
