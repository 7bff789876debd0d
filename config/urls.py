from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from geo import views as geo_views

# Swagger UI: its start-up script is served as a file (the split view), so no inline script is
# needed; it does style elements inline, which only this page allows.
api_docs = csp_override({**settings.SECURE_CSP, "style-src": ["'self'", "'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("healthz", geo_views.healthz, name="healthz"),
    path("api/postcodes/", include("geo.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("directory.api_urls")),
    path("api/", include("referrals.api_urls")),
    path("openreferral/", include("directory.openreferral_urls")),
    path("fhir/", include("referrals.fhir.urls")),
    path("admin/", admin.site.urls),
    path("", include("referrals.urls")),
    # Residents and community organisations (issue 12): the embeddable widget and taking a
    # shortlist away; organisations keeping their listings true; referring yourself.
    path("", include("directory.share_urls")),
    path("listing/", include("directory.listing_urls")),
    path("refer-yourself/", include("referrals.self_urls")),
    path("", include("directory.urls")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
