"""Attachment upload, listing and download."""

from typing import Any, Literal

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from comptoir.api.crud import ERRORS, Resource, register, register_nested
from comptoir.core.models import ObjectType
from comptoir.crm.api import accounts, contacts, opportunities
from comptoir.sales.api import salesdocuments
from comptoir.service.api import cases

from . import services
from .models import Attachment

router = Router()

attachments = Resource(
    model=Attachment, object_type=ObjectType.ATTACHMENT, path="attachments", tag="attachments",
    out_fields=["name", "content_type", "size", "account", "contact", "opportunity", "case",
                "sales_document", "uploaded_by", "created_at"],
    write_fields=[],
    filter_fields=["name", "content_type", "account", "contact", "opportunity", "case",
                   "sales_document", "uploaded_by", "created_at", "size"],
    ordering=["created_at", "name", "size", "id"], default_ordering="-created_at",
    search_fields=["name"],
    create_fn=None, update_fn=None,
    delete_fn=lambda obj, user: services.attachment_delete(attachment=obj, user=user,
                                                            source="api"),
)
register(router, attachments)
for parent, fk in ((accounts, "account_id"), (contacts, "contact_id"),
                   (opportunities, "opportunity_id"), (cases, "case_id"),
                   (salesdocuments, "sales_document_id")):
    register_nested(router, parent, attachments, fk, "attachments")

Target = Literal["account", "contact", "opportunity", "case", "sales_document"]
INLINE_SAFE = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp",
               "text/plain"}


@router.post("/attachments", response={201: attachments.out, **ERRORS}, tags=["attachments"],
             operation_id="attachment_upload")
def upload(request: HttpRequest, target: Form[Target], target_id: Form[int],
           file: File[UploadedFile], name: Form[str] = "") -> Any:
    """Upload a file (multipart) onto an account, contact, deal, case or sales document."""
    obj = services.attachment_create(user=request.user, target=target, target_id=target_id,
                                     upload=file, name=name, source="api")
    return Status(201, obj)


@router.get("/attachments/{int:pk}/download", response={200: None, **ERRORS},
            tags=["attachments"], operation_id="attachment_download")
def download(request: HttpRequest, pk: int, inline: bool = False) -> Any:
    """The file itself. ``inline=true`` previews PDFs and images in the browser."""
    obj = attachments.get(request.user, pk)
    as_attachment = not (inline and obj.content_type in INLINE_SAFE)
    response = FileResponse(obj.file.open("rb"), as_attachment=as_attachment,
                            filename=obj.name, content_type=obj.content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
