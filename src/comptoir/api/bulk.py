"""``POST /<resource>/bulk``: upsert up to 10,000 records by external id in one call.

Accounts, contacts and leads take two data-quality options as query parameters, the same as a
sync mapping's: ``match`` (``sure``, the default, links a new external id to the existing record
it surely duplicates instead of creating another; ``off`` creates) and ``profile`` (``lead``,
``crm`` or ``erp``: records the profile refuses are not written and come back as errors, the
gaps as field messages).
"""

from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from pydantic import ValidationError as PydanticError
from pydantic import create_model

from comptoir.access import policy
from comptoir.core.bulk import BulkSpec, Checker, Matcher, bulk_upsert
from comptoir.core.errors import Forbidden, TooLarge, ValidationFailed
from comptoir.quality.dedupe import OBJECT_TYPES, batch_candidates
from comptoir.quality.profiles import PROFILE_NAMES, bulk_check

from .crud import ERRORS, Resource
from .errors import _loc_to_field


class BulkItemResult(Schema):
    index: int
    external_id: str
    status: str = Field(..., description="created, updated, unchanged or error")
    id: int | None = None
    errors: dict[str, list[str]] = {}
    matched: dict[str, Any] | None = Field(
        None, description="Linked to this existing record (id, score, keys) as its duplicate")


class BulkCounts(Schema):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: int = 0


class BulkOut(Schema):
    system: str
    counts: BulkCounts
    matched: int = Field(0, description="Of the updated and unchanged: new external ids linked "
                                        "to the existing record they duplicate")
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
    def bulk(request: HttpRequest, payload: BulkIn, match: str = "sure",
             profile: str = "") -> Any:
        """Create, update or leave unchanged each record by (system, external_id).

        Records sent again unchanged are recognised by their content and not rewritten. Each
        record gets its own result; an invalid one does not stop the others. Accounts,
        contacts, products, price lists and documents: reserved to data managers and
        administrators (integration accounts); leads, deals, activities and cases: anyone, each
        record under the single-record API's rights. Accounts, contacts and leads:
        ``match=sure`` (default) links a new external id to the existing record it surely
        duplicates (result ``matched``), ``match=off`` always creates; ``profile=lead|crm|erp``
        refuses records with gaps.
        """
        if not spec.per_record_rights and not policy.sees_all(request.user):
            raise Forbidden(_("Bulk loading is reserved to data managers and administrators."))
        limit = settings.COMPTOIR_BULK_MAX_RECORDS
        if len(payload.records) > limit:
            raise TooLarge(_("At most %(n)d records per call; split the batch.") % {"n": limit})
        if not payload.records:
            raise ValidationFailed(_("No records sent."), fields={"records": [_("Empty.")]})
        matcher, check = _quality_options(spec.object_type, match, profile)
        results = bulk_upsert(spec, system=payload.system, records=payload.records,
                              user=request.user, source=f"bulk:{payload.system}", parse=parse,
                              match=matcher, check=check)
        counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
        for r in results:
            counts[r.status] += 1
        # Serialised directly: validating 10,000 result rows against BulkOut again would cost
        # more than the upsert of unchanged records itself. The shape is BulkOut's.
        body = {"system": payload.system, "counts": counts,
                "matched": sum(r.matched is not None for r in results),
                "results": [{"index": r.index, "external_id": r.external_id,
                             "status": r.status, "id": r.id, "errors": r.errors,
                             "matched": r.matched}
                            for r in results]}
        return JsonResponse(body)


def _quality_options(object_type: str, match: str, profile: str
                     ) -> tuple[Matcher | None, Checker | None]:
    """The matcher and profile check a call asks for, refused clearly when they make no sense
    (a profile for products, an unknown value) rather than silently ignored."""
    fields: dict[str, list[str]] = {}
    if match not in ("sure", "off"):
        fields["match"] = [_("Choose sure or off.")]
    profile = profile.strip()
    if profile and profile not in PROFILE_NAMES:
        fields["profile"] = [_("Choose lead, crm or erp.")]
    elif profile and object_type not in OBJECT_TYPES:
        fields["profile"] = [_("Profiles apply to accounts, contacts and leads only.")]
    if fields:
        raise ValidationFailed(_("Invalid bulk options."), fields=fields)
    matcher = (partial(batch_candidates, object_type)
               if match == "sure" and object_type in OBJECT_TYPES else None)
    return matcher, bulk_check(object_type, profile) if profile else None
