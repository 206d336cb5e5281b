"""A real Tryton 8 server for tests and benchmarks, started and stopped on 127.0.0.1.

Tryton lives in its own virtual environment (``make tryton`` → ``.venv-tryton``; another one with
``COMPTOIR_TRYTON_VENV``) because it pins its own dependencies and must never share Comptoir's.
Everything here drives it through subprocesses, so this module imports neither trytond nor
Django.

Creating a Tryton database costs about 35 s of CPU, so it is done once and cached:

* ``base-<key>.sqlite``: the modules activated (party, product, sale, account_invoice and their
  dependencies), keyed by the installed trytond packages;
* ``<profile>-<key>.sqlite``: that base seeded by ``tryton_seed.py`` (run with Tryton's Python),
  keyed by the base key, the seed script and the profile; the ``messy`` profile is seeded by
  ``tryton_messy.py`` (real-world-dirty data on top of the tidy set-up), whose text is in its key
  too, and :func:`apply_messy_changes` applies its change set to a server's own copy.

Both live under ``~/.cache/comptoir/tryton`` (or ``COMPTOIR_TRYTON_CACHE``) and are built under
an ``fcntl`` lock then renamed into place, so parallel pytest-xdist workers build once and the
others wait and reuse. Each :class:`TrytonServer` runs on its own copy of a template.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parents[3]
SEED_SCRIPT = Path(__file__).with_name("tryton_seed.py")
MESSY_SCRIPT = Path(__file__).with_name("tryton_messy.py")
VENV_ENV = "COMPTOIR_TRYTON_VENV"
CACHE_ENV = "COMPTOIR_TRYTON_CACHE"
DATABASE = "comptoir"
ADMIN_LOGIN = "admin"
# Not a secret: a throwaway local server. Long enough for Tryton's password rules.
ADMIN_PASSWORD = "Quai-Branly-42"
ADMIN_EMAIL = "admin@example.com"
MODULES = ("party", "product", "sale", "account_invoice")
SKIP_REASON = "Tryton not installed: make tryton"


class TrytonHarnessError(RuntimeError):
    """The Tryton harness could not build a database or start a server (log tail included)."""


# --- Locating Tryton -----------------------------------------------------------------------------

def tryton_venv() -> Path:
    """Tryton's virtual environment: ``$COMPTOIR_TRYTON_VENV`` or ``<repo>/.venv-tryton``."""
    configured = os.environ.get(VENV_ENV, "").strip()
    return Path(configured).expanduser() if configured else REPO_ROOT / ".venv-tryton"


def tryton_bin(name: str) -> Path:
    return tryton_venv() / "bin" / name


def tryton_available() -> bool:
    """True when Tryton's environment has the server, the admin tool and a Python."""
    return all(os.access(tryton_bin(name), os.X_OK)
               for name in ("python", "trytond", "trytond-admin"))


def _site_packages() -> list[Path]:
    return sorted(tryton_venv().glob("lib/python*/site-packages"))


def installed_packages() -> list[str]:
    """``trytond-8.2.1``, ``trytond_party-8.2.0``…: what the cache key depends on."""
    found = []
    for site in _site_packages():
        for info in site.glob("*.dist-info"):
            name = info.name.removesuffix(".dist-info")
            # this repository's own modules are activated on copies (``build_with_modules``)
            if name.lower().startswith(("trytond", "proteus")) and not \
                    name.lower().startswith("trytond_comptoir"):
                found.append(name)
    return sorted(found)


def trytond_version() -> str:
    for name in installed_packages():
        package, _, version = name.partition("-")
        if package.lower() == "trytond":
            return version
    raise TrytonHarnessError(f"trytond is not installed in {tryton_venv()}")


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "comptoir" / "tryton"


