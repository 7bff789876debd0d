"""NHS numbers: Modulus 11 check digits, stored as 10 digits, shown 3-3-4, one patient each."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from referrals.models import Patient, format_nhs_number, nhs_check_digit, validate_nhs_number
from tests.referrals.factories import make_referral, patient_data


class NhsNumberTests:
    @pytest.mark.parametrize(
        "number", ["9434765919", "943 476 5919", "943-476-5919", "9990001006", "4010232137"]
    )
    def test_it_accepts_valid_numbers(self, number):
        validate_nhs_number(number)

    @pytest.mark.parametrize("number", ["9434765918", "9434765910", "1234567890"])
    def test_it_refuses_a_wrong_check_digit(self, number):
        with pytest.raises(ValidationError, match="not a valid NHS number"):
            validate_nhs_number(number)

    def test_it_refuses_a_number_whose_check_value_is_10(self):
        # Some first-nine digits give a check value of 10: no tenth digit makes them valid.
        first_nine = next(
            f"999{n:06d}" for n in range(1000) if nhs_check_digit(f"999{n:06d}") is None
        )
        total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
        assert 11 - total % 11 == 10
        for last in "0123456789":
            with pytest.raises(ValidationError):
                validate_nhs_number(first_nine + last)

    def test_it_turns_a_check_value_of_11_into_0(self):
        first_nine = next(
            f"999{n:06d}"
            for n in range(1000)
            if (
                sum(int(d) * w for d, w in zip(f"999{n:06d}", range(10, 1, -1), strict=True)) % 11
                == 0
            )
        )
        assert nhs_check_digit(first_nine) == 0
        validate_nhs_number(first_nine + "0")

    @pytest.mark.parametrize("number", ["", "94347659", "94347659190", "943476591X"])
    def test_it_refuses_anything_but_ten_digits(self, number):
        with pytest.raises(ValidationError, match="10 digits"):
            validate_nhs_number(number)

    def test_it_shows_numbers_as_3_3_4(self):
        assert format_nhs_number("9434765919") == "943 476 5919"


class OnePatientPerNumberTests:
    def test_it_stores_ten_digits_and_finds_the_first_patient_on_a_second_referral(self, world):
        data = patient_data(nhs_number="943 476 5919", phone="07700 900001")
        first = make_referral(world.clinician, world.team, patient=data)
        second = make_referral(
            world.clinician, world.team, patient={**data, "phone": "07700 900002"}
        )
        assert first.patient_id == second.patient_id
        patient = Patient.objects.get(pk=first.patient_id)
        assert patient.nhs_number == "9434765919"
        assert patient.nhs_number_display == "943 476 5919"
        assert patient.phone == "07700 900002"  # the newest contact details win

    def test_it_refuses_a_second_referral_with_a_different_date_of_birth(self, world):
        data = patient_data(nhs_number="9434765919")
        make_referral(world.clinician, world.team, patient=data)
        with pytest.raises(ValidationError, match="different date of birth"):
            make_referral(
                world.clinician, world.team, patient={**data, "date_of_birth": date(1999, 1, 1)}
            )

    def test_it_places_the_postcode_with_the_gazetteer(self, world):
        patient = world.referral.patient
        assert patient.postcode == "SK14 1AA"
        assert patient.point is not None
        assert round(patient.point.y, 4) == 53.4519
