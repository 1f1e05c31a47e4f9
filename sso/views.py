"""ProConnect's three routes: the start of a login, the return (redirect_uri) and the return
after logout (post_logout_redirect_uri). A failed login gives no session, a French message on
the login page and a line in the security journal."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from audit.enums import Methode, TypeConnexion
from audit.receivers import record

from .backends import INDISPONIBLE, REFUSEE, SsoFailure
from .provider import ProviderUnavailable, provider, sso_enabled

SESSION_LOGOUT_STATE = "jumo_proconnect_logout_state"


class ConnexionProConnect(OIDCAuthenticationRequestView):
    """Redirects to the provider with a fresh state and nonce (OIDC_STATE_SIZE, OIDC_NONCE_SIZE)."""

    def __init__(self, **kwargs):
        View.__init__(self, **kwargs)  # the endpoint is read at request time

    def get(self, request):
        if not sso_enabled():
            raise Http404("La connexion par ProConnect n'est pas configurée.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider().authorization_endpoint
        except ProviderUnavailable:
            messages.error(request, INDISPONIBLE)
            return redirect(settings.LOGIN_URL)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class RetourProConnect(OIDCAuthenticationCallbackView):
    """Checks the state against the session (once: it is removed), then the backend exchanges the
    code and checks the tokens (sso.backends)."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("La connexion par ProConnect n'est pas configurée.")
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            # A state this session never sent (forged, or already used).
            request.jumo_sso_echec = SsoFailure(REFUSEE, f"state inconnu de la session : {exc}")
            return self.login_failure()

    def login_failure(self):
        request = self.request
        echec = getattr(request, "jumo_sso_echec", None)
        if echec is None:
            if request.GET.get("error"):
                detail = f"erreur renvoyée par le fournisseur : {request.GET.get('error')}"
            elif "state" not in request.GET or "code" not in request.GET:
                detail = "retour sans code ou sans state"
            else:
                detail = "aucune connexion en cours dans cette session"
            echec = SsoFailure(REFUSEE, detail)
        record(
            TypeConnexion.ECHEC, request, methode=Methode.PROCONNECT, identifiant=echec.identifiant, detail=echec.detail
        )
        messages.error(request, echec.message)
        return redirect(settings.LOGIN_URL)


def deconnecte(request):
    """post_logout_redirect_uri: back from the provider, with the state sent at logout."""
    attendu = request.session.pop(SESSION_LOGOUT_STATE, "")
    if attendu and constant_time_compare(request.GET.get("state", ""), attendu):
        messages.success(request, "Vous êtes déconnecté de JUMO et de ProConnect.")
    else:
        messages.info(request, "Vous êtes déconnecté de JUMO.")
    return redirect(settings.LOGOUT_REDIRECT_URL)
