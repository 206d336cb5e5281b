"""JSON-RPC client for Tryton 8: what the Tryton connector speaks, stdlib only.

Plain Python (no Django) so it runs and tests alone. One client holds one keep-alive HTTP
connection and one session: it is not thread-safe, use one client per thread.

Protocol (checked against trytond 8.2, ``trytond/protocols/jsonrpc.py`` and
``protocols/dispatcher.py``):

* ``POST <url>/<database>/rpc/`` with ``{"id", "method", "params"}``;
* ``common.db.login`` ``[login, {"password": …}, language]`` → ``[user_id, token, …]``, answered
  with HTTP 401 on a wrong password and 429 once too many attempts were made;
* then ``Authorization: Session base64("<login>:<user_id>:<token>")``; an expired or unknown
  session is HTTP 401;
* model methods are ``model.<model>.<method>`` with the context as the last parameter;
* typed values travel as ``{"__class__": "datetime"|"date"|"time"|"timedelta"|"Decimal"|"bytes",
  …}`` both ways (datetimes are naive UTC, ``timedelta`` as float seconds, bytes as base64);
* a Tryton exception is a 200 answer with ``"error": [name, args]`` (``["UserError",
  [message, description, domain]]``); other exceptions are ``[str(exception), traceback]``.

Errors are mapped to the engine's categories: unreachable, timeouts, 5xx and 429 are
:class:`TransientError`; a refused login or an unknown database is :class:`ConfigError`; an
``error`` answer or something that is not JSON-RPC is :class:`PermanentError`. Neither the
password nor the session token ever appears in an error's message or detail.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from comptoir.integration.engine.errors import (
    ConfigError,
    PermanentError,
    SyncError,
    TransientError,
)

Domain = Sequence[Any]
Order = Sequence[Sequence[str]] | None
DEFAULT_ORDER: list[list[str]] = [["id", "ASC"]]
_DETAIL_LIMIT = 2_000


# --- Typed values --------------------------------------------------------------------------------

def encode_value(value: Any) -> Any:
    """``json.dumps(default=…)`` hook: Python values Tryton types, in Tryton's JSON form."""
    # datetime before date: a datetime is a date too
    if isinstance(value, datetime.datetime):
        return {"__class__": "datetime", "year": value.year, "month": value.month,
                "day": value.day, "hour": value.hour, "minute": value.minute,
                "second": value.second, "microsecond": value.microsecond}
    if isinstance(value, datetime.date):
        return {"__class__": "date", "year": value.year, "month": value.month,
                "day": value.day}
    if isinstance(value, datetime.time):
        return {"__class__": "time", "hour": value.hour, "minute": value.minute,
                "second": value.second, "microsecond": value.microsecond}
    if isinstance(value, datetime.timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"__class__": "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Cannot send a {type(value).__name__} to Tryton")


