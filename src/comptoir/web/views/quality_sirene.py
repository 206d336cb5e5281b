"""Data-quality area: sirene pages (see views/quality.py for the frame)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from .quality import render_quality


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render_quality(request, "web/quality/sirene.html", {}, tab="sirene")


urlpatterns = [
    path("quality/sirene/", index, name="quality_sirene"),
]
