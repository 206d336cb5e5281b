"""Adapters from API payload dicts to the keyword-only domain services."""

from collections.abc import Callable
from typing import Any


def _split(data: dict[str, Any], *keys: str) -> tuple[dict[str, Any], dict[str, Any]]:
    extras = {k: data.pop(k) for k in keys if k in data}
    return data, extras


def creator(fn: Callable[..., Any], *extras: str) -> Callable[[Any, dict[str, Any]], Any]:
    """``fn(user=, data=, custom=, <extras>=, source="api")`` from a payload dict."""

    def create(user: Any, data: dict[str, Any]) -> Any:
        data, more = _split(data, "custom", *extras)
        return fn(user=user, data=data, source="api", **more)

    return create


def updater(fn: Callable[..., Any], kw: str, *extras: str
            ) -> Callable[[Any, Any, dict[str, Any]], Any]:
    def update(obj: Any, user: Any, data: dict[str, Any]) -> Any:
        data, more = _split(data, "custom", *extras)
        return fn(**{kw: obj}, user=user, data=data, source="api", **more)

    return update


def deleter(fn: Callable[..., Any], kw: str) -> Callable[[Any, Any], None]:
    def delete(obj: Any, user: Any) -> None:
        fn(**{kw: obj}, user=user, source="api")

    return delete
