from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from geo import views as geo_views

urlpatterns = [
    path("healthz", geo_views.healthz, name="healthz"),
    path("api/postcodes/", include("geo.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("directory.api_urls")),
    path("api/", include("referrals.api_urls")),
    path("openreferral/", include("directory.openreferral_urls")),
    path("admin/", admin.site.urls),
    path("", include("referrals.urls")),
    path("", include("directory.urls")),
]
