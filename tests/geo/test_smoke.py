from django.urls import reverse


class PostcodeSmokeTests:
    def test_it_finds_a_known_postcode(self, client, gazetteer):
        response = client.get(reverse("geo-postcode", args=["sk141aa"]))
        assert response.status_code == 200
        assert response.json()["postcode"] == "SK14 1AA"
        assert response.json()["precision"] == "postcode"
