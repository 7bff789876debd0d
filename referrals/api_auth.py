"""API tokens: issued for a username and password, stored hashed, expiring, revocable.

Tokens are django-rest-knox's: the database keeps only a SHA-512 digest and the token's first
15 characters (``token_key``, what knox looks rows up by), so a copy of the database lets nobody
act as a clinician. Each token ends ``API_TOKEN_HOURS`` after it was issued (8 by default, a
working day), when its holder signs out of the API or of the pages, or when its owner revokes it.
The admin never lists them: the superuser, who by design sees no patient, must not be able to
pick up a clinician's token.

A token is named in the API by its ``token_key`` (``id`` below): the owner already holds the
whole token, and the key is stored in the clear anyway, so showing it adds nothing to a thief.
"""

from django.contrib.auth import authenticate, user_logged_in
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from referrals.authentication import TOKEN_SHAPE, TokenAuthentication, revoke_all_tokens


class TokenScheme(KnoxTokenScheme):
    """OpenAPI: our subclass is documented as knox's scheme is (``Authorization: Token ...``).
    (Here, not beside the class: that module must not import DRF's views, see its docstring.)"""

    target_class = "referrals.authentication.TokenAuthentication"
    name = "tokenAuth"


class CredentialsSerializer(serializers.Serializer):
    # 150 is Django's limit on a username: a longer one cannot belong to anybody.
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=1024, trim_whitespace=False, write_only=True)

    def validate(self, attrs):
        # ``request`` is Django's own request (see TokenView): django-axes counts the failure
        # on it, and marks it locked out so its middleware answers 429.
        user = authenticate(
            request=self.context["request"],
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            raise serializers.ValidationError(
                "Wrong username or password. Check both and try again (after "
                "several failures, signing in is paused for a while).",
                code="authorization",
            )
        attrs["user"] = user
        return attrs


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    id = serializers.CharField(help_text="The token's first characters; names it in /tokens/.")
    expiry = serializers.DateTimeField()


class TokenInfoSerializer(serializers.Serializer):
    id = serializers.CharField(source="token_key", help_text="The token's first characters.")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField()
    current = serializers.SerializerMethodField(help_text="The token this request was made with.")

    def get_current(self, token: AuthToken) -> bool:
        return token.pk == getattr(self.context.get("auth"), "pk", None)


BAD_CREDENTIALS = inline_serializer(
    "BadCredentials",
    {
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False),
        "username": serializers.ListField(child=serializers.CharField(), required=False),
        "password": serializers.ListField(child=serializers.CharField(), required=False),
    },
)
# Refusals without a schema of their own get the API's shared Error shape (config/openapi.py).
UNAUTHENTICATED = OpenApiResponse(description="No token, or a wrong or expired one")


class TokenView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        summary="Get an API token (username and password); it expires after API_TOKEN_HOURS",
        request=CredentialsSerializer,
        responses={
            200: IssuedTokenSerializer,
            400: OpenApiResponse(BAD_CREDENTIALS, description="Wrong username or password"),
            429: OpenApiResponse(description="Too many failed attempts: wait and try again"),
        },
    )
    def post(self, request):
        # django-axes works on Django's HttpRequest, not DRF's wrapper: attributes it sets on
        # the wrapper (``axes_locked_out``) would never reach AxesMiddleware.
        django_request = request._request
        serializer = CredentialsSerializer(data=request.data, context={"request": django_request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        token, secret = AuthToken.objects.create(user=user)
        # As the login page does: axes clears the failure count, Django records last_login.
        user_logged_in.send(sender=user.__class__, request=django_request, user=user)
        return Response(
            IssuedTokenSerializer(
                {"token": secret, "id": token.token_key, "expiry": token.expiry}
            ).data
        )


class LogoutView(APIView):
    """Only a token can sign itself out: a browser session signs out at /accounts/logout/."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Revoke the token this request is made with",
        request=None,
        responses={204: None, 401: UNAUTHENTICATED},
    )
    def post(self, request):
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Revoke every API token you hold (a browser session stays signed in)",
        request=None,
        responses={204: None, 401: UNAUTHENTICATED},
    )
    def post(self, request):
        revoke_all_tokens(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Your own unexpired API tokens (never the tokens themselves)",
        responses={200: TokenInfoSerializer(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request):
        tokens = AuthToken.objects.filter(user=request.user, expiry__gt=timezone.now())
        return Response(
            TokenInfoSerializer(
                tokens.order_by("-created"), many=True, context={"auth": request.auth}
            ).data
        )


class TokenDetailView(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Revoke one of your API tokens",
        responses={
            204: None,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(description="You hold no token with that id"),
        },
    )
    def delete(self, request, token_id: str):
        # Someone else's token is a 404, the same as one that never existed.
        deleted = 0
        if TOKEN_SHAPE.fullmatch(token_id):
            deleted, _ = AuthToken.objects.filter(user=request.user, token_key=token_id).delete()
        if not deleted:
            raise exceptions.NotFound(
                "You hold no token with that id: GET /api/auth/tokens/ lists yours."
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
