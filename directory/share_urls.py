"""URLs of one part of issue 12 (see the module's views); mounted in config/urls.py."""

urlpatterns: list = []
