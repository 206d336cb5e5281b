"""The one NinjaAPI: every app's router, the auth, the uniform error handlers."""

from comptoir.access.api import router as access_router
from comptoir.activities.api import router as activities_router
from comptoir.api.auth import API_AUTH
from comptoir.api.docs import ComptoirAPI
from comptoir.api.errors import register_handlers
from comptoir.api.parser import StrictParser
from comptoir.core.api import router as core_router
from comptoir.crm.api import router as crm_router
from comptoir.crm.overview_api import router as overview_router
from comptoir.documents.api import router as documents_router
from comptoir.integration.api import router as integration_router
from comptoir.quality.api import router as quality_router
from comptoir.quality.promotion_api import router as promotion_router
from comptoir.sales.api import router as sales_router
from comptoir.search.api import router as search_router
from comptoir.service.api import router as service_router
from comptoir.sirene.api import router as sirene_router

api = ComptoirAPI(
    title="Comptoir API",
    version="1",
    description=(
        "REST API over every Comptoir object. Authenticate with `Authorization: Bearer <token>` "
        "(create one at `POST /api/v1/me/tokens` or with `comptoir createtoken`). Lists use "
        "cursor pagination (`next_cursor`), filters as query parameters (comma-separated values "
        "for several), `ordering=-field`, and `cf_<name>` for custom fields. Errors share one "
        "format: `{\"error\": {\"status\", \"code\", \"message\", \"fields\"}}`."
    ),
    auth=API_AUTH,
    urls_namespace="api",
    parser=StrictParser(),
)
register_handlers(api)
for router in (access_router, crm_router, activities_router, service_router, sales_router,
               documents_router, overview_router, core_router, integration_router,
               search_router, quality_router, sirene_router, promotion_router):
    api.add_router("/", router)
