"""The back office loads for an administrator and stays closed to everyone else."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse


@pytest.fixture
def admin_client_(personas: Any) -> Client:
    superuser = personas.admin
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    client = Client()
    client.force_login(superuser)
    return client


def test_every_registered_changelist_and_add_page_loads(admin_client_: Client) -> None:
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client_.get(url).status_code == 200, url
        add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        # read-only histories refuse adding (403); every other add form renders
        assert admin_client_.get(add).status_code in (200, 403), add


def test_a_rep_cannot_enter_the_back_office(personas: Any) -> None:
    client = Client()
    client.force_login(personas.owner)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
