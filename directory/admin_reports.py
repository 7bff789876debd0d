"""Editors see "Report a problem with this listing" reports in the admin.

Registered from here (imported by directory/urls.py) rather than directory/admin.py, which the
directory's own admin lives in; the guard keeps the two from registering the model twice.
"""

from django.contrib import admin

from directory.models import ListingReport


class ListingReportAdmin(admin.ModelAdmin):
    list_display = ["service", "reason", "created_at", "resolved"]
    list_filter = ["resolved", "reason", "created_at"]
    search_fields = ["service__name", "details"]
    readonly_fields = ["service", "reason", "details", "email", "created_at"]
    list_select_related = ["service"]
    actions = ["mark_resolved"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False  # reports come from the public form only

    @admin.action(description="Mark selected reports as resolved")
    def mark_resolved(self, request, queryset):
        updated = queryset.update(resolved=True)
        self.message_user(request, f"{updated} report(s) marked as resolved.")


if not admin.site.is_registered(ListingReport):
    admin.site.register(ListingReport, ListingReportAdmin)
