"""Admin for the set-up of referrals: practices, teams and who belongs to them; the access log,
read-only.

Patients and referrals are deliberately not here: every view of a patient's details must go
through the pages or the API, which write the access log.
"""

from django.contrib import admin, messages
from knox.models import AuthToken

from referrals.models import (
    AccessLog,
    OutgoingEmail,
    Practice,
    PracticeMembership,
    SecurityEvent,
    Team,
    TeamMembership,
)


class PracticeMembershipInline(admin.TabularInline):
    model = PracticeMembership
    extra = 1
    autocomplete_fields = ["user"]


class TeamMembershipInline(admin.TabularInline):
    model = TeamMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Practice)
class PracticeAdmin(admin.ModelAdmin):
    list_display = ["name", "ods_code", "postcode"]
    search_fields = ["name", "ods_code"]
    exclude = ["point"]
    inlines = [PracticeMembershipInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "service", "capacity_per_trainer"]
    search_fields = ["name"]
    raw_id_fields = ["service"]
    inlines = [TeamMembershipInline]


class AppendOnlyAdmin(admin.ModelAdmin):
    """Logs: readable by superusers, never added, changed or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(AccessLog)
class AccessLogAdmin(AppendOnlyAdmin):
    list_display = ["at", "user", "patient_id", "referral_id", "channel", "ip_address", "path"]
    list_filter = ["channel"]
    search_fields = ["user__username", "path"]
    date_hierarchy = "at"


@admin.register(SecurityEvent)
class SecurityEventAdmin(AppendOnlyAdmin):
    """Probing and abuse (NHS number and date of birth that disagree, rate limits reached):
    who, when, from where; never a patient's identity."""

    list_display = ["at", "kind", "user", "ip_address", "detail"]
    list_filter = ["kind"]
    search_fields = ["user__username", "ip_address"]
    date_hierarchy = "at"


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(AppendOnlyAdmin):
    """The outbox: what the worker sent, is retrying, or gave up on (retry those here)."""

    list_display = ["created_at", "to", "subject", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status"]
    search_fields = ["to"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    @admin.action(description="Try the selected failed emails again")
    def retry(self, request, queryset):
        failed = queryset.filter(status=OutgoingEmail.Status.FAILED)
        for email in failed:
            email.retry()
        self.message_user(request, f"{len(failed)} email(s) will be sent again.", messages.SUCCESS)

    def has_change_permission(self, request, obj=None) -> bool:
        # Needed for the action; the form itself stays read-only (every field is).
        return request.user.is_active and request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


# API tokens are never in the admin: the superuser (who by design sees no patient) must not be
# able to issue or pick up a token that acts as a clinician. Knox registers its own admin; knox
# is listed before referrals in INSTALLED_APPS, so it is registered by the time this runs.
admin.site.unregister(AuthToken)
