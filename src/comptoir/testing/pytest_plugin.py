"""pytest plugin loaded with ``-p comptoir.testing.pytest_plugin`` (see ``addopts``).

Two jobs that must happen before any conftest is imported:

* **A throwaway data directory.** pytest-django imports the settings in its
  ``pytest_load_initial_conftests`` hook, which runs *before* conftest files are loaded, so an
  ``os.environ`` line at the top of ``tests/conftest.py`` comes too late: the settings would
  already have created ``./data/secret_key`` in the repository. A ``-p`` plugin is imported while
  the command line is parsed, earlier than that hook. xdist workers inherit the environment, so
  they share the controller's directory; only the process that created it removes it.
* **Strict skips.** With ``COMPTOIR_REQUIRE_SERVICES=1`` (set in CI) a skipped test or module is
  reported as a failure: a test that silently skips because PostgreSQL, a binary or a server is
  missing would otherwise pass CI without testing anything. The report is rewritten where it is
  made, so xdist workers (which make the reports and send them to the controller) apply it too.
  Expected failures (``xfail``) are left alone.

This module must not import Django: it is imported before Django is configured.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from typing import Any

import pytest

REQUIRE_SERVICES_ENV = "COMPTOIR_REQUIRE_SERVICES"
_SESSION_DIR_ENV = "COMPTOIR_TEST_SESSION_DIR"

_created_dir: str | None = None


def _prepare_environment() -> None:
    global _created_dir
    session_dir = os.environ.get(_SESSION_DIR_ENV)
    if not session_dir or not os.path.isdir(session_dir):
        session_dir = tempfile.mkdtemp(prefix="comptoir-tests-")
        os.environ[_SESSION_DIR_ENV] = session_dir
        _created_dir = session_dir
    os.environ["COMPTOIR_DATA_DIR"] = os.path.join(session_dir, "data")
    # whitenoise warns on every request when STATIC_ROOT (DATA_DIR/static) is missing
    os.makedirs(os.path.join(session_dir, "data", "static"), exist_ok=True)
    # Tests override MEDIA_ROOT per test (tests/conftest.py); this is the fallback.
    os.environ["COMPTOIR_MEDIA_ROOT"] = os.path.join(session_dir, "media")


_prepare_environment()


def require_services() -> bool:
    return os.environ.get(REQUIRE_SERVICES_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _strict_message(longrepr: Any) -> str:
    return (f"{REQUIRE_SERVICES_ENV}=1 forbids skipping, but this was skipped: "
            f"{_skip_reason(longrepr)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, Any, Any]:
    report = yield
    if require_services() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = _strict_message(report.longrepr)
    return report


class SkippedModule(pytest.Item):
    """Stands for a module skipped at import under the strict flag, and fails when run.

    Failing the collection itself would abort the whole session ("Interrupted: errors during
    collection"); one failing item keeps the rest of the run going and names the module.
    """

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        pytest.fail(self.reason, pytrace=False)

    def reportinfo(self) -> tuple[Any, int, str]:
        return self.path, 0, f"{self.name} (module skipped)"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Module-level skips (``pytest.importorskip``, ``skip(allow_module_level=True)``)."""
    report = yield
    if require_services() and report.skipped and isinstance(collector, pytest.Module):
        item = SkippedModule.from_parent(collector, name="module_skipped",
                                         reason=_strict_message(report.longrepr))
        report.outcome = "passed"
        report.longrepr = None
        report.result = [item]
    return report


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgresql: needs DATABASE_URL on PostgreSQL; deselected (not skipped) on "
                   "SQLite runs, since CI runs the suite on both")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests are not applicable to a SQLite run: deselect them there, so
    the strict flag keeps meaning "nothing that should have run was skipped"."""
    if on_postgresql():
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if item.get_closest_marker("postgresql") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    mode = "skips fail" if require_services() else "skips allowed"
    return f"comptoir: data dir {os.environ['COMPTOIR_DATA_DIR']}; {REQUIRE_SERVICES_ENV}: {mode}"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _created_dir and not hasattr(config, "workerinput"):
        shutil.rmtree(_created_dir, ignore_errors=True)
