"""Auth signals → the security journal (connected in AuditConfig.ready)."""

from django.contrib.auth import get_user_model

from common.security import client_ip

from .enums import Methode, TypeConnexion
from .models import Connexion

PROCONNECT_BACKEND = "sso.backends.ProConnectBackend"


def record(type_, request, *, methode, utilisateur=None, identifiant="", detail="") -> Connexion:
    """Write one line of the journal (the sso views call it for their own failures)."""
    ip = client_ip(request) if request is not None else None
    agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""
    if utilisateur is not None and not identifiant:
        identifiant = utilisateur.get_username()
    return Connexion.objects.create(
        type=type_,
        methode=methode,
        utilisateur=utilisateur,
        identifiant=(identifiant or "")[:254],
        adresse_ip=ip or None,
        navigateur=agent,
        detail=detail,
    )


def _methode(user) -> str:
    return Methode.PROCONNECT if getattr(user, "backend", "") == PROCONNECT_BACKEND else Methode.MOT_DE_PASSE


def on_login(sender, request, user, **kwargs):
    record(TypeConnexion.CONNEXION, request, methode=_methode(user), utilisateur=user)


def on_login_failed(sender, credentials, request=None, **kwargs):
    if "nonce" in credentials:
        # A ProConnect return that gave no account: the sso view records it, with its reason.
        return
    identifiant = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or ""
    detail = "compte verrouillé (trop d'échecs)" if getattr(request, "axes_locked_out", False) else ""
    record(TypeConnexion.ECHEC, request, methode=Methode.MOT_DE_PASSE, identifiant=identifiant, detail=detail)


def on_logout(sender, request, user, **kwargs):
    if user is not None:
        record(TypeConnexion.DECONNEXION, request, methode=_methode(user), utilisateur=user)
