from django.urls import path

from directory import api

urlpatterns = [
    path("services/", api.ServiceSearch.as_view(), name="directory-api-services"),
    path("services/<uuid:pk>/", api.ServiceDetail.as_view(), name="directory-api-service"),
    path("needs/", api.NeedList.as_view(), name="directory-api-needs"),
    path("offers/", api.OfferList.as_view(), name="directory-api-offers"),
    path("kinds/", api.KindList.as_view(), name="directory-api-kinds"),
]
