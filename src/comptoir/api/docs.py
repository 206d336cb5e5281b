"""The API's own description: the OpenAPI schema built once per process, and Swagger UI from
the package's static files (``ninja`` in ``INSTALLED_APPS``), never from a CDN."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI, Swagger
from ninja.openapi.schema import OpenAPISchema

# validatorUrl off: Swagger UI would otherwise load a badge from validator.swagger.io,
# which an offline install cannot reach and the Content-Security-Policy refuses anyway.
DOCS = Swagger(settings={"validatorUrl": None})


class ComptoirAPI(NinjaAPI):
    """A ``NinjaAPI`` whose OpenAPI schema is cached: building it walks every route and
    pydantic model (about two seconds), and it cannot change while the process runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("docs", DOCS)
        super().__init__(*args, **kwargs)
        self._schemas: dict[tuple[str | None, tuple[tuple[str, Any], ...]], OpenAPISchema] = {}

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> OpenAPISchema:
        key = (path_prefix, tuple(sorted((path_params or {}).items())))
        schema = self._schemas.get(key)
        if schema is None:  # two first requests at once both build it: harmless
            schema = super().get_openapi_schema(path_prefix=path_prefix,
                                                path_params=path_params)
            self._schemas[key] = schema
        return schema

    def forget_openapi_schema(self) -> None:
        """Drop the cached schema (tests; a router added after the first request)."""
        self._schemas.clear()