def tryton_env(**extra: str) -> dict[str, str]:
    """The environment for Tryton's processes: none of ours (a TRYTOND_* variable would
    override the configuration file, a PYTHONPATH would mix Comptoir's packages in)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TRYTOND_", "TRYTONPASSFILE", "PYTHON", "VIRTUAL_ENV",
                                  "DJANGO_", "COMPTOIR_"))}
    env["PATH"] = f"{tryton_bin('')}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def write_config(directory: Path, *, port: int | None = None,
                 extra: Mapping[str, Mapping[str, str]] | None = None) -> Path:
    """A trytond configuration for a SQLite database in ``directory``, on 127.0.0.1 only;
    ``extra`` adds sections (a module's own, such as ``[comptoir]``)."""
    lines = [
        "[database]", "uri = sqlite://", f"path = {directory}", "list = False", "",
        # sessions outlive long test runs and benchmarks; failed logins still count
        "[session]", "timeout = 86400", "max_age = 86400", "",
        "[request]", "timeout = 600", "",
    ]
    if port is not None:
        lines += ["[web]", f"listen = 127.0.0.1:{port}", ""]
    for section, options in (extra or {}).items():
        lines += [f"[{section}]", *(f"{k} = {v}" for k, v in options.items()), ""]
    path = directory / "trytond.conf"
    path.write_text("\n".join(lines))
    return path


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _run_logged(args: list[str], log: Path, *, env: dict[str, str], what: str) -> float:
    started = time.monotonic()
    with log.open("ab") as out:
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=log.parent, check=False)
    if result.returncode:
        raise TrytonHarnessError(f"{what} failed (exit {result.returncode}); end of {log}:\n"
                                 f"{_tail(log)}")
    return time.monotonic() - started


def _self_contained(database_file: Path) -> None:
    """Fold the WAL into the file so copying the single file copies everything."""
    with contextlib.closing(sqlite3.connect(database_file)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode = DELETE")


# --- Templates -----------------------------------------------------------------------------------

def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(cache_dir: Path, name: str) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_cached(target: Path, build: Callable[[Path], None]) -> Path:
    """Build ``target`` once: under a lock, in a scratch directory, renamed into place."""
    if target.exists():
        return target
    with _locked(target.parent, target.stem):
        if target.exists():  # another worker built it while we waited
            return target
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.stem}-", dir=target.parent))
        # on failure the scratch directory stays, with its log (named in the error)
        build(scratch)
        built = scratch / f"{DATABASE}.sqlite"
        _self_contained(built)
        os.replace(built, target)
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def build_base(cache_dir: Path | None = None) -> Path:
    """The database with the modules activated and no data (about 35 s, once per version)."""
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    if not tryton_available():
        raise TrytonHarnessError(SKIP_REASON)
    key = _key(*installed_packages(), *MODULES, ADMIN_PASSWORD)

    def build(scratch: Path) -> None:
        config = write_config(scratch)
        (scratch / f"{DATABASE}.sqlite").touch()
        passfile = scratch / "admin-password"
        passfile.write_text(ADMIN_PASSWORD)
        seconds = _run_logged(
            [str(tryton_bin("trytond-admin")), "-c", str(config), "-d", DATABASE,
             "--activate-dependencies", "--email", ADMIN_EMAIL, "-u", *MODULES],
            scratch / "trytond-admin.log", env=tryton_env(TRYTONPASSFILE=str(passfile)),
            what="trytond-admin (database creation)")
        print(f"[tryton] base database created in {seconds:.1f}s", flush=True)

    return _build_cached(cache_dir / f"base-{key}.sqlite", build)


def build_template(cache_dir: Path | None = None, *, profile: str = "small") -> Path:
    """The seeded database of ``profile`` (``small``, ``bench`` or ``messy``), built once and
    cached.

    The key covers the installed trytond packages, the seed script(s) and the profile, so
    changing any of them builds a new template; old ones are left for ``rm -r`` of the cache.
    ``messy`` runs ``tryton_messy.py``, which imports ``tryton_seed.py``: both texts are keyed.
    """
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    base = build_base(cache_dir)
    if profile == "messy":
        script = MESSY_SCRIPT
        key = _key(base.name, SEED_SCRIPT.read_text(), MESSY_SCRIPT.read_text(), profile)
    else:
        script = SEED_SCRIPT
        key = _key(base.name, SEED_SCRIPT.read_text(), profile)

    def build(scratch: Path) -> None:
        config = write_config(scratch)
        shutil.copyfile(base, scratch / f"{DATABASE}.sqlite")
        seconds = _run_logged(
            [str(tryton_bin("python")), str(script), "--config", str(config),
             "--database", DATABASE, "--profile", profile],
            scratch / "seed.log", env=tryton_env(), what=f"seeding profile {profile!r}")
        print(f"[tryton] profile {profile!r} seeded in {seconds:.1f}s", flush=True)

    return _build_cached(cache_dir / f"{profile}-{key}.sqlite", build)


