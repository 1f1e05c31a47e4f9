"""Logout through the provider: a user who logged in with ProConnect and logs out of JUMO (the
heads' page or the admin) is sent on to ProConnect's end_session_endpoint with id_token_hint, so
that his ProConnect session ends too (ProConnect's rule)."""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.crypto import get_random_string

from .provider import ProviderUnavailable, provider, sso_enabled
from .views import SESSION_LOGOUT_STATE

# Set on the request by the user_logged_out receiver: the id_token of the session just ended.
REQUEST_ID_TOKEN = "jumo_proconnect_id_token"


def on_logout(sender, request, user, **kwargs):
    """user_logged_out, before the session is flushed: keep its id_token for the redirect, unless
    the session only expired (common.security)."""
    if request is not None and not getattr(request, "jumo_session_expiree", False):
        id_token = request.session.get("oidc_id_token")
        if id_token:
            setattr(request, REQUEST_ID_TOKEN, id_token)


class ProviderLogoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        id_token = getattr(request, REQUEST_ID_TOKEN, None)
        if not id_token or response.status_code not in (301, 302, 303) or not sso_enabled():
            return response
        try:
            end_session = provider().end_session_endpoint
        except ProviderUnavailable:
            return response
        if not end_session:
            return response
        state = get_random_string(64)
        request.session[SESSION_LOGOUT_STATE] = state
        query = urlencode(
            {
                "id_token_hint": id_token,
                "state": state,
                "post_logout_redirect_uri": request.build_absolute_uri(reverse("sso:deconnecte")),
            }
        )
        return HttpResponseRedirect(f"{end_session}?{query}")
