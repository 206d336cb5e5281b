"""Data-quality area: promotion pages (see views/quality.py for the frame)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from .quality import render_quality


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render_quality(request, "web/quality/promotion.html", {}, tab="promotions")


urlpatterns = [
    path("quality/promotions/", index, name="quality_promotions"),
]
