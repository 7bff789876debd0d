"""NHS.UK form patterns for every staff form, through Django's form rendering API.

A form that mixes in ``NHSFormMixin`` renders each field with ``{{ form.field.as_field_group }}``
(or all of them with ``{{ form }}``) as the NHS.UK design system's components: label or legend,
hint, an error message that names the field, big radios and checkboxes, day/month/year date
boxes, a character count on long text. Its messages say what to do ("Enter the patient's date
of birth"), never "This field is required.". The markup lives in ``templates/forms/``.
"""

from datetime import date, time

from django import forms
from django.core import validators
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import TemplatesSetting

TEXT_WIDGETS = (
    forms.TextInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.DateInput,
    forms.TimeInput,
    forms.DateTimeInput,
)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


class DateInputWidget(forms.MultiWidget):
    """NHS.UK's date input: day, month and year boxes named ``<name>_day`` and so on."""

    template_name = "forms/widgets/date_input.html"
    PARTS = (("day", "Day", 2), ("month", "Month", 2), ("year", "Year", 4))

    def __init__(self, attrs=None, autocomplete: str | None = None):
        boxes = {}
        for part, _label, width in self.PARTS:
            box = {"inputmode": "numeric", "class": f"date-input__input input--width-{width}"}
            if autocomplete:
                box["autocomplete"] = f"{autocomplete}-{part}"
            boxes[part] = forms.TextInput(attrs=box)
        super().__init__(widgets=boxes, attrs=attrs)

    def decompress(self, value):
        if isinstance(value, date):
            return [value.day, value.month, value.year]
        return [None, None, None]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # Ids by part (id_born_day), not by position, so the error summary can link to a box.
        base_id = (attrs or {}).get("id") or self.attrs.get("id")
        for (part, label, _width), widget, sub in zip(
            self.PARTS, self.widgets, context["widget"]["subwidgets"], strict=True
        ):
            sub["label"] = label
            # The box's own width class, and the field's (input, input--error) on top.
            classes = [*widget.attrs["class"].split(), *sub["attrs"].get("class", "").split()]
            sub["attrs"]["class"] = " ".join(dict.fromkeys(classes))
            if base_id:
                sub["attrs"]["id"] = f"{base_id}_{part}"
        return context

    def id_for_label(self, id_):
        return f"{id_}_day" if id_ else id_


class DateInputField(forms.MultiValueField):
    """Three boxes to one ``date``, with NHS.UK's message for each way a date can be wrong.

    ``noun`` is how messages name the date ("the date of birth"). Validators (the model's
    rules) run on the date once it is a real one."""

    widget = DateInputWidget

    def __init__(self, *, noun: str = "the date", **kwargs):
        self.noun = noun
        part = forms.CharField(required=False)
        kwargs.setdefault("require_all_fields", False)
        super().__init__(fields=(part, part, part), **kwargs)

    def clean(self, value):
        parts = list(value) if isinstance(value, (list, tuple)) else [None, None, None]
        day, month, year = ("" if v is None else str(v).strip() for v in (parts + [None] * 3)[:3])
        noun = self.noun
        if not (day or month or year):
            if self.required:
                raise ValidationError(
                    self.error_messages.get("required_date") or f"Enter {noun}", code="required"
                )
            return None
        missing = [
            name for name, text in (("day", day), ("month", month), ("year", year)) if not text
        ]
        if missing:
            raise ValidationError(
                f"{_capital(noun)} must include a {' and a '.join(missing)}", code="incomplete"
            )
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            raise ValidationError(
                f"{_capital(noun)} must be a real date, in numbers, like 27 3 2024", code="invalid"
            )
        if len(year) != 4:
            raise ValidationError("The year must include 4 numbers, like 2024", code="invalid")
        try:
            result = date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError(f"{_capital(noun)} must be a real date", code="invalid") from None
        self.run_validators(result)
        return result

    def compress(self, data_list):  # clean() above does the work
        return data_list

    def has_changed(self, initial, data):
        return self.widget.decompress(initial) != [
            int(v) if str(v or "").isdigit() else v for v in (data or [])
        ]


