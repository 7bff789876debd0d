"""The NHS.UK form rendering every staff form uses (config/forms.py, templates/forms/): what a
person sees when a field is wrong, and the day/month/year date input."""

import re
from datetime import date

import pytest
from django import forms

from config.forms import DateInputField, NHSFormMixin, TimeInputField, error_links


class ExampleForm(NHSFormMixin, forms.Form):
    nouns = {"born": "the person's date of birth"}

    name = forms.CharField(label="First name", max_length=10, help_text="As they write it")
    notes = forms.CharField(label="Notes", widget=forms.Textarea, max_length=50, required=False)
    method = forms.ChoiceField(
        label="How would they like to be contacted?",
        choices=[("phone", "Phone"), ("email", "Email")],
        widget=forms.RadioSelect,
    )
    needs = forms.MultipleChoiceField(
        label="Needs", choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple
    )
    agreed = forms.BooleanField(
        label="They agreed", error_messages={"required": "Tick the box if they agreed"}
    )
    born = DateInputField(label="Date of birth", noun="the person's date of birth")
    score = forms.IntegerField(label="Score", min_value=0, max_value=10)
    pam = forms.DecimalField(label="PAM score", max_digits=4, decimal_places=1, required=False)
    at = TimeInputField(label="Time", required=False)


VALID = {
    "name": "Ada",
    "method": "phone",
    "needs": ["a"],
    "agreed": "on",
    "born_day": "27",
    "born_month": "3",
    "born_year": "1961",
    "score": "7",
}


def errors_for(**changes) -> dict[str, list[str]]:
    data = {**VALID, **changes}
    form = ExampleForm({k: v for k, v in data.items() if v is not None})
    form.is_valid()
    return {name: list(messages) for name, messages in form.errors.items()}


class MessageTests:
    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"name": None}, "name", "Enter the first name"),
            (
                {"name": "x" * 11},
                "name",
                "The first name must be 10 characters or fewer (it has 11)",
            ),
            (
                {"method": None},
                "method",
                "Select an answer to “How would they like to be contacted?”",
            ),
            (
                {"method": "letter"},
                "method",
                "Select an answer to “How would they like to be contacted?” from the list",
            ),
            ({"needs": None}, "needs", "Select the needs"),
            ({"agreed": None}, "agreed", "Tick the box if they agreed"),
            ({"score": "eleven"}, "score", "The score must be a whole number"),
            ({"score": "11"}, "score", "The score must be between 0 and 10"),
            ({"pam": "48.55"}, "pam", "The PAM score can have at most 1 decimal place"),
            ({"pam": "lots"}, "pam", "The PAM score must be a number"),
            ({"at": "25:00"}, "at", "The time must be a real time, like 14:30"),
        ],
    )
    def test_each_message_names_the_field_and_says_what_to_do(self, changes, field, message):
        assert errors_for(**changes)[field] == [message]

    def test_a_fields_own_message_wins(self):
        assert errors_for(agreed=None)["agreed"] == ["Tick the box if they agreed"]

    def test_no_django_default_message_survives(self):
        everything_wrong = {name: None for name in VALID} | {"score": "x", "name": "y" * 99}
        text = " ".join(m for ms in errors_for(**everything_wrong).values() for m in ms)
        for default in ("This field is required", "Enter a whole number", "Select a valid choice"):
            assert default not in text

    def test_a_decimal_with_one_place_and_a_time_like_2_30pm_are_accepted(self):
        form = ExampleForm({**VALID, "pam": "48.5", "at": "2.30pm"})
        assert form.is_valid(), form.errors
        assert str(form.cleaned_data["pam"]) == "48.5"
        assert form.cleaned_data["at"].strftime("%H:%M") == "14:30"


