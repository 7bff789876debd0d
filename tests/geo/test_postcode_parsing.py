import pytest

from geo.postcodes import InvalidPostcode, parse

# Every shape of outward code Royal Mail uses (A9, A99, A9A, AA9, AA99, AA9A) and the one
# historic exception, Girobank's GIR 0AA.
VALID = ["GIR 0AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT"]


class NormalisePostcodeTests:
    @pytest.mark.parametrize(
        "typed, expected",
        [
            ("sk144de", "SK14 4DE"),
            (" SK14  4DE ", "SK14 4DE"),
            ("SK14 4de", "SK14 4DE"),
            ("\tsk14\n4de", "SK14 4DE"),
            ("ec1a1bb", "EC1A 1BB"),
            ("m11ae", "M1 1AE"),
            ("gir0aa", "GIR 0AA"),
        ],
    )
    def test_it_normalises_case_and_spacing(self, typed, expected):
        assert parse(typed).postcode == expected

    @pytest.mark.parametrize("postcode", VALID)
    def test_it_accepts_every_shape_of_postcode(self, postcode):
        parsed = parse(postcode)

        assert parsed.postcode == postcode
        assert parsed.outcode == postcode.split(" ")[0]

    @pytest.mark.parametrize("postcode", VALID)
    def test_it_accepts_every_shape_unspaced_and_lower_case(self, postcode):
        assert parse(postcode.replace(" ", "").lower()).postcode == postcode

    @pytest.mark.parametrize(
        "postcode, outcode, sector",
        [("SK14 4DE", "SK14", "SK14 4"), ("EC1A 1BB", "EC1A", "EC1A 1"), ("M1 1AE", "M1", "M1 1")],
    )
    def test_it_splits_a_postcode_into_district_and_sector(self, postcode, outcode, sector):
        parsed = parse(postcode)

        assert parsed.outcode == outcode
        assert parsed.sector == sector

    @pytest.mark.parametrize("typed, outcode", [("SK14", "SK14"), ("W1A", "W1A"), (" w1a ", "W1A")])
    def test_it_accepts_an_outcode_on_its_own(self, typed, outcode):
        parsed = parse(typed)

        assert parsed.outcode == outcode
        assert parsed.postcode is None
        assert parsed.sector is None


class RejectPostcodeTests:
    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "   ",
            "QQ1 1AA",  # Q never starts a postcode
            "SK14 4D",  # inward code too short
            "12345",
            "SK14-4DE!",
            "SK14 4DEX",  # one character too many
            "SK14 4DE SK14 4DE",
            "SK14 4CE",  # C is never used in the inward code
            "X" * 5000,
        ],
    )
    def test_it_rejects_malformed_text_saying_what_a_postcode_looks_like(self, typed):
        with pytest.raises(InvalidPostcode) as raised:
            parse(typed)

        message = str(raised.value)
        assert "postcode" in message
        assert "SK14 4QH" in message and "EC1A 1BB" in message
        # Whatever was typed is quoted back briefly, never in full.
        assert len(message) < 200

    def test_it_rejects_an_outcode_where_a_full_postcode_is_needed(self):
        with pytest.raises(InvalidPostcode):
            parse("SK14", allow_outcode=False)

    def test_it_still_accepts_a_full_postcode_where_one_is_needed(self):
        assert parse("SK14 4DE", allow_outcode=False).postcode == "SK14 4DE"
