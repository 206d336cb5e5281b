"""Placeholder for pages not built yet (kept only while an area is under construction)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def not_built(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return render(request, "web/not_built.html", status=501)
