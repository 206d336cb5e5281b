"""Attachments: multipart upload onto a record, type and size limits, download, visibility."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from comptoir.core.models import AuditEntry
from comptoir.documents.models import Attachment

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"


@pytest.fixture
def world(shared_world: Any) -> Any:
    return shared_world


def upload(client: Any, target: str, target_id: int, filename: str, content: bytes,
           **extra: Any) -> Any:
    return client.upload("attachments", {"target": target, "target_id": target_id,
                                         "file": SimpleUploadedFile(filename, content), **extra})


@pytest.mark.parametrize("target", ["account", "contact", "opportunity", "case",
                                    "sales_document"])
def test_upload_onto_each_kind_of_record(world: Any, api: Any, media_root: Path,
                                         target: str) -> None:
    record = world.mine.get(target)
    client = api(world.personas.owner)
    body = upload(client, target, record.pk, "offer.pdf", PDF).expect(201)
    assert body["name"] == "offer.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF)
    assert body["uploaded_by_id"] == world.personas.owner.pk
    assert body["account_id"] == world.mine.account.pk  # derived from the target
    if target != "account":
        assert body[f"{target}_id"] == record.pk
    stored = Attachment.objects.get(pk=body["id"])
    assert media_root in Path(stored.file.path).parents
    assert Path(stored.file.path).read_bytes() == PDF
    assert AuditEntry.objects.filter(object_type="attachment", object_id=stored.pk,
                                     action="create").exists()
    nested = "sales-documents" if target == "sales_document" else {
        "account": "accounts", "contact": "contacts", "opportunity": "opportunities",
        "case": "cases"}[target]
    listed = client.get(f"{nested}/{record.pk}/attachments").expect(200)
    assert body["id"] in [item["id"] for item in listed["items"]]


def test_the_name_field_renames_the_file_and_is_sanitised(world: Any, api: Any) -> None:
    body = upload(api(world.personas.owner), "account", world.mine.account.pk, "x.pdf", PDF,
                  name="../../etc/Offre signée v2.pdf").expect(201)
    assert "/" not in body["name"]
    assert body["name"].endswith(".pdf")
    assert ".." not in Attachment.objects.get(pk=body["id"]).file.name.split("/")


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "script.js", "tool.sh",
                                  "noextension", "macro.docm", "archive.exe.",
                                  "invoice.pdf.exe"])
def test_refused_types_are_422(world: Any, api: Any, name: str) -> None:
    error = upload(api(world.personas.owner), "account", world.mine.account.pk, name,
                   b"MZ\x90\x00").error(422)
    assert "file" in error["fields"]
    assert not Attachment.objects.filter(name__contains=name.split(".")[0]).exclude(
        pk=world.mine.attachment.pk).exists()


def test_the_type_comes_from_the_name_not_the_client(world: Any, api: Any) -> None:
    fake = SimpleUploadedFile("payload.exe", b"MZ", content_type="application/pdf")
    response = api(world.personas.owner).upload("attachments", {
        "target": "account", "target_id": world.mine.account.pk, "file": fake})
    assert "file" in response.error(422)["fields"]


def test_empty_file_is_422(world: Any, api: Any) -> None:
    error = upload(api(world.personas.owner), "account", world.mine.account.pk, "empty.txt",
                   b"").error(422)
    assert "file" in error["fields"]


def test_too_large_is_413(world: Any, api: Any, settings: Any) -> None:
    settings.COMPTOIR_ATTACHMENT_MAX_BYTES = 100
    client = api(world.personas.owner)
    upload(client, "account", world.mine.account.pk, "fits.txt", b"x" * 100).expect(201)
    error = upload(client, "account", world.mine.account.pk, "big.txt", b"x" * 101).error(413)
    assert error["code"] == "too_large"
    assert not Attachment.objects.filter(name="big.txt").exists()


@pytest.mark.parametrize(("fields", "bad"), [
    ({"target": "user", "target_id": 1}, "target"),
    ({"target": "account", "target_id": "abc"}, "target_id"),
    ({"target": "account"}, "target_id"),
    ({"target_id": 1}, "target"),
])
def test_bad_target_is_422(world: Any, api: Any, fields: dict[str, Any], bad: str) -> None:
    data = {**fields, "file": SimpleUploadedFile("a.txt", b"a")}
    error = api(world.personas.owner).upload("attachments", data).error(422)
    assert bad in error["fields"]


def test_missing_file_is_422(world: Any, api: Any) -> None:
    error = api(world.personas.owner).upload("attachments", {
        "target": "account", "target_id": world.mine.account.pk}).error(422)
    assert "file" in error["fields"]


def test_cannot_attach_to_a_record_one_cannot_see(world: Any, api: Any) -> None:
    """Same answer as for a record that does not exist: no leak."""
    client = api(world.personas.outsider)
    hidden = upload(client, "account", world.mine.account.pk, "a.txt", b"a").error(422)
    missing = upload(client, "account", 987654, "a.txt", b"a").error(422)
    assert hidden == missing
    assert list(hidden["fields"]) == ["target_id"]
    upload(client, "case", world.mine.case.pk, "a.txt", b"a").error(422)


def test_download_returns_the_bytes(world: Any, api: Any) -> None:
    client = api(world.personas.owner)
    body = upload(client, "opportunity", world.mine.opportunity.pk, "offer.pdf", PDF
                  ).expect(201)
    response = client.get(f"attachments/{body['id']}/download")
    assert response.status == 200
    assert response.content == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="offer.pdf"' in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "content", "inline"), [
    ("offer.pdf", PDF, True),
    ("photo.png", b"\x89PNG\r\n\x1a\n", True),
    ("readme.txt", b"hello", True),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>",
     False),
    ("sheet.csv", b"a,b\n1,2\n", False),
    ("archive.zip", b"PK\x03\x04", False),
])
def test_inline_preview_only_for_safe_types(world: Any, api: Any, name: str, content: bytes,
                                            inline: bool) -> None:
    client = api(world.personas.owner)
    body = upload(client, "account", world.mine.account.pk, name, content).expect(201)
    response = client.get(f"attachments/{body['id']}/download", {"inline": "true"})
    assert response.status == 200
    assert response.content == content
    disposition = response["Content-Disposition"].split(";")[0]
    assert disposition == ("inline" if inline else "attachment")
    # without asking, always a download
    plain = client.get(f"attachments/{body['id']}/download")
    assert plain["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(("persona", "status"), [
    ("owner", 200), ("teammate", 200), ("manager", 200), ("admin", 200),
    ("data_manager", 200), ("outsider", 404), ("marketing", 404), ("service", 404),
])
def test_download_follows_visibility(world: Any, api: Any, persona: str, status: int) -> None:
    body = upload(api(world.personas.owner), "account", world.mine.account.pk, "plan.txt",
                  b"secret plan").expect(201)
    response = api(world.personas[persona]).get(f"attachments/{body['id']}/download")
    if status == 200:
        assert response.status == 200
        assert response.content == b"secret plan"
    else:
        response.error(404)
        assert b"secret plan" not in response.content


def test_delete_removes_the_file_after_commit(world: Any, api: Any,
                                              django_capture_on_commit_callbacks: Any) -> None:
    client = api(world.personas.owner)
    body = upload(client, "account", world.mine.account.pk, "gone.txt", b"bye").expect(201)
    path = Path(Attachment.objects.get(pk=body["id"]).file.path)
    assert path.exists()
    api(world.personas.teammate).delete(f"attachments/{body['id']}").error(403)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(f"attachments/{body['id']}").expect(204)
    assert not path.exists()
    assert AuditEntry.objects.filter(object_type="attachment", object_id=body["id"],
                                     action="delete").exists()


def test_the_uploader_may_delete_their_file_on_someone_elses_account(world: Any,
                                                                     api: Any) -> None:
    """Delete follows the attachment's owner (its uploader) within the scope."""
    teammate = api(world.personas.teammate)
    body = upload(teammate, "account", world.mine.account.pk, "mine.txt", b"t").expect(201)
    teammate.delete(f"attachments/{body['id']}").expect(204)
