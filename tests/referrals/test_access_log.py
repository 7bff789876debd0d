"""Every view of a patient's details writes one access-log row; nothing else does."""

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse

from referrals.models import AccessLog


class AccessLogTests:
    @pytest.mark.parametrize("role", ["clinician", "trainer", "lead"])
    def test_it_logs_each_view_of_the_referral_page(self, client, world, role):
        client.force_login(world.user(role))
        url = reverse("referrals-detail", args=[world.referral.pk])
        client.get(url, REMOTE_ADDR="203.0.113.7")
        client.get(url, REMOTE_ADDR="203.0.113.7")
        rows = AccessLog.objects.filter(user=world.user(role))
        assert rows.count() == 2
        row = rows.first()
        assert (row.patient, row.referral, row.ip_address, row.channel, row.path) == (
            world.referral.patient,
            world.referral,
            "203.0.113.7",
            "page",
            url,
        )

    def test_it_logs_each_api_detail_read(self, client, world):
        client.force_login(world.trainer)
        response = client.get(reverse("api-referral", args=[world.referral.pk]))
        assert response.json()["patient"]["nhs_number"] == world.referral.patient.nhs_number_display
        row = AccessLog.objects.get()
        assert (row.user, row.channel, row.referral) == (world.trainer, "api", world.referral)

    @pytest.mark.parametrize(
        ("name", "with_pk"),
        [
            ("referrals-list", False),
            ("referrals-queue", False),
            ("referrals-caseload", False),
            ("referrals-timeline", True),
            ("referrals-measures", True),
            ("referrals-follow-up", True),
            ("referrals-decline", True),
            ("referrals-close", True),
            ("referrals-notifications", False),
            ("api-referrals", False),
            ("api-referral-events", True),
            ("api-referral-follow-ups", True),
        ],
    )
    def test_it_does_not_log_views_without_the_patients_details(self, client, world, name, with_pk):
        client.force_login(world.trainer)
        response = client.get(reverse(name, args=[world.referral.pk] if with_pk else []))
        assert response.status_code == 200
        assert AccessLog.objects.count() == 0

    @pytest.mark.parametrize("role", ["other_trainer", "other_clinician", "manager", "outsider"])
    def test_it_does_not_log_a_refused_view(self, client, world, role):
        client.force_login(world.user(role))
        client.get(reverse("referrals-detail", args=[world.referral.pk]))
        client.get(reverse("api-referral", args=[world.referral.pk]))
        assert AccessLog.objects.count() == 0

    def test_it_does_not_log_actions(self, client, world):
        client.force_login(world.trainer)
        client.post(reverse("referrals-accept", args=[world.referral.pk]), {"version": 1})
        assert AccessLog.objects.count() == 0


class AccessLogAdminTests:
    def test_it_lets_admins_read_but_never_add_change_or_delete(self, world):
        request = RequestFactory().get("/")
        request.user = world.admin
        admin = site._registry[AccessLog]
        assert admin.has_view_permission(request)
        assert not admin.has_add_permission(request)
        assert not admin.has_change_permission(request)
        assert not admin.has_delete_permission(request)

    def test_it_shows_the_log_to_an_admin_in_the_admin_site(self, client, world):
        client.force_login(world.trainer)
        client.get(reverse("referrals-detail", args=[world.referral.pk]))
        client.force_login(world.admin)
        response = client.get(reverse("admin:referrals_accesslog_changelist"))
        assert response.status_code == 200
        assert "trainer" in response.content.decode()
        row = AccessLog.objects.get()
        assert (
            client.post(
                reverse("admin:referrals_accesslog_delete", args=[row.pk]), {"post": "yes"}
            ).status_code
            == 403
        )
        assert AccessLog.objects.count() == 1

    def test_it_keeps_the_log_from_staff_who_are_not_admins(self, client, world):
        world.editor.is_staff = True
        world.editor.save()
        client.force_login(world.editor)
        assert client.get(reverse("admin:referrals_accesslog_changelist")).status_code == 403


class AppendOnlyTests:
    def test_it_refuses_to_update_or_delete_a_row_in_the_database(self, client, world):
        from django.db import DatabaseError, transaction

        client.force_login(world.trainer)
        client.get(reverse("referrals-detail", args=[world.referral.pk]))
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AccessLog.objects.update(ip_address="198.51.100.1")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AccessLog.objects.all().delete()
        assert AccessLog.objects.get().ip_address == "127.0.0.1"
