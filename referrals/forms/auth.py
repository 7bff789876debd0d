"""Signing in to the staff pages."""

from django.contrib.auth.forms import AuthenticationForm

from config.forms import NHSFormMixin


class LoginForm(NHSFormMixin, AuthenticationForm):
    """Django's sign-in, with NHS.UK fields and messages that say what to do."""

    nouns = {"username": "your username", "password": "your password"}
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "Enter a correct username and password. Both are case-sensitive: check Caps Lock."
        ),
        "inactive": "This account has been turned off. Ask your administrator to turn it on.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"class": "input--width-20", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["password"].widget.attrs["class"] = "input--width-20"

    def error_links(self) -> list[tuple[str, str]]:
        # "Enter a correct username and password" belongs to no one field: go to the first.
        return [(anchor or self["username"].anchor, text) for anchor, text in super().error_links()]
