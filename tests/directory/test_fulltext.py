"""Full-text search: English stemming, ranking, the organisation's name, web-search syntax."""

from directory.search import search_services
from tests.directory.conftest import make_service


def ranked(q, **params):
    return [s.name for s in search_services({"q": q, **params}).results]


class FullTextTests:
    def test_it_stems_english_words(self, db):
        make_service("Health Walks", description="Gentle walking for everyone")
        make_service("Choir", description="Sing together")

        assert ranked("walked") == ["Health Walks"]
        assert ranked("singing") == ["Choir"]

    def test_it_ranks_a_name_match_above_a_description_match(self, db):
        make_service("Allotment Club", description="Grow your own vegetables; gardening tips.")
        make_service("Gardening Group", description="Meet on Tuesdays at the allotment.")
        make_service("Knit and Natter", description="Crafts and tea.")

        assert ranked("gardening") == ["Gardening Group", "Allotment Club"]

    def test_it_matches_the_organisations_name(self, db):
        make_service("Tuesday Club", organization="Hyde Ramblers Association")

        assert ranked("ramblers") == ["Tuesday Club"]

    def test_it_understands_quotes_and_minus(self, db):
        make_service("Walking Football", description="Football at walking pace.")
        make_service("Walking Group", description="A walk in the park.")

        assert ranked("walking -football") == ["Walking Group"]
        assert ranked('"walking football"') == ["Walking Football"]

    def test_it_orders_by_distance_when_a_place_is_given(self, places):
        make_service("Gardening Far", at="SK15 1AA", description="gardening")
        make_service("Near Club", at="SK14 1PW", description="Some gardening on Fridays.")

        assert ranked("gardening", postcode="SK14 1AA") == ["Near Club", "Gardening Far"]

    def test_it_finds_nothing_for_stop_words_only(self, db):
        make_service("The Club")

        assert ranked("the") == []
