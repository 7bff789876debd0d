from django.urls import path

from geo import views

urlpatterns = [
    path("", views.NearestPostcodes.as_view(), name="geo-postcodes-nearest"),
    path("<str:postcode>", views.PostcodeDetail.as_view(), name="geo-postcode"),
]
