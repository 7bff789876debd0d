from django.conf import settings
from rest_framework import serializers

from geo.models import UK_BOUNDS


class PlaceSerializer(serializers.Serializer):
    postcode = serializers.CharField(allow_null=True)
    outcode = serializers.CharField(allow_null=True)
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    precision = serializers.ChoiceField(choices=["postcode", "sector", "district"])


class NearestQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(
        min_value=UK_BOUNDS["min_lat"],
        max_value=UK_BOUNDS["max_lat"],
        error_messages={
            "min_value": "Latitude must be at least {min_value}: that is outside the UK.",
            "max_value": "Latitude must be at most {max_value}: that is outside the UK.",
            "invalid": "Latitude must be a number, like 53.45.",
        },
    )
    lng = serializers.FloatField(
        min_value=UK_BOUNDS["min_lng"],
        max_value=UK_BOUNDS["max_lng"],
        error_messages={
            "min_value": "Longitude must be at least {min_value}: that is outside the UK.",
            "max_value": "Longitude must be at most {max_value}: that is outside the UK.",
            "invalid": "Longitude must be a number, like -2.07.",
        },
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=settings.POSTCODE_NEAREST_MAX,
        default=10,
        error_messages={"max_value": "Ask for at most {max_value} postcodes."},
    )


class NearbyPostcodeSerializer(serializers.Serializer):
    postcode = serializers.CharField()
    outcode = serializers.CharField()
    latitude = serializers.FloatField(source="point.y")
    longitude = serializers.FloatField(source="point.x")
    distance_m = serializers.SerializerMethodField()

    def get_distance_m(self, obj) -> float:
        return round(obj.distance.m, 1)
