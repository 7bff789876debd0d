"""The access log records the client's address, read through a trusted proxy only."""

from django.urls import reverse

from referrals.models import AccessLog


class AccessLogAddressTests:
    def test_it_logs_the_client_behind_a_trusted_proxy(self, client, world, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
        client.force_login(world.clinician)
        url = reverse("referrals-detail", args=[world.referral.pk])
        client.get(url, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
        assert AccessLog.objects.get().ip_address == "203.0.113.7"

    def test_it_ignores_a_forwarded_address_from_anyone_else(self, client, world):
        client.force_login(world.clinician)
        url = reverse("referrals-detail", args=[world.referral.pk])
        client.get(url, REMOTE_ADDR="198.51.100.5", HTTP_X_FORWARDED_FOR="203.0.113.7")
        assert AccessLog.objects.get().ip_address == "198.51.100.5"
