"""Directory editing in the Django admin, for the "Directory editors" group.

Nothing is deleted here, by anyone: an entry is retired by setting its status, so referrals and
the open-data feed never point at a hole. Each save records who made it (``modified_by``) and the
admin's own LogEntry records what changed. Maps use django-leaflet with its packaged assets.
"""

from django import forms
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


# --- Organisations keeping their own listings true (issue 12; directory/listings.py) ---------
from directory.listing_models import (  # noqa: E402
    CancelledSession,
    ListingChange,
    ListingConfirmation,
    ListingLink,
)


class NotConfirmedFilter(admin.SimpleListFilter):
    """Listings nobody has confirmed for listings.STALE_MONTHS months (or ever): to chase."""

    title = "last confirmed"
    parameter_name = "confirmed"

    def lookups(self, request, model_admin):
        from directory import listings

        return [
            ("stale", f"Not confirmed for {listings.STALE_MONTHS} months (or never)"),
            ("recent", f"Confirmed in the last {listings.STALE_MONTHS} months"),
        ]

    def queryset(self, request, queryset):
        from django.db.models import Q
        from django.utils import timezone

        from directory import listings

        before = listings.stale_before(timezone.localdate())
        if self.value() == "stale":
            return queryset.filter(Q(assured_date__isnull=True) | Q(assured_date__lt=before))
        if self.value() == "recent":
            return queryset.filter(assured_date__gte=before)
        return queryset


@admin.display(description="last confirmed", ordering="assured_date")
def last_confirmed(service) -> str:
    from directory import listings

    checked = listings.checked_status(service)
    if checked.date is None:
        return "Never: out of date"
    return f"{checked.date:%-d %b %Y}" + (": out of date" if checked.stale else "")


ServiceAdmin.list_display = tuple(
    last_confirmed if name == "assured_date" else name for name in ServiceAdmin.list_display
)
ServiceAdmin.list_filter = (*ServiceAdmin.list_filter, NotConfirmedFilter)


class ListingLinkForm(forms.ModelForm):
    class Meta:
        model = ListingLink
        fields = ["organization", "contact_name", "contact_email"]
        help_texts = {
            "contact_email": "The link is emailed here. Anyone with it can change the "
            "organisation's listings until it expires or is revoked."
        }


