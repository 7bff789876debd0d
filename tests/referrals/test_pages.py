from django.urls import reverse


class PageSmokeTests:
    def test_it_shows_each_page_to_a_trainer(self, client, world):
        client.force_login(world.trainer)
        pk = world.referral.pk
        for name in ["referrals-list", "referrals-queue", "referrals-caseload", "referrals-notifications"]:
            assert client.get(reverse(name)).status_code == 200, name
        for name in ["referrals-detail", "referrals-timeline", "referrals-decline", "referrals-close", "referrals-follow-up", "referrals-measures"]:
            assert client.get(reverse(name, args=[pk])).status_code == 200, name

    def test_it_shows_the_new_referral_form_to_a_clinician(self, client, world):
        client.force_login(world.clinician)
        response = client.get(reverse("referrals-new"))
        assert response.status_code == 200
        assert b"NHS number" in response.content
