from django.urls import path, re_path

from referrals.fhir import views

urlpatterns = [
    path(
        "ServiceRequest/<str:pk>", views.ServiceRequestView.as_view(), name="fhir-service-request"
    ),
    path("Bundle/<str:pk>", views.BundleView.as_view(), name="fhir-bundle"),
    path("Task", views.TaskSearchView.as_view(), name="fhir-task-search"),
    path("Task/<str:pk>", views.TaskView.as_view(), name="fhir-task"),
    path("$process-message", views.ProcessMessageView.as_view(), name="fhir-process-message"),
    re_path(r"^(?P<path>.*)$", views.unknown, name="fhir-unknown"),
]