class TimeInputField(forms.TimeField):
    """A time typed as 14:30 (or 2.30pm, 1430)."""

    widget = forms.TextInput(attrs={"class": "input--width-5", "inputmode": "text"})
    input_formats = ["%H:%M", "%H.%M", "%H%M", "%I:%M%p", "%I.%M%p", "%I%p", "%I:%M %p"]

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().lower().replace(" ", "")
        return super().to_python(value)

    def prepare_value(self, value):
        if isinstance(value, time):
            return value.strftime("%H:%M")
        return value


class FlourishBoundField(BoundField):
    """A field as the NHS.UK templates need it: its kind of control, the ids of its hint and
    error message, its classes and ``aria-describedby``."""

    @property
    def kind(self) -> str:
        widget = self.field.widget
        if widget.is_hidden:
            return "hidden"
        if isinstance(widget, DateInputWidget):
            return "date"
        if isinstance(widget, forms.RadioSelect):
            return "radios"
        if isinstance(widget, forms.CheckboxSelectMultiple):
            return "checkboxes"
        if isinstance(widget, forms.CheckboxInput):
            return "checkbox"
        if isinstance(widget, forms.Textarea):
            return "textarea"
        if isinstance(widget, forms.Select):
            return "select"
        return "input"

    @property
    def hint_id(self) -> str:
        return f"{self.auto_id}-hint"

    @property
    def error_id(self) -> str:
        return f"{self.auto_id}-error"

    @property
    def count_id(self) -> str:
        return f"{self.auto_id}-info"

    @property
    def max_length(self) -> int | None:
        return getattr(self.field, "max_length", None) if self.kind == "textarea" else None

    @property
    def inline(self) -> bool:
        return bool(self.field.widget.attrs.get("data-inline"))

    @property
    def anchor(self) -> str:
        """Where the error summary links to: the first radio, checkbox or date box."""
        if self.kind in ("radios", "checkboxes"):
            return f"{self.auto_id}_0"
        if self.kind == "date":
            return f"{self.auto_id}_day"
        return self.auto_id

    @property
    def described_by(self) -> str:
        ids = []
        if self.help_text:
            ids.append(self.hint_id)
        if self.max_length:
            ids.append(self.count_id)
        if self.errors:
            ids.append(self.error_id)
        return " ".join(ids)

    def build_widget_attrs(self, attrs, widget=None):
        widget = widget or self.field.widget
        attrs = super().build_widget_attrs(attrs, widget)
        kind = self.kind
        base = {
            "input": "input",
            "textarea": "textarea",
            "select": "select",
            "radios": "radios__input",
            "checkboxes": "checkboxes__input",
            "checkbox": "checkboxes__input",
            "date": "input",
        }.get(kind)
        if base:
            classes = [
                base,
                *widget.attrs.get("class", "").split(),
                *attrs.get("class", "").split(),
            ]
            if self.errors and kind in ("input", "textarea", "select", "date"):
                classes.append(f"{base}--error")
            attrs["class"] = " ".join(dict.fromkeys(classes))
        if kind in ("input", "textarea", "select", "checkbox") and not widget.attrs.get(
            "aria-describedby"
        ):
            if described := self.described_by:
                attrs["aria-describedby"] = described
            else:
                attrs.pop("aria-describedby", None)
        if self.max_length:
            # Pasting past the limit must not silently cut the text: the count says so, and the
            # server refuses it with a message, the text kept.
            attrs["maxlength"] = False
        return attrs