@admin.register(ListingLink)
class ListingLinkAdmin(NoDeleteMixin, admin.ModelAdmin):
    """Links sent to organisations' contacts. Adding one emails it (through the outbox) and
    shows it once; it cannot be seen again, only revoked and a new one sent."""

    form = ListingLinkForm
    list_display = (
        "organization",
        "contact_email",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "state",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("organization__name", "contact_email", "contact_name")
    list_select_related = ("organization", "created_by")
    autocomplete_fields = ("organization",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "contact_name", "contact_email"]
        return [
            "organization",
            "contact_name",
            "contact_email",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoked_by",
            "last_used_at",
            "state",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="state")
    def state(self, link) -> str:
        return link.state

    def has_change_permission(self, request, obj=None):
        # Viewed, revoked, never edited: a new contact gets a new link.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        from directory import listings

        link, url = listings.send_link(
            organization=form.cleaned_data["organization"],
            contact_email=form.cleaned_data["contact_email"],
            contact_name=form.cleaned_data["contact_name"],
            by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        obj.pk = link.pk
        request.listing_link_url = url  # on the request: this admin object serves every request

    def log_addition(self, request, obj, message):
        return None  # listings.send_link logged it, saying where it was sent

    def response_add(self, request, obj, post_url_continue=None):
        from django.contrib import messages
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        messages.success(
            request,
            f"Link emailed to {obj.contact_email if obj.contact_email else 'the contact'}. "
            f"It is shown this once: {getattr(request, 'listing_link_url', '')}",
        )
        return HttpResponseRedirect(reverse("admin:directory_listinglink_changelist"))

    @admin.action(description="Revoke selected links now", permissions=["change"])
    def revoke(self, request, queryset):
        from directory import listings

        count = sum(listings.revoke_link(link, by=request.user) for link in queryset)
        self.message_user(request, f"{count} link(s) revoked.")


def send_listing_link(modeladmin, request, queryset):
    """Organisation admin action: a link to each selected organisation's email address."""
    from django.contrib import messages

    from directory import listings

    if not request.user.has_perm("directory.add_listinglink"):
        modeladmin.message_user(request, "You may not send listing links.", messages.ERROR)
        return
    for organization in queryset:
        if not organization.email:
            modeladmin.message_user(
                request,
                f"{organization.name} has no email address: add one, or add a link with a "
                "contact's address under Listing links.",
                messages.WARNING,
            )
            continue
        _link, url = listings.send_link(
            organization=organization,
            contact_email=organization.email,
            by=request.user,
            base_url=request.build_absolute_uri("/"),
        )
        modeladmin.message_user(
            request,
            f"{organization.name}: link emailed to {organization.email}. It is shown this once: "
            f"{url}",
            messages.SUCCESS,
        )


send_listing_link.short_description = "Send a link to the organisation's contact"
OrganizationAdmin.actions = [*(OrganizationAdmin.actions or []), send_listing_link]


class ListingChangeReviewForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve: apply the changes"), ("reject", "Reject")],
        widget=forms.RadioSelect,
    )

    class Meta:
        model = ListingChange
        fields = ["reason"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Give the reason for rejecting the change.")
        return cleaned


@admin.register(ListingChange)
class ListingChangeAdmin(NoDeleteMixin, admin.ModelAdmin):
    """The review queue: changes organisations proposed, field by field (as it was → as
    proposed). Approving applies them to the listing; rejecting keeps the listing as it is."""

    form = ListingChangeReviewForm
    list_display = (
        "service",
        "organization",
        "changed_fields",
        "created_at",
        "status",
        "decided_by",
    )
    list_filter = ("status",)
    search_fields = ("service__name", "service__organization__name")
    list_select_related = ("service__organization", "decided_by")
    readonly_fields = ("service", "proposed_by", "created_at", "changes", "status", "decided")

    def get_fields(self, request, obj=None):
        fields = ["service", "proposed_by", "created_at", "changes", "status"]
        if obj is not None and obj.status == ListingChange.Status.PENDING:
            return [*fields, "decision", "reason"]
        return [*fields, "decided", "reason"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != ListingChange.Status.PENDING:
            return [*self.readonly_fields, "reason"]
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # organisations propose them through their link

    @admin.display(description="organisation")
    def organization(self, change):
        return change.service.organization

    @admin.display(description="fields")
    def changed_fields(self, change):
        from directory.listings import EDITABLE_FIELDS

        return ", ".join(EDITABLE_FIELDS[n] for n in EDITABLE_FIELDS if n in change.proposed)

    @admin.display(description="proposed by")
    def proposed_by(self, change):
        link = change.link
        return (
            f"{link.contact_name} <{link.contact_email}>"
            if link.contact_name
            else link.contact_email
        )

    @admin.display(description="decided")
    def decided(self, change):
        if not change.decided_at:
            return "-"
        return f"{change.get_status_display()} by {change.decided_by} on {change.decided_at:%-d %b %Y %H:%M}"

    @admin.display(description="changes")
    def changes(self, change):
        from django.utils.html import format_html, format_html_join

        from directory.listings import diff

        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td><del>{}</del></td><td><ins>{}</ins></td><td>{}</td></tr>",
            (
                (
                    row.label,
                    row.before or "(empty)",
                    row.after or "(empty)",
                    "changed since: check" if row.changed_since else "",
                )
                for row in diff(change)
            ),
        )
        return format_html(
            "<table><thead><tr><th scope='col'>Field</th><th scope='col'>As it was</th>"
            "<th scope='col'>Proposed</th><th scope='col'>Note</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request, obj, form, change):
        from django.contrib import messages

        from directory import listings

        if form.cleaned_data.get("decision") == "approve":
            for todo in listings.approve(obj, by=request.user):
                messages.warning(request, todo)
        elif form.cleaned_data.get("decision") == "reject":
            listings.reject(obj, by=request.user, reason=form.cleaned_data["reason"])

    def log_change(self, request, obj, message):
        return None  # listings.approve/reject logged it


@admin.register(CancelledSession)
class CancelledSessionAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = ("service", "date", "note", "link", "created_at")
    list_filter = ("date",)
    search_fields = ("service__name", "note")
    list_select_related = ("service", "link__organization")
    readonly_fields = ("service", "schedule", "date", "note", "link", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ListingConfirmation)
class ListingConfirmationAdmin(NoDeleteMixin, admin.ModelAdmin):
    list_display = ("service", "at", "link")
    list_select_related = ("service", "link__organization")
    search_fields = ("service__name",)
    readonly_fields = ("service", "link", "at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
