"""Which teams cover a patient's postcode: service areas, or a radius around the base."""

from django.contrib.gis.geos import Point

from referrals.models import Team
from referrals.services import suggest_teams
from tests.referrals.factories import make_referral, make_service, make_team

HYDE = Point(-2.078805, 53.451886, srid=4326)  # SK14 1AA


class TeamCoverageTests:
    def test_it_finds_a_team_by_postcode_district(self, world):
        assert list(Team.objects.covering(HYDE, "SK14")) == [world.team]

    def test_it_finds_a_team_by_its_area_polygon(self, world):
        service = make_service(
            "Tameside trainers", lat=53.48, lng=-2.08, polygon=(-2.2, 53.4, -2.0, 53.5)
        )
        team = make_team("Tameside trainers", service)
        assert team in Team.objects.covering(HYDE, "SK99")
        assert world.team not in Team.objects.covering(HYDE, "SK99")

    def test_it_uses_a_radius_around_the_base_when_the_service_has_no_area(self, world):
        near = make_team("Near", make_service("Near trainers", lat=53.46, lng=-2.08), radius_m=2000)
        far = make_team("Far", make_service("Far trainers", lat=53.60, lng=-2.08), radius_m=2000)
        covering = list(Team.objects.covering(HYDE, "SK14"))
        assert near in covering and far not in covering

    def test_it_does_not_use_the_radius_when_the_area_excludes_the_place(self, world):
        # London's team has an area (EC1A): a huge radius does not make it cover Hyde.
        world.other_team.radius_m = 500_000
        world.other_team.save()
        assert world.other_team not in Team.objects.covering(HYDE, "SK14")

    def test_it_orders_nearest_first_with_open_cases(self, world):
        closer = make_team(
            "Closer", make_service("Closer trainers", lat=53.4519, lng=-2.0788, districts=["SK14"])
        )
        teams = list(Team.objects.covering(HYDE, "SK14"))
        assert teams == [closer, world.team]
        assert [t.open_cases for t in teams] == [0, 1]

    def test_it_counts_only_open_cases(self, world):
        make_referral(world.clinician, world.team)
        world.referral.decline(by=world.trainer, version=1, reason="Full")
        assert Team.objects.covering(HYDE, "SK14").get().open_cases == 1

    def test_it_suggests_teams_for_a_postcode(self, world):
        place, teams = suggest_teams(postcode="sk14 1pw")
        assert place.postcode == "SK14 1PW"
        assert teams == [world.team]
        assert teams[0].capacity == 2 * world.team.capacity_per_trainer
