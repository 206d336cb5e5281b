"""The test harness itself: isolated files, and skips that fail when CI requires services."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent

SAMPLE = textwrap.dedent('''
    import pytest

    def test_passes():
        pass

    @pytest.mark.skip(reason="Tryton is not installed")
    def test_marked_skip():
        pass

    @pytest.mark.skipif(True, reason="no PostgreSQL")
    def test_skipif():
        pass

    def test_skip_in_body():
        pytest.skip("server missing")

    @pytest.mark.xfail(reason="known bug", strict=False)
    def test_expected_failure():
        assert False
''')
MODULE_SKIP = 'import pytest\npytest.importorskip("comptoir_no_such_module")\n\n' \
              'def test_never_collected():\n    pass\n'


def run_session(tmp_path: Path, *, strict: bool, workers: int = 0) -> tuple[int, dict[str, Any]]:
    """Run a pytest sub-session on the sample files; return (exit code, outcome per test)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keep the project's addopts out
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COMPTOIR_REQUIRE"))}
    if strict:
        env["COMPTOIR_REQUIRE_SERVICES"] = "1"
    report = tmp_path / "report.xml"
    cmd = [sys.executable, "-m", "pytest", "-p", "comptoir.testing.pytest_plugin",
           "-p", "no:django", "-p", "no:cacheprovider", "-q", f"--junitxml={report}",
           str(tmp_path)]
    if workers:
        cmd += ["-n", str(workers)]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    outcomes: dict[str, Any] = {}
    for case in ET.parse(report).iter("testcase"):
        marks = [(child.tag, (child.get("message") or "") + (child.text or ""))
                 for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name") or ""] = marks[0] if marks else ("passed", "")
    return done.returncode, {"outcomes": outcomes, "output": done.stdout + done.stderr}


def test_skips_are_skips_by_default(tmp_path: Path) -> None:
    code, result = run_session(tmp_path, strict=False)
    outcomes = result["outcomes"]
    assert code == 0, result["output"]
    assert outcomes["test_passes"][0] == "passed"
    for name in ("test_marked_skip", "test_skipif", "test_skip_in_body",
                 "test_expected_failure"):
        assert outcomes[name][0] == "skipped", (name, result["output"])
    assert "test_never_collected" not in outcomes


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "xdist-2-workers"])
def test_require_services_turns_every_skip_into_a_failure(tmp_path: Path, workers: int) -> None:
    code, result = run_session(tmp_path, strict=True, workers=workers)
    outcomes, output = result["outcomes"], result["output"]
    assert code == 1, output
    assert outcomes["test_passes"][0] == "passed", output
    # a skip decided at setup fails the setup (an error); one in the body fails the test
    assert outcomes["test_marked_skip"][0] == "error", output
    assert outcomes["test_skipif"][0] == "error", output
    assert outcomes["test_skip_in_body"][0] == "failure", output
    for name in ("test_marked_skip", "test_skipif", "test_skip_in_body"):
        assert "COMPTOIR_REQUIRE_SERVICES=1 forbids skipping" in outcomes[name][1], output
    assert "Tryton is not installed" in outcomes["test_marked_skip"][1]
    # an expected failure is not a skip
    assert outcomes["test_expected_failure"][0] == "skipped", output
    # a module skipped at import fails as one item, and the rest of the session still runs
    assert outcomes["module_skipped"][0] == "failure", output
    assert "forbids skipping" in outcomes["module_skipped"][1], output
    assert "comptoir_no_such_module" in outcomes["module_skipped"][1], output


def test_the_plugin_is_loaded_in_this_session(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.has_plugin("comptoir.testing.pytest_plugin")


def test_data_and_media_stay_out_of_the_repository(media_root: Path) -> None:
    data_dir = Path(os.environ["COMPTOIR_DATA_DIR"]).resolve()
    assert REPO not in data_dir.parents
    assert Path(settings.DATA_DIR).resolve() == data_dir  # set before the settings were read
    assert Path(settings.MEDIA_ROOT) == media_root
    assert REPO not in Path(settings.MEDIA_ROOT).resolve().parents
    if not os.environ.get("COMPTOIR_SECRET_KEY"):  # the generated key went there too
        assert (data_dir / "secret_key").is_file()


def test_uploaded_files_land_in_the_test_media_root(world: Any, media_root: Path) -> None:
    from comptoir.testing import factories

    attachment = factories.attachment(by=world.personas.owner, on=world.mine.account,
                                      name="where.txt", content=b"here")
    stored = Path(attachment.file.path)
    assert media_root in stored.parents
    assert stored.read_bytes() == b"here"