class FlourishFormRenderer(TemplatesSetting):
    """Django's form rendering through the project's templates (``templates/forms/``)."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
    bound_field_class = FlourishBoundField


RENDERER = FlourishFormRenderer()

# Django's own wording, replaced by messages that name the field and say what to do.
CHOICE_FIELDS = (forms.ChoiceField, forms.ModelChoiceField, forms.ModelMultipleChoiceField)


def _default_messages(field: forms.Field) -> set[str]:
    found = set()
    for klass in type(field).__mro__:
        found.update(str(m) for m in getattr(klass, "default_error_messages", {}).values())
    return found


class NHSFormMixin:
    """Mixed into every staff form: the NHS.UK renderer, labels without a colon, and messages
    that name the field. ``nouns`` says how messages name a field ("the person's date of
    birth"); otherwise "the" and its label. A field's own ``error_messages`` always win."""

    default_renderer = RENDERER
    # Errors come from the server, in the error summary and by the field, not from the browser's
    # own bubbles (which differ by browser, vanish, and are not read out reliably).
    use_required_attribute = False
    nouns: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            self._name_messages(name, field)

    def noun(self, name: str) -> str:
        if name in self.nouns:
            return self.nouns[name]
        label = str(self.fields[name].label or name.replace("_", " "))
        if label.endswith("?"):  # a question: "Select an answer to 'How should we ...?'"
            return f"an answer to “{label}”"
        if label[1:2].islower():  # "First name" -> "the first name"; "PAM score" stays
            label = label[:1].lower() + label[1:]
        return f"the {label}".rstrip(":. ")

    def _name_messages(self, name: str, field: forms.Field) -> None:
        if isinstance(field.widget, forms.HiddenInput) or isinstance(field, DateInputField):
            return
        noun = self.noun(name)
        defaults = _default_messages(field)
        messages = field.error_messages

        def replace(key: str, text: str) -> None:
            if key in messages and str(messages[key]) in defaults:
                messages[key] = text

        if isinstance(field.widget, forms.CheckboxInput):
            label = field.label or name.replace("_", " ")
            replace("required", f"Select “{label}” to go on")
        elif isinstance(field, CHOICE_FIELDS) or isinstance(field.widget, forms.Select):
            replace("required", f"Select {noun}")
        else:
            replace("required", f"Enter {noun}")
        replace("invalid_choice", f"Select {noun} from the list")
        replace("invalid_list", f"Select {noun} from the list")
        replace("invalid_pk_value", f"Select {noun} from the list")
        if isinstance(field, forms.DecimalField | forms.FloatField):  # before IntegerField,
            replace("invalid", f"{_capital(noun)} must be a number")  # their base class
        elif isinstance(field, forms.IntegerField):
            replace("invalid", f"{_capital(noun)} must be a whole number")
        elif isinstance(field, forms.EmailField):
            replace("invalid", f"Enter {noun} in the right format, like name@example.com")
        elif isinstance(field, forms.DateTimeField):
            replace("invalid", f"{_capital(noun)} must be a real date and time")
        elif isinstance(field, forms.DateField):
            replace("invalid", f"{_capital(noun)} must be a real date")
        elif isinstance(field, forms.TimeField):
            replace("invalid", f"{_capital(noun)} must be a real time, like 14:30")
        # Length and range come from validators with their own wording.
        low = high = None
        for validator in field.validators:
            if isinstance(validator, validators.MinValueValidator):
                low = validator.limit_value
            elif isinstance(validator, validators.MaxValueValidator):
                high = validator.limit_value
        renamed = []
        for validator in field.validators:
            if isinstance(validator, validators.MaxLengthValidator):
                validator = validators.MaxLengthValidator(
                    validator.limit_value,
                    message=f"{_capital(noun)} must be %(limit_value)d characters or fewer "
                    "(it has %(show_value)d)",
                )
            elif isinstance(validator, validators.DecimalValidator):
                places = validator.decimal_places
                validator = validators.DecimalValidator(validator.max_digits, places)
                validator.messages = {
                    **validator.messages,
                    "invalid": f"{_capital(noun)} must be a number",
                    "max_decimal_places": f"{_capital(noun)} can have at most {places} decimal "
                    + ("place" if places == 1 else "places"),
                    "max_digits": f"{_capital(noun)} is too long",
                    "max_whole_digits": f"{_capital(noun)} is too large",
                }
            elif isinstance(validator, validators.MinValueValidator | validators.MaxValueValidator):
                if low is not None and high is not None:
                    text = f"{_capital(noun)} must be between {low} and {high}"
                elif low is not None:
                    text = f"{_capital(noun)} must be {low} or more"
                else:
                    text = f"{_capital(noun)} must be {high} or less"
                validator = type(validator)(validator.limit_value, message=text)
            renamed.append(validator)
        field.validators = renamed

    def error_links(self) -> list[tuple[str, str]]:
        """The error summary's entries: (anchor of the field, message)."""
        links = []
        for name, errors in self.errors.items():
            if name == NON_FIELD_ERRORS or name not in self.fields:
                anchor = ""
            else:
                anchor = self[name].anchor
            links.extend((anchor, message) for message in errors)
        return links


def error_links(*forms_on_page) -> list[tuple[str, str]]:
    """The error summary's entries for a page with several forms, in page order."""
    return [link for form in forms_on_page if form is not None for link in form.error_links()]