def apply_messy_changes(server: TrytonServer) -> None:
    """Apply ``tryton_messy.py --changes`` to ``server``'s own database (one seeded with the
    ``messy`` profile), once: renames, moves, new, deactivated and deleted parties, new invoices,
    a payment… for a sync's second run to pick up.

    trytond is stopped first (no other process writes its SQLite file meanwhile) and started
    again after, on the same port; the script's output goes to ``messy-changes.log`` beside the
    server's log.
    """
    server.stop()
    if not server._prepared:  # never started: its copy of the template is made now
        server._prepare()
    seconds = _run_logged(
        [str(tryton_bin("python")), str(MESSY_SCRIPT), "--config", str(server.config_path),
         "--database", server.database, "--changes"],
        server.directory / "messy-changes.log", env=tryton_env(),
        what="applying the messy change set")
    print(f"[tryton] messy change set applied in {seconds:.1f}s", flush=True)
    server.start()


CONTRIB = REPO_ROOT / "contrib" / "tryton"


def _module_files(name: str) -> list[Path]:
    return sorted(p for p in (CONTRIB / name).iterdir()
                  if p.is_file() and p.suffix in (".py", ".cfg", ".xml", ".toml"))


def _module_digest(name: str) -> str:
    return _key(*(f"{p.name}\0{p.read_text()}" for p in _module_files(name)))


def install_module(name: str) -> None:
    """Install this repository's Tryton module ``name`` (``contrib/tryton/<name>``) into
    Tryton's environment, again whenever its files changed."""
    if not tryton_available():
        raise TrytonHarnessError(SKIP_REASON)
    digest = _module_digest(name)
    stamp = tryton_venv() / f".module-{name}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    with _locked(default_cache_dir(), f"install-{name}"):
        if stamp.exists() and stamp.read_text() == digest:
            return
        log = default_cache_dir() / f"install-{name}.log"
        log.write_text("")
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as scratch:
            source = Path(scratch) / name  # the build leaves its files there, not in the repo
            source.mkdir()
            for path in _module_files(name):
                shutil.copy(path, source / path.name)
            _run_logged([str(tryton_bin("python")), "-m", "pip", "install", "--quiet",
                         "--no-deps", "--force-reinstall", "--no-build-isolation",
                         str(source)],
                        log, env=tryton_env(), what=f"installing the Tryton module {name}")
        stamp.write_text(digest)


def build_with_modules(template: Path, modules: Sequence[str],
                       cache_dir: Path | None = None) -> Path:
    """``template`` with this repository's Tryton ``modules`` activated, built once per
    version of their files (about 20 s)."""
    cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
    for name in modules:
        install_module(name)
    key = _key(Path(template).name, *modules, *map(_module_digest, modules))

    def build(scratch: Path) -> None:
        config = write_config(scratch)
        shutil.copyfile(template, scratch / f"{DATABASE}.sqlite")
        seconds = _run_logged(
            [str(tryton_bin("trytond-admin")), "-c", str(config), "-d", DATABASE,
             "--activate-dependencies", "-u", *modules],
            scratch / "trytond-admin.log", env=tryton_env(),
            what=f"activating {', '.join(modules)}")
        print(f"[tryton] {', '.join(modules)} activated in {seconds:.1f}s", flush=True)

    stem = Path(template).name.removesuffix(".sqlite")
    return _build_cached(cache_dir / f"{stem}+{'+'.join(modules)}-{key}.sqlite", build)


