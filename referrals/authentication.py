"""Knox token authentication with a 401 that says what to do.

Named in REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES, so this module must not import DRF's
views (they read that setting while they load: a circular import).
"""

import re

from knox import auth as knox_auth
from rest_framework import exceptions

INVALID_TOKEN = (
    "Invalid or expired token. Get a new one from POST /api/auth/token/ with your username "
    "and password."
)
# Knox tokens are hex; anything else (spaces, NUL, non-ASCII) is refused before it reaches
# the database, which would reject a NUL with a server error.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,200}")


def revoke_all_tokens(user) -> None:
    """End every API token the user holds (signing out of the API everywhere, or of the pages)."""
    from knox.models import AuthToken

    AuthToken.objects.filter(user=user).delete()


class TokenAuthentication(knox_auth.TokenAuthentication):
    """``Authorization: Token <token>``; a token that is wrong, revoked or expired is a 401
    that says how to get a new one (knox deletes an expired token when it is next presented)."""

    def authenticate_credentials(self, token: bytes):
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if not TOKEN_SHAPE.fullmatch(text):
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        try:
            return super().authenticate_credentials(token)
        except exceptions.AuthenticationFailed:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN) from None
