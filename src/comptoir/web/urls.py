"""Every page of the web application, namespace ``web``.

Each area's module under ``views/`` owns its ``urlpatterns``; this file only assembles them, so
areas can grow without touching each other.
"""

from django.urls import include, path

from .views import (
    auth,
    board,
    calendar,
    connections,
    feeds,
    forms,
    home,
    imports,
    kanban,
    lists,
    mail,
    mailbox,
    quality,
    quality_audit,
    quality_issues,
    quality_promotion,
    quality_sirene,
    quarantine,
    quotes,
    record_edit,
    records,
    recycle,
    search,
    settings,
    setup,
    site,
)

app_name = "web"

urlpatterns = [
    path("", include(module)) for module in (
        auth, home, lists, board, kanban, quotes, forms, records, search, feeds, connections,
        settings, quality, quality_audit, quality_sirene, quality_promotion, quality_issues,
        record_edit, recycle, site, imports, setup, quarantine, calendar, mailbox,
        mail,
    )
]
urlpatterns += [path("", include("comptoir.web.views.notification_prefs"))]
urlpatterns += [path("", include("comptoir.web.views.caldav"))]