class DateInputTests:
    @pytest.mark.parametrize(
        ("day", "month", "year", "message"),
        [
            ("", "", "", "Enter the person's date of birth"),
            ("27", "", "1961", "The person's date of birth must include a month"),
            ("", "", "1961", "The person's date of birth must include a day and a month"),
            ("31", "2", "1961", "The person's date of birth must be a real date"),
            ("27", "March", "1961", "The person's date of birth must be a real date, in numbers"),
            ("27", "3", "61", "The year must include 4 numbers, like 2024"),
        ],
    )
    def test_each_way_a_date_can_be_wrong_has_its_message(self, day, month, year, message):
        found = errors_for(born_day=day, born_month=month, born_year=year)["born"]
        assert len(found) == 1 and found[0].startswith(message)

    def test_three_boxes_make_one_date(self):
        form = ExampleForm(VALID)
        assert form.is_valid(), form.errors
        assert form.cleaned_data["born"] == date(1961, 3, 27)

    def test_the_boxes_keep_what_was_typed_and_are_marked(self):
        form = ExampleForm({**VALID, "born_day": "31", "born_month": "2"})
        form.is_valid()
        html = str(form["born"].as_field_group())
        for part, value in (("day", "31"), ("month", "2"), ("year", "1961")):
            box = re.search(rf'<input[^>]*id="id_born_{part}"[^>]*>', html).group(0)
            assert f'value="{value}"' in box and "input--error" in box
            assert f'name="born_{part}"' in box
        assert '<label class="label date-input__label" for="id_born_day">Day</label>' in html
        assert 'role="group"' in html and "<legend" in html

    def test_an_initial_date_fills_the_boxes(self):
        html = str(ExampleForm(initial={"born": date(1961, 3, 27)})["born"].as_field_group())
        assert 'value="27"' in html and 'value="3"' in html and 'value="1961"' in html


class MarkupTests:
    def test_a_field_with_an_error_is_described_by_its_hint_and_message(self):
        form = ExampleForm({**VALID, "name": ""})
        form.is_valid()
        html = str(form["name"].as_field_group())
        assert 'class="form-group form-group--error"' in html
        assert '<label class="label" for="id_name">First name</label>' in html
        assert '<div class="hint" id="id_name-hint">As they write it</div>' in html
        assert (
            '<p class="error-message" id="id_name-error"><span class="visually-hidden">Error:'
            "</span> Enter the first name</p>" in html
        )
        field = re.search(r'<input[^>]*name="name"[^>]*>', html).group(0)
        assert 'aria-describedby="id_name-hint id_name-error"' in field
        assert 'aria-invalid="true"' in field and "input--error" in field
        assert " required" not in field  # the server says what is wrong, not browser bubbles

    def test_radios_are_a_fieldset_with_a_legend_and_big_inputs(self):
        html = str(ExampleForm()["method"].as_field_group())
        assert "<fieldset" in html
        assert "How would they like to be contacted?</legend>" in html
        assert html.count('class="radios__input"') == 2
        assert '<label class="radios__label" for="id_method_0">Phone</label>' in html
        assert "checked" not in html  # nothing is chosen for the person

    def test_long_text_has_a_character_count_and_is_never_cut_short(self):
        html = str(ExampleForm()["notes"].as_field_group())
        assert 'data-maxlength="50"' in html
        assert 'id="id_notes-info">You can enter up to 50 characters</div>' in html
        assert "maxlength" not in re.search(r"<textarea[^>]*>", html).group(0)

    def test_the_error_summary_links_each_message_to_its_field(self):
        form = ExampleForm({})
        form.is_valid()
        anchors = dict((message, anchor) for anchor, message in form.error_links())
        assert anchors["Enter the first name"] == "id_name"
        assert anchors["Select an answer to “How would they like to be contacted?”"] == (
            "id_method_0"
        )
        assert anchors["Enter the person's date of birth"] == "id_born_day"
        other = ExampleForm({}, prefix="other")
        other.is_valid()
        both = error_links(form, other)
        assert len(both) == 2 * len(form.error_links())
        assert both[-1][0].startswith("id_other-")
