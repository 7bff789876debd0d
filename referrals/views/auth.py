"""Signing in and out."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse

from referrals import permissions
from referrals.authentication import revoke_all_tokens
from referrals.forms.auth import LoginForm


class LoginView(auth_views.LoginView):
    # A FormView treats PUT as POST; only GET and POST mean anything here, the rest are a 405.
    http_method_names = ["get", "post", "head", "options"]
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    extra_context = {"session_minutes": settings.SESSION_COOKIE_AGE // 60}

    def get_default_redirect_url(self) -> str:
        """Straight to the work: a trainer's queue, a clinician's referrals, a manager's figures
        (a ``next`` parameter still wins)."""
        user = self.request.user
        if permissions.is_trainer(user):
            return reverse("referrals-queue")
        if permissions.is_clinician(user):
            return reverse("referrals-list")
        if permissions.is_manager(user):
            return reverse("referrals-report")
        if user.is_staff:
            return reverse("admin:index")
        return super().get_default_redirect_url()


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        # Signing out of the pages ends the user's API tokens too: a practice PC is shared, and
        # a token left in a script or tool on it must not outlive the person's session.
        if request.user.is_authenticated:
            revoke_all_tokens(request.user)
        return super().post(request, *args, **kwargs)
