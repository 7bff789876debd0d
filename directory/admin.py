"""Directory editing in the Django admin, for the "Directory editors" group.

Nothing is deleted here, by anyone: an entry is retired by setting its status, so referrals and
the open-data feed never point at a hole. Each save records who made it (``modified_by``) and the
admin's own LogEntry records what changed. Maps use django-leaflet with its packaged assets.
"""

from django.contrib import admin
from django.middleware.csp import get_nonce
from leaflet.admin import LeafletGeoAdminMixin

from directory.models import (
    Accessibility,
    Attribute,
    Audited,
    Contact,
    CostOption,
    DuplicateCandidate,
    Feed,
    HarvestedRecord,
    Helpline,
    Language,
    ListingReport,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    Taxonomy,
    TaxonomyTerm,
)

EDITORS_GROUP = "Directory editors"


class NoDeleteMixin:
    """Retire, never delete: no delete button and no bulk-delete action, even for superusers
    (the admin drops ``delete_selected`` for anyone without delete permission)."""

    def has_delete_permission(self, request, obj=None):
        return False


class MapMixin(LeafletGeoAdminMixin):
    """A Leaflet map for geometry fields, with its inline script allowed by the page's CSP.

    django-leaflet reads the nonce from ``request.csp_nonce``; Django's CSP middleware keeps it
    elsewhere (``get_nonce(request)``), and without it the map's script would be blocked.
    """

    def formfield_for_dbfield(self, db_field, request=None, **kwargs):
        if request is not None and getattr(request, "csp_nonce", None) is None:
            request.csp_nonce = get_nonce(request)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class AuditedAdmin(NoDeleteMixin, admin.ModelAdmin):
    readonly_fields = ("created_at", "last_modified", "modified_by")

    def save_model(self, request, obj, form, change):
        obj.modified_by = request.user
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            if isinstance(instance, Audited):
                instance.modified_by = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


class Inline(admin.TabularInline):
    # Rows under an entry are edited, never deleted (expire a schedule with valid_to instead).
    can_delete = False
    extra = 0


class ScheduleInline(Inline):
    model = Schedule
    fk_name = "service"
    extra = 0
    fields = (
        "freq",
        "byday",
        "bymonthday",
        "opens_at",
        "closes_at",
        "valid_from",
        "valid_to",
        "description",
    )


class ServiceAtLocationInline(Inline):
    model = ServiceAtLocation
    extra = 0
    autocomplete_fields = ("location",)


class CostOptionInline(Inline):
    model = CostOption
    extra = 0


class AttributeInline(Inline):
    model = Attribute
    extra = 0
    autocomplete_fields = ("taxonomy_term",)
    verbose_name = "need or offer"
    verbose_name_plural = "needs and offers (taxonomy terms)"


class LanguageInline(Inline):
    model = Language
    fk_name = "service"
    extra = 0
    exclude = ("phone",)


class ServiceAreaInline(MapMixin, admin.StackedInline):
    model = ServiceArea
    can_delete = False
    extra = 0


class ContactInline(Inline):
    model = Contact
    extra = 0


class PhoneInline(Inline):
    model = Phone
    fk_name = "service"
    extra = 0
    exclude = ("contact", "location")


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = (
        "name",
        "organization",
        "kind",
        "status",
        "assured_date",
        "last_modified",
        "is_demo",
    )
    list_filter = ("status", "kind", "access", "is_demo")
    search_fields = ("name", "description", "organization__name")
    autocomplete_fields = ("organization",)
    readonly_fields = (*AuditedAdmin.readonly_fields, "search_vector")
    exclude = ("search_vector",)
    inlines = [
        ServiceAtLocationInline,
        ScheduleInline,
        AttributeInline,
        CostOptionInline,
        LanguageInline,
        ServiceAreaInline,
        ContactInline,
        PhoneInline,
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "name",
                    "description",
                    "kind",
                    "access",
                    "status",
                    "alert",
                )
            },
        ),
        ("Contact", {"fields": ("url", "email")}),
        ("Who it is for", {"fields": ("minimum_age", "maximum_age", "fees", "accreditations")}),
        ("Capacity", {"fields": ("capacity_available", "capacity_maximum", "capacity_unit")}),
        ("Checking", {"fields": ("assured_date", "assurer_email", "is_demo")}),
        ("History", {"fields": ("created_at", "last_modified", "modified_by")}),
    )


class AccessibilityInline(Inline):
    model = Accessibility
    extra = 0


