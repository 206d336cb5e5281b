"""``POST /<resource>/bulk``: upsert up to 10,000 records by external id in one call."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from pydantic import ValidationError as PydanticError
from pydantic import create_model

from comptoir.access import policy
from comptoir.core.bulk import BulkSpec, bulk_upsert
from comptoir.core.errors import Forbidden, TooLarge, ValidationFailed

from .crud import ERRORS, Resource
from .errors import _loc_to_field


class BulkItemResult(Schema):
    index: int
    external_id: str
    status: str = Field(..., description="created, updated, unchanged or error")
    id: int | None = None
    errors: dict[str, list[str]] = {}


class BulkCounts(Schema):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: int = 0


class BulkOut(Schema):
    system: str
    counts: BulkCounts
    results: list[BulkItemResult]


def register_bulk(router: Router, res: Resource, spec: BulkSpec,
                  extra: dict[str, tuple[Any, Any]] | None = None) -> None:
    """Add the bulk route of ``res``; records are checked one by one against its patch schema."""
    # A plain pydantic model (not a ninja Schema, whose ORM-reading root validator costs more
    # than the checks themselves): it runs once per new or changed record.
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in res.patch.model_fields.items()
    }
    fields["external_id"] = (str, Field(..., min_length=1, max_length=120))
    fields.update(extra or {})
    record_schema = create_model(f"{res.model.__name__}BulkRecord", **fields)

    class BulkIn(Schema):
        system: str = Field(..., min_length=1, max_length=40, pattern=r"^[a-z0-9_.:-]+$",
                            description="The other system's name, e.g. erp, old-crm")
        records: list[dict[str, Any]] = Field(
            ..., description=f"Records shaped as {record_schema.__name__}, each with an "
                             "external_id; fields left out are left unchanged.")

    BulkIn.__name__ = f"{res.model.__name__}BulkIn"

    def parse(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        try:
            model = record_schema.model_validate({**record, "external_id": "x"})
        except PydanticError as exc:
            errors: dict[str, list[str]] = {}
            for err in exc.errors():
                errors.setdefault(_loc_to_field(list(err["loc"])), []).append(err["msg"])
            return record, errors
        data = model.model_dump(exclude_unset=True)
        data.pop("external_id", None)
        return data, {}

    @router.post(f"/{res.path}/bulk", response={200: BulkOut, **ERRORS}, tags=[res.tag],
                 operation_id=f"{res.model._meta.model_name}_bulk_upsert",
                 openapi_extra={"x-record-schema": record_schema.__name__})
    def bulk(request: HttpRequest, payload: BulkIn) -> Any:
        """Create, update or leave unchanged each record by (system, external_id).

        Records sent again unchanged are recognised by their content and not rewritten. Each
        record gets its own result; an invalid one does not stop the others. Reserved to data
        managers and administrators (integration accounts).
        """
        if not policy.sees_all(request.user):
            raise Forbidden(_("Bulk loading is reserved to data managers and administrators."))
        limit = settings.COMPTOIR_BULK_MAX_RECORDS
        if len(payload.records) > limit:
            raise TooLarge(_("At most %(n)d records per call; split the batch.") % {"n": limit})
        if not payload.records:
            raise ValidationFailed(_("No records sent."), fields={"records": [_("Empty.")]})
        results = bulk_upsert(spec, system=payload.system, records=payload.records,
                              user=request.user, source=f"bulk:{payload.system}", parse=parse)
        counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
        for r in results:
            counts[r.status] += 1
        # Serialised directly: validating 10,000 result rows against BulkOut again would cost
        # more than the upsert of unchanged records itself. The shape is BulkOut's.
        body = {"system": payload.system, "counts": counts,
                "results": [{"index": r.index, "external_id": r.external_id,
                             "status": r.status, "id": r.id, "errors": r.errors}
                            for r in results]}
        return JsonResponse(body)
