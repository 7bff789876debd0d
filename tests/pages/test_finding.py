"""Finding works from what people actually type (issue 12): a town's name, a postcode with O for
0, a choice between places of one name, the way back from a service, and its distance."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from directory.models import Contact, CostOption, Phone
from tests.conftest import add_place, add_postcode, rebuild_postcode_areas
from tests.pages.test_browser import results_names, visit  # noqa: F401  (the browser harness)

SEARCH = reverse("directory-search")


@pytest.fixture
def towns(directory):
    add_place(2646327, "Hyde", 53.45131, -2.07943, population=35895, area="Stockport")
    add_place(2641598, "Newport", 51.58774, -2.99835, nation="wales", population=161506)
    add_place(2641595, "Newport", 52.76684, -2.37734, population=12741, area="Telford")
    add_place(2638077, "Sheffield", 53.38297, -1.4659, population=556500)
    add_postcode("NP20 1AA", 51.5877, -2.9981)
    rebuild_postcode_areas()
    return directory


class PlaceNameSearchTests:
    def test_it_searches_near_a_town_by_name(self, client, towns):
        response = client.get(SEARCH, {"postcode": "hyde"})

        assert response.status_code == 200
        html = response.content.decode()
        assert '<h1 class="heading-l">Support near Hyde</h1>' in html
        assert response.context["result"].total >= 4
        assert response.context["result"].place.precision == "place"
        # The box keeps what it searched from, and the home page asks for a town too.
        assert 'value="Hyde"' in html
        assert "Enter your postcode or town" in client.get("/").content.decode()

    def test_it_drops_city_centre(self, client, towns):
        response = client.get(SEARCH, {"postcode": "Hyde town centre"})
        assert response.context["result"].place.label == "Hyde"

    def test_a_neighbourhood_it_does_not_know_is_searched_near_its_town_and_said(
        self, client, towns
    ):
        html = client.get(SEARCH, {"postcode": "Sharrow, Sheffield"}).content.decode()
        assert "We do not know Sharrow by name, so these are near Sheffield instead." in html

    def test_it_asks_which_newport_with_a_link_for_each(self, client, towns):
        response = client.get(SEARCH, {"postcode": "Newport", "need": "loneliness"})

        assert response.status_code == 400
        html = response.content.decode()
        assert "There is more than one Newport." in html
        links = response.context["where_choices"]
        assert [link["name"] for link in links] == [
            "Newport, Wales",
            "Newport, near Telford, England",
        ]
        query = parse_qs(urlsplit(links[0]["url"]).query)
        # The other choices the person made are kept.
        assert query == {
            "postcode": ["Newport, Wales"],
            "place": ["2641598"],
            "need": ["loneliness"],
        }
        chosen = client.get(links[0]["url"])
        assert chosen.status_code == 200
        assert chosen.context["result"].place.nation == "wales"
        assert "Support near Newport, Wales" in chosen.content.decode()

    def test_a_stale_place_choice_is_a_message_by_the_box(self, client, towns):
        response = client.get(SEARCH, {"postcode": "Newport", "place": "1"})

        assert response.status_code == 400
        assert "We no longer know that place." in response.content.decode()
        assert response.context["errors"]["postcode"]


class PostcodeSlipTests:
    def test_it_reads_ski4_and_says_what_it_showed(self, client, towns):
        response = client.get(SEARCH, {"postcode": "SKI4 IAA"})

        assert response.status_code == 200
        html = response.content.decode()
        assert "Showing results for SK14 1AA." in html
        assert "You typed SKI4 IAA" in html
        assert 'value="SK14 1AA"' in html

    def test_the_api_gives_the_postcode_used_and_a_flag(self, client, towns):
        body = client.get("/api/services/", {"postcode": "skI4 Iaa"}).json()

        assert body["place"]["postcode"] == "SK14 1AA"
        assert body["place"]["postcode_corrected"] is True
        plain = client.get("/api/services/", {"postcode": "SK14 1AA"}).json()
        assert plain["place"]["postcode_corrected"] is False


class WhereApiTests:
    def test_an_ambiguous_place_is_a_400_with_choices_to_send_back(self, client, towns):
        response = client.get("/api/services/", {"postcode": "Newport"})

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "ambiguous_place"
        assert body["choices"] == [
            {"name": "Newport, Wales", "place": "2641598"},
            {"name": "Newport, near Telford, England", "place": "2641595"},
        ]
        assert body["errors"]["postcode"][0].startswith("There is more than one Newport.")
        chosen = client.get("/api/services/", {"place": body["choices"][0]["place"]}).json()
        assert chosen["place"]["name"] == "Newport, Wales"
        assert chosen["place"]["nation"] == "wales"
        assert chosen["place"]["precision"] == "place"

    def test_an_unknown_place_is_a_plain_400(self, client, towns):
        body = client.get("/api/services/", {"postcode": "Atlantis"}).json()
        assert "code" not in body
        assert body["errors"]["postcode"][0].startswith("'Atlantis' is not a UK postcode")

    def test_the_schema_documents_place_and_the_choices(self, client, towns):
        schema = client.get("/api/schema/", {"format": "json"}).json()
        operation = schema["paths"]["/api/services/"]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"postcode", "place"} <= names
        assert "ambiguous_place" in operation["responses"]["400"]["description"]

    def test_the_open_referral_feed_takes_a_town_too(self, client, towns):
        response = client.get("/openreferral/service_at_locations", {"postcode": "Hyde"})
        assert response.status_code == 200
        assert response.json()["total_items"] >= 4
        refused = client.get("/openreferral/service_at_locations", {"postcode": "Newport"})
        assert refused.status_code == 400
        assert "Newport, Wales" in refused.content.decode()


class ServicePageTests:
    def test_it_links_back_to_the_results_and_says_how_far(self, client, towns):
        results = client.get(SEARCH, {"postcode": "SK14 1AA", "need": "physical-activity"})
        link = next(s.page_url for s in results.context["result"].results if "Walking" in s.name)

        page = client.get(link)

        html = page.content.decode()
        assert page.context["back_url"] == f"{SEARCH}?postcode=SK14+1AA&need=physical-activity"
        assert 'class="back-link"' in html and ">Back to results</a>" in html
        # SK14 1PW is about 650 m from SK14 1AA.
        assert "0.4 miles (0.6 km) from SK14 1AA" in html
        assert page.context["map"]["markers"][0]["name"] == "Hyde Walking Group venue"
        assert 'id="map-data"' in html

    def test_from_cannot_send_anyone_elsewhere(self, client, towns):
        url = reverse("directory-service", args=[towns.walking.pk])
        page = client.get(url, {"from": "next=https://evil.example/&postcode=SK14 1AA"})

        assert page.context["back_url"] == f"{SEARCH}?postcode=SK14+1AA"
        assert 'href="https://evil' not in page.content.decode()
        plain = client.get(url, {"from": "next=https://evil.example/"})
        assert plain.context["back_url"] == "" and "Back to results" not in plain.content.decode()

    def test_without_a_search_there_is_no_distance_but_still_a_map(self, client, towns):
        page = client.get(reverse("directory-service", args=[towns.walking.pk]))

        assert "data-distance" not in page.content.decode()
        assert page.context["map"]["markers"]

    def test_the_cost_is_said_once(self, client, towns):
        service = towns.walking
        CostOption.objects.create(service=service, option="free", amount=Decimal("0"))
        service.fees = "Free"
        service.save()

        html = client.get(reverse("directory-service", args=[service.pk])).content.decode()
        cost = html.split("<dt>Cost</dt>", 1)[1].split("</dd>", 1)[0]

        assert cost.lower().count("free") == 1
        assert "free: free" not in cost.lower()

    def test_cost_options_that_say_more_are_listed(self, client, towns):
        CostOption.objects.create(service=towns.money, option="Concessions", amount=Decimal("1.50"))

        html = client.get(reverse("directory-service", args=[towns.money.pk])).content.decode()
        cost = html.split("<dt>Cost</dt>", 1)[1].split("</dd>", 1)[0]
        assert "Concessions: £1.50" in cost

    def test_every_phone_number_has_a_label(self, client, towns):
        service = towns.walking
        Phone.objects.create(service=service, number="0161 496 0099")
        contact = Contact.objects.create(service=service, name="Sam", title="Walk leader")
        Phone.objects.create(contact=contact, number="07700 900123")

        html = client.get(reverse("directory-service", args=[service.pk])).content.decode()

        assert "Phone 1: <a" in html and "Phone 2: <a" in html
        assert "Sam, Walk leader: <a" in html


# --- In the browser: phone and desktop, JavaScript on and off, axe-core on each page ---------
@pytest.fixture
def browser_towns(towns):
    return towns


@pytest.mark.browser
def test_find_by_town_choose_a_newport_and_go_back(visit, browser_towns):  # noqa: F811
    page = visit.page
    page.goto("/")
    page.get_by_label("Enter your postcode or town").fill("Hyde")
    page.get_by_role("button", name="Find support").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support near Hyde")
    assert "Hyde Walking Group" in results_names(page)
    visit.scan("results near a town")

    # A service, its distance from Hyde, and the way back to the same results.
    page.get_by_role("link", name="Hyde Walking Group").click()
    expect(page.locator("[data-distance]")).to_contain_text("from Hyde")
    visit.scan("service page from a search")
    page.get_by_role("link", name="Back to results").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support near Hyde")

    # Two Newports: a question, answered with a link.
    page.get_by_label("Your postcode or town").fill("Newport")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#postcode-error")).to_contain_text("There is more than one Newport.")
    visit.scan("which Newport?")
    page.get_by_role("link", name="Newport, Wales", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Support near Newport, Wales")
    visit.screenshot("finding-newport")


@pytest.mark.browser
def test_a_postcode_with_a_slip_and_one_from_far_away(visit, browser_towns):  # noqa: F811
    import importlib

    from django.apps import apps

    importlib.import_module("directory.migrations.0010_helpline").seed(apps, None)
    add_postcode("KW1 4AJ", 58.441364, -3.094025)
    rebuild_postcode_areas()
    add_place(2633982, "Wick", 58.43906, -3.09424, nation="scotland", population=7140)
    page = visit.page

    page.goto("/")
    page.get_by_label("Enter your postcode or town").fill("SKI4 IAA")
    page.get_by_role("button", name="Find support").click()
    expect(page.locator("[data-corrected]")).to_contain_text("Showing results for SK14 1AA.")
    visit.scan("a postcode read with 1 for I")

    page.get_by_label("Your postcode or town").fill("KW1 4AJ")
    page.get_by_role("button", name="Search").click()
    section = page.locator("[data-out-of-area]")
    expect(section).to_contain_text("No services in Flourish are near KW1 4AJ yet (Scotland).")
    expect(section.get_by_role("link", name="ALISS")).to_be_visible()
    expect(section).to_contain_text("NHS 24")
    expect(section.locator(".out-of-area__nearest li").first).to_contain_text("away")
    visit.scan("out of area")
    visit.screenshot("finding-out-of-area")
