"""The Open Referral UK 3.0 feed; each path answers with or without a trailing slash."""

from django.urls import re_path

from directory import openreferral

ID = r"(?P<id>[^/]+)"

urlpatterns = [
    re_path(r"^$", openreferral.root, name="openreferral-root"),
    re_path(r"^services/?$", openreferral.services, name="openreferral-services"),
    re_path(rf"^services/{ID}/?$", openreferral.service, name="openreferral-service"),
    re_path(
        r"^service_at_locations/?$",
        openreferral.service_at_locations,
        name="openreferral-service-at-locations",
    ),
    re_path(
        rf"^service_at_locations/{ID}/?$",
        openreferral.service_at_location,
        name="openreferral-service-at-location",
    ),
    re_path(r"^organizations/?$", openreferral.organizations, name="openreferral-organizations"),
    re_path(
        rf"^organizations/{ID}/?$", openreferral.organization, name="openreferral-organization"
    ),
    re_path(r"^taxonomies/?$", openreferral.taxonomies, name="openreferral-taxonomies"),
    re_path(rf"^taxonomies/{ID}/?$", openreferral.taxonomy, name="openreferral-taxonomy"),
    re_path(r"^taxonomy_terms/?$", openreferral.taxonomy_terms, name="openreferral-taxonomy-terms"),
    re_path(
        rf"^taxonomy_terms/{ID}/?$", openreferral.taxonomy_term, name="openreferral-taxonomy-term"
    ),
]