def _decode_object(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind is None:
        return obj
    if kind == "datetime":
        return datetime.datetime(obj["year"], obj["month"], obj["day"], obj["hour"],
                                 obj["minute"], obj["second"], obj["microsecond"])
    if kind == "date":
        return datetime.date(obj["year"], obj["month"], obj["day"])
    if kind == "time":
        return datetime.time(obj["hour"], obj["minute"], obj["second"], obj["microsecond"])
    if kind == "timedelta":
        return datetime.timedelta(seconds=obj["seconds"])
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=encode_value, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def loads(body: bytes | str) -> Any:
    """Decode a Tryton JSON body, typed values included (``ValueError`` when not JSON)."""
    return json.loads(body, object_hook=_decode_object)


# --- Client --------------------------------------------------------------------------------------

class TrytonClient:
    """A Tryton user's session over JSON-RPC.

    ``url`` is the server's root (``http://erp.example.com:8000``); the database is a path
    segment. The client logs in lazily on the first call, and once more when Tryton says the
    session expired. ``extra_context`` is merged into the user's preferences on every model call
    (e.g. ``{"active_test": False}`` to see deactivated records).

    ``compress`` asks for gzip, and should stay on even on localhost: Tryton 8 sends an answer
    over 1,400 bytes uncompressed as thousands of tiny chunks (its JSON encoder's pieces), about
    170 KB/s; gzipped it sends whole blocks, 10 to 20 times faster.
    """

    def __init__(self, url: str, database: str, username: str, password: str, *,
                 timeout: float = 30.0, extra_context: Mapping[str, Any] | None = None,
                 compress: bool = True) -> None:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"Tryton URL must be http(s)://host[:port], not {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        root = parts.path.rstrip("/")
        self.database = database
        self.username = username
        self._password = password
        self.timeout = timeout
        self.extra_context = dict(extra_context or {})
        self.compress = compress
        self._root = root
        self.path = f"{root}/{urllib.parse.quote(database, safe='')}/rpc/"
        netloc = self.host if self.port is None else f"{self.host}:{self.port}"
        # what messages show: never the userinfo part of the URL
        self.display_url = f"{self.scheme}://{netloc}{root}"
        self.user_id: int | None = None
        self._token: str | None = None
        self._context: dict[str, Any] | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._request_id = 0
        self._calls = 0
        self._seconds = 0.0
        self._decode_seconds = 0.0
        self._bytes = 0

    def stats(self) -> dict[str, float]:
        """What this client asked of Tryton so far, so a sync can tell Tryton's time from its
        own: ``calls``, ``seconds`` from sending a request to its answer decoded (of which
        ``decode_seconds`` is our JSON decoding) and ``bytes_received`` as they came (gzipped).
        """
        return {"calls": self._calls, "seconds": round(self._seconds, 6),
                "decode_seconds": round(self._decode_seconds, 6),
                "bytes_received": self._bytes}

    # transport ----------------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (http.client.HTTPSConnection if self.scheme == "https"
                   else http.client.HTTPConnection)
            self._connection = cls(self.host, self.port, timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        """Drop the HTTP connection (the session stays valid on the server until it expires)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> TrytonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        for secret in (self._password, self._token, self._auth_header()):
            if secret:
                text = text.replace(secret, "********")
        return text

    def _auth_header(self) -> str | None:
        if self._token is None or self.user_id is None:
            return None
        raw = f"{self.username}:{self.user_id}:{self._token}".encode()
        return "Session " + base64.b64encode(raw).decode("ascii")

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """One HTTP exchange; a keep-alive connection the server closed is retried once."""
        for attempt in (1, 2):
            connection = self._connect()
            reused = connection.sock is not None
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self._bytes += len(data)
                # Tryton 8 labels every large answer gzip, compressed or not (it compresses
                # only when asked): trust the magic number, not the header
                if data[:2] == b"\x1f\x8b" and "gzip" in (
                        response.getheader("Content-Encoding") or "").lower():
                    data = gzip.decompress(data)
                if response.will_close:
                    self.close()
                return response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as error:
                self.close()
                if reused and attempt == 1:
                    continue  # the server had closed the idle connection: nothing was sent
                raise self._unreachable(error) from None
            except TimeoutError as error:
                self.close()
                raise self._unreachable(error, f"no answer within {self.timeout:g}s") from None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise self._unreachable(error) from None
        raise AssertionError("unreachable")

    def _unreachable(self, error: BaseException, reason: str = "") -> TransientError:
        reason = reason or (getattr(error, "strerror", None) or str(error)
                            or type(error).__name__)
        return TransientError(f"Tryton is unreachable at {self.display_url} ({reason})",
                              detail=self._scrub(f"{type(error).__name__}: {error}"))

    def _exchange(self, method: str, params: Sequence[Any], *, authenticated: bool,
                  path: str | None = None) -> Any:
        self._request_id += 1
        body = dumps({"id": self._request_id, "method": method, "params": list(params)})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.compress:
            headers["Accept-Encoding"] = "gzip"
        if authenticated:
            auth = self._auth_header()
            if auth:
                headers["Authorization"] = auth
        started = time.perf_counter()
        try:
            status, data = self._post(path or self.path, body, headers)
        finally:
            self._calls += 1
            self._seconds += time.perf_counter() - started
        if status in (401, 403):
            raise _Unauthorized(status)
        if status == 429:
            raise TransientError(
                f"Tryton refuses more logins for now at {self.display_url} (too many attempts)")
        if status == 404:
            raise ConfigError(
                f"Tryton at {self.display_url} has no database {self.database!r} "
                "(or this is not a Tryton server)", detail=self._body_detail(status, data))
        if status >= 500:
            raise TransientError(
                f"Tryton is unreachable at {self.display_url} (HTTP {status})",
                detail=self._body_detail(status, data))
        if status >= 400:
            raise PermanentError(
                f"Tryton rejected the request {method} (HTTP {status})",
                detail=self._body_detail(status, data))
        started = time.perf_counter()
        try:
            answer = loads(data)
        except ValueError:
            answer = None
        decoding = time.perf_counter() - started
        self._seconds += decoding
        self._decode_seconds += decoding
        if not isinstance(answer, dict) or not ({"result", "error"} & answer.keys()):
            raise PermanentError(
                f"Tryton answered something that is not JSON-RPC at {self.display_url} "
                f"(HTTP {status}, {len(data)} bytes)", detail=self._body_detail(status, data))
        if answer.get("error") is not None:
            raise self._rpc_error(method, answer["error"])
        return answer.get("result")

    def _body_detail(self, status: int, data: bytes) -> str:
        text = data[:_DETAIL_LIMIT].decode("utf-8", errors="replace")
        return self._scrub(f"HTTP {status}: {text}")

    def _rpc_error(self, method: str, error: Any) -> PermanentError:
        message = _error_message(error)
        detail = json.dumps(error, default=str, ensure_ascii=False)[:_DETAIL_LIMIT * 4]
        return PermanentError(self._scrub(f"Tryton refused {method}: {message}"),
                              detail=self._scrub(detail))

    # session ------------------------------------------------------------------------------------

    def login(self) -> int:
        """Open a session; returns the user's id. A refused password is a ConfigError."""
        self._token = None
        self._context = None
        try:
            result = self._exchange(
                "common.db.login", [self.username, {"password": self._password}, "en"],
                authenticated=False)
        except _Unauthorized:
            raise ConfigError(
                f"Tryton refused the login for user {self.username!r} at {self.display_url} "
                "(wrong login or password, or the user is inactive)") from None
        if (not isinstance(result, list) or len(result) < 2
                or not isinstance(result[0], int) or not isinstance(result[1], str)):
            raise PermanentError("Tryton answered the login with something unexpected",
                                 detail=f"{type(result).__name__} of length "
                                        f"{len(result) if isinstance(result, list) else '?'}")
        self.user_id, self._token = result[0], result[1]
        return self.user_id

    def logout(self) -> None:
        if self._token is not None:
            with contextlib.suppress(SyncError, _Unauthorized):
                self._exchange("common.db.logout", [], authenticated=True)
        self._token = None
        self._context = None

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method`` with ``params`` as they are (add the context yourself); logs in when
        needed and once more if the session expired."""
        if self._token is None:
            self.login()
        try:
            return self._exchange(method, params, authenticated=True)
        except _Unauthorized:
            pass
        self.login()  # the session expired (or the server restarted without its sessions)
        try:
            return self._exchange(method, params, authenticated=True)
        except _Unauthorized as denied:
            raise ConfigError(
                f"Tryton refused the session of user {self.username!r} at {self.display_url} "
                f"right after logging in (HTTP {denied.status})") from None

    def context(self) -> dict[str, Any]:
        """The user's context (company, language…) as Tryton's clients send it; cached."""
        if self._context is None:
            preferences = self.call("model.res.user.get_preferences", True, {})
            if not isinstance(preferences, dict):
                raise PermanentError("Tryton answered the preferences with something unexpected")
            self._context = preferences
        return {**self._context, **self.extra_context}

    def model_call(self, model: str, method: str, *params: Any,
                   context: Mapping[str, Any] | None = None) -> Any:
        """``model.<model>.<method>(*params, context)`` with the user's context."""
        ctx = self.context()
        if context:
            ctx.update(context)
        return self.call(f"model.{model}.{method}", *params, ctx)

    def server_version(self) -> str:
        """Tryton's series (``"8.2"``); no login needed."""
        try:
            return str(self._exchange("common.server.version", [], authenticated=False,
                                      path=f"{self._root}/rpc/"))
        except _Unauthorized as denied:
            raise ConfigError(f"Tryton refused the version call (HTTP {denied.status})") from None

    # ORM ----------------------------------------------------------------------------------------

    def search(self, model: str, domain: Domain, offset: int = 0, limit: int | None = None,
               order: Order = None, *, context: Mapping[str, Any] | None = None) -> list[int]:
        return list(self.model_call(model, "search", list(domain), offset, limit,
                                    _order(order), context=context))

    def search_count(self, model: str, domain: Domain, *,
                     context: Mapping[str, Any] | None = None) -> int:
        return int(self.model_call(model, "search_count", list(domain), context=context))

    def search_read(self, model: str, domain: Domain, fields: Sequence[str], offset: int = 0,
                    limit: int | None = None, order: Order = None, *,
                    context: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Records as dicts with ``id`` and ``fields``. A dotted field (``country.code``)
        comes back nested: ``{"country.": {"id": …, "code": …}}`` (a list for x2many)."""
        return list(self.model_call(model, "search_read", list(domain), offset, limit,
                                    _order(order), list(fields), context=context))

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str], *,
             context: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self.model_call(model, "read", list(ids), list(fields), context=context))

    def create(self, model: str, values_list: Sequence[Mapping[str, Any]], *,
               context: Mapping[str, Any] | None = None) -> list[int]:
        """Create records; all dicts should have the same keys (Tryton batches the insert)."""
        return list(self.model_call(model, "create", [dict(v) for v in values_list],
                                    context=context))

    def write(self, model: str, ids: Sequence[int], values: Mapping[str, Any], *,
              context: Mapping[str, Any] | None = None) -> None:
        self.model_call(model, "write", list(ids), dict(values), context=context)

    def delete(self, model: str, ids: Sequence[int], *,
               context: Mapping[str, Any] | None = None) -> None:
        self.model_call(model, "delete", list(ids), context=context)

    def iter_search_read(self, model: str, domain: Domain, fields: Sequence[str],
                         page: int = 500, order: Order = None, *,
                         context: Mapping[str, Any] | None = None
                         ) -> Iterator[dict[str, Any]]:
        """Every matching record, ``page`` at a time (memory stays flat).

        In id order (the default) it pages by key (``id > last``), which is linear and does not
        skip or repeat records when others are created or deleted meanwhile; any other order
        pages by offset.
        """
        order = DEFAULT_ORDER if order is None else order
        by_id = [list(item) for item in order] == DEFAULT_ORDER
        last_id: int | None = None
        offset = 0
        while True:
            if by_id:
                page_domain = list(domain) if last_id is None else [
                    list(domain), ["id", ">", last_id]]
                rows = self.search_read(model, page_domain, fields, 0, page, order,
                                        context=context)
            else:
                rows = self.search_read(model, domain, fields, offset, page, order,
                                        context=context)
                offset += len(rows)
            yield from rows
            if len(rows) < page:
                return
            last_id = rows[-1]["id"]


class _Unauthorized(Exception):
    """HTTP 401/403: the caller decides whether it means a bad login or an expired session."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _order(order: Order) -> list[list[str]] | None:
    return None if order is None else [list(item) for item in order]


def _error_message(error: Any) -> str:
    """Tryton's own text: the UserError message (and description), else the exception."""
    if isinstance(error, list | tuple) and error:
        name, args = error[0], error[1] if len(error) > 1 else None
        if name in ("UserError", "AccessError") and isinstance(args, list | tuple) and args:
            parts = [str(part) for part in args[:2] if part]
            return " — ".join(parts) if parts else str(name)
        if name == "UserWarning" and isinstance(args, list | tuple) and len(args) > 1:
            return " — ".join(str(part) for part in args[1:3] if part)
        if name in ("ConcurrencyException", "LoginException", "RateLimitException"):
            return f"{name}: {args}" if args else str(name)
        return str(name)  # another exception: str(exception), its traceback in args
    return str(error)