@admin.register(Location)
class LocationAdmin(MapMixin, AuditedAdmin):
    list_display = ("__str__", "location_type", "postal_code", "organization")
    list_filter = ("location_type",)
    search_fields = ("name", "address_1", "postal_code", "city")
    autocomplete_fields = ("organization",)
    inlines = [AccessibilityInline]


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    list_display = ("name", "website", "last_modified", "is_demo")
    list_filter = ("is_demo",)
    search_fields = ("name",)
    exclude = ("search_vector",)


class TaxonomyTermInline(Inline):
    model = TaxonomyTerm
    extra = 0
    fields = ("code", "name", "plain_label", "description", "position")


@admin.register(Taxonomy)
class TaxonomyAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "version")
    inlines = [TaxonomyTermInline]


@admin.register(TaxonomyTerm)
class TaxonomyTermAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "code", "taxonomy", "plain_label")
    list_filter = ("taxonomy",)
    search_fields = ("name", "code", "plain_label")


@admin.register(ListingReport)
class ListingReportAdmin(NoDeleteMixin, admin.ModelAdmin):
    """ "Report a problem with this listing": what the public told editors."""

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


@admin.register(Feed)
class FeedAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Other directories' Open Referral UK feeds we harvest (``harvest_openreferral --due``
    from cron harvests each active one on its interval; "Harvest now" runs one at once)."""

    list_display = (
        "name",
        "base_url",
        "active",
        "republish",
        "interval_hours",
        "last_finished_at",
        "last_outcome",
        "last_summary",
    )
    list_filter = ("active", "republish", "last_outcome")
    search_fields = ("name", "base_url")
    readonly_fields = (
        "services_path",
        "last_started_at",
        "last_finished_at",
        "last_outcome",
        "last_summary",
        "created_at",
    )
    actions = ["harvest_now"]

    @admin.action(description="Harvest now (waits until the walk is done)", permissions=["change"])
    def harvest_now(self, request, queryset):
        from django.contrib import messages

        from directory import harvest

        for feed in queryset:
            report = harvest.harvest(feed)
            level = messages.ERROR if report.error else messages.SUCCESS
            if not report.error and not report.complete:
                level = messages.WARNING
            self.message_user(request, f"{feed.name}: {report.summary}", level)


@admin.register(HarvestedRecord)
class HarvestedRecordAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Provenance of each harvested service; written by harvests only."""

    list_display = (
        "service",
        "feed",
        "remote_id",
        "first_seen",
        "last_seen",
        "last_changed",
        "withdrawn_at",
    )
    list_filter = ("feed", ("withdrawn_at", admin.EmptyFieldListFilter))
    search_fields = ("remote_id", "service__name")
    list_select_related = ("service", "feed")
    readonly_fields = [f.name for f in HarvestedRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Possible duplicates found by harvests, for an editor to decide: never merged unasked."""

    list_display = ("left", "right", "similarity", "reason", "status", "decided_by", "decided_at")
    list_filter = ("status",)
    search_fields = ("left__name", "right__name", "reason")
    list_select_related = ("left", "right", "decided_by")
    readonly_fields = [f.name for f in DuplicateCandidate._meta.fields]
    actions = ["merge", "keep_apart"]

    def has_add_permission(self, request) -> bool:
        return False  # harvests offer them

    def _decide(self, request, queryset, decide, done: str):
        from django.contrib import messages
        from django.core.exceptions import ValidationError

        count = 0
        for candidate in queryset.select_related("left", "right"):
            try:
                decide(candidate, by=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{candidate}: {exc.messages[0]}", messages.WARNING)
                continue
            count += 1
            if candidate.status == DuplicateCandidate.Status.MERGED:
                self.log_change(
                    request, candidate.right, f"Withdrawn: a duplicate of {candidate.left}."
                )
        if count:
            self.message_user(request, f"{count} pair(s) {done}.", messages.SUCCESS)

    @admin.action(description="Merge: keep the left, withdraw the right", permissions=["change"])
    def merge(self, request, queryset):
        self._decide(request, queryset, DuplicateCandidate.merge, "merged")

    @admin.action(description="Not duplicates: keep both", permissions=["change"])
    def keep_apart(self, request, queryset):
        self._decide(request, queryset, DuplicateCandidate.keep_apart, "kept apart")


@admin.register(Helpline)
class HelplineAdmin(NoDeleteMixin, admin.ModelAdmin):
    """National help signposted when a search finds nothing nearby; untick "active" to retire."""

    list_display = ("name", "kind", "phone", "england", "scotland", "wales", "northern_ireland")
    list_display_links = ("name",)
    list_filter = ("kind", "active", "england", "scotland", "wales", "northern_ireland")
    search_fields = ("name", "description")