# --- Server --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TrytonServer:
    """``trytond`` on a private copy of ``template``, on 127.0.0.1 and a free port.

    ``stop()`` / ``kill()`` then ``start()`` again restart it on the same database and port
    (tests simulate the ERP going down). Used as a context manager, it removes its copy on exit
    unless ``workdir`` was given (a test's ``tmp_path`` keeps the log for post-mortems).
    """

    def __init__(self, template: Path, *, workdir: Path | None = None,
                 database: str = DATABASE, port: int | None = None,
                 startup_timeout: float = 60.0, keep_database: bool = False,
                 config: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.template = Path(template)
        self.database = database
        self.username = ADMIN_LOGIN
        self.password = ADMIN_PASSWORD
        self.startup_timeout = startup_timeout
        self._own_dir = workdir is None
        self.directory = (Path(tempfile.mkdtemp(prefix="comptoir-tryton-")) if workdir is None
                          else Path(workdir))
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._prepared = False
        self.keep_database = keep_database  # reuse a database left by a previous start
        self.config = dict(config or {})  # extra trytond.conf sections

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc_url(self) -> str:
        return f"{self.url}/{self.database}/rpc/"

    @property
    def log_path(self) -> Path:
        return self.directory / "trytond.log"

    @property
    def config_path(self) -> Path:
        return self.directory / "trytond.conf"

    @property
    def database_path(self) -> Path:
        return self.directory / f"{self.database}.sqlite"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _prepare(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.keep_database and self.database_path.exists()):
            shutil.copyfile(self.template, self.database_path)
        write_config(self.directory, port=self.port, extra=self.config)
        self._prepared = True

    def start(self) -> TrytonServer:
        """Start trytond (on the same database when restarted) and wait until it answers."""
        if self.running:
            return self
        if not tryton_available():
            raise TrytonHarnessError(SKIP_REASON)
        if not self._prepared:
            self._prepare()
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- starting trytond on port {self.port}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [str(tryton_bin("trytond")), "-c", str(self.config_path), "-d", self.database],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=tryton_env(), cwd=self.directory, start_new_session=True)
        try:
            self._wait_ready(started)
        except BaseException:
            self.kill()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> None:
        body = json.dumps({"id": 0, "method": "common.server.version", "params": []}).encode()
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise TrytonHarnessError(
                    f"trytond exited with code {self.process.returncode} while starting; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}")
            request = urllib.request.Request(
                f"{self.url}/rpc/", data=body, method="POST",
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    if "result" in json.loads(response.read()):
                        return
            except (OSError, ValueError):
                pass
            if time.monotonic() - started > self.startup_timeout:
                raise TrytonHarnessError(
                    f"trytond did not answer on {self.url} within {self.startup_timeout:.0f}s; "
                    f"end of {self.log_path}:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        # its own session: the group id is its pid, and only its children are in it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if trytond is still there after ``timeout`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL at once: the ERP "crashes" (the database keeps what was committed)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self) -> TrytonServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its directory when the server made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> TrytonServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<TrytonServer {self.rpc_url} ({state})>"


def main(argv: list[str] | None = None) -> int:
    """``python -m comptoir.testing.tryton [small|bench|messy] [--serve]``: build a template
    (and serve it until Ctrl-C), e.g. to prepare the benchmark's database ahead of time."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("profile", nargs="?", default="small",
                        choices=["small", "bench", "messy"])
    parser.add_argument("--serve", action="store_true", help="start a server on it")
    args = parser.parse_args(argv)
    if not tryton_available():
        print(SKIP_REASON)
        return 2
    started = time.monotonic()
    template = build_template(profile=args.profile)
    print(f"{template} ({template.stat().st_size / 1e6:.1f} MB) "
          f"ready in {time.monotonic() - started:.1f}s")
    if args.serve:
        with TrytonServer(template) as server:
            print(f"serving {server.rpc_url} as {server.username} / {server.password} "
                  f"(started in {server.startup_seconds:.1f}s); Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while server.running:
                    time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
