"""Login through ProConnect (the State's agent SSO, OpenID Connect), with mozilla-django-oidc.

ProConnect's rules (its "implémentation technique" page): state and nonce of at least 32
characters, the id_token signed with the registered algorithm and carrying our nonce, the
userinfo answer itself a signed JWT, logout through the provider with id_token_hint
(sso.middleware). The identity is mapped by its email to an existing JUMO account, created with
create_account, that acts for schools or a service; nobody gets an account by logging in.
"""

import logging

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .provider import ProviderUnavailable, provider, sso_enabled

logger = logging.getLogger(__name__)

SANS_COMPTE = (
    "Aucun compte JUMO n'est ouvert pour l'adresse {email}. JUMO est réservé aux chefs d'établissement "
    "et aux gestionnaires de moyens de l'académie : demandez l'ouverture de votre compte à votre "
    "gestionnaire (DSDEN ou Rectorat), puis reconnectez-vous."
)
SANS_RATTACHEMENT = (
    "Votre compte JUMO ({email}) n'est rattaché à aucun établissement ni service : demandez à votre "
    "gestionnaire de moyens de le compléter."
)
PLUSIEURS = "Plusieurs comptes JUMO portent l'adresse {email} : signalez-le à votre gestionnaire de moyens."
SANS_EMAIL = "ProConnect n'a pas transmis votre adresse électronique : la connexion est impossible."
REFUSEE = "La connexion par ProConnect a échoué. Réessayez ; si l'échec se répète, signalez-le à votre gestionnaire."
INDISPONIBLE = "ProConnect ne répond pas pour le moment. Réessayez dans quelques minutes."


class SsoFailure(Exception):
    def __init__(self, message: str, detail: str, identifiant: str = ""):
        super().__init__(detail)
        self.message = message
        self.detail = detail
        self.identifiant = identifiant


class ProConnectBackend(OIDCAuthenticationBackend):
    """Authenticates the return from ProConnect (called by sso.views with the session's nonce);
    returns None for any other authentication (passwords go to ModelBackend)."""

    def __init__(self, *args, **kwargs):
        # Endpoints are read at login time: Django builds every backend for every authenticate()
        # call, and a password login must not depend on the provider being reachable.
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None
        request.jumo_sso_echec = None
        try:
            op = provider()
            self.OIDC_OP_TOKEN_ENDPOINT = op.token_endpoint
            self.OIDC_OP_USER_ENDPOINT = op.userinfo_endpoint
            self.OIDC_OP_JWKS_ENDPOINT = op.jwks_uri
            self.issuer = op.issuer
            if not kwargs.get("nonce"):
                raise SuspiciousOperation("Aucun nonce en session pour ce state.")
            return super().authenticate(request, **kwargs)
        except SsoFailure as failure:
            request.jumo_sso_echec = failure
        except ProviderUnavailable as exc:
            request.jumo_sso_echec = SsoFailure(INDISPONIBLE, f"découverte du fournisseur impossible : {exc}")
        except requests.HTTPError as exc:
            # The token endpoint refuses the code: replayed, expired, or not ours.
            request.jumo_sso_echec = SsoFailure(REFUSEE, f"refus du fournisseur : {exc}"[:500])
        except requests.RequestException as exc:
            request.jumo_sso_echec = SsoFailure(INDISPONIBLE, f"fournisseur injoignable : {exc}"[:500])
        except (SuspiciousOperation, jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            request.jumo_sso_echec = SsoFailure(REFUSEE, f"réponse du fournisseur rejetée : {exc}"[:500])
        logger.warning("Connexion ProConnect refusée : %s", request.jumo_sso_echec.detail)
        return None

    # --- Tokens ------------------------------------------------------------------------------

    def _verify_jws(self, payload, key):
        """The id_token: signed with our registered algorithm (never "none", never another one),
        for us (aud), by our provider (iss), not expired."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"Algorithme de signature inattendu : {header.get('alg')!r}.")
        return jwt.decode(
            payload,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            audience=self.OIDC_RP_CLIENT_ID,
            issuer=self.issuer or None,
            options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_iss": bool(self.issuer)},
            leeway=settings.OIDC_LEEWAY_SECONDES,
        )

    def get_userinfo(self, access_token, id_token, payload):
        """ProConnect answers userinfo with a signed JWT (application/jwt): decoded and verified
        with the provider's keys; a plain JSON answer is refused, and so is another subject."""
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
            verify=settings.OIDC_VERIFY_SSL,
            timeout=settings.OIDC_TIMEOUT,
        )
        response.raise_for_status()
        if not response.headers.get("content-type", "").lower().startswith("application/jwt"):
            raise SuspiciousOperation("La réponse userinfo n'est pas un JWT signé.")
        token = response.text.strip()
        header = jwt.get_unverified_header(token)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"Algorithme de signature inattendu pour userinfo : {header.get('alg')!r}.")
        key = self.retrieve_matching_jwk(token)
        claims = jwt.decode(
            token,
            key,
            algorithms=[self.OIDC_RP_SIGN_ALGO],
            options={"verify_aud": False, "verify_iss": False},
            leeway=settings.OIDC_LEEWAY_SECONDES,
        )
        if self.issuer and "iss" in claims and claims["iss"] != self.issuer:
            raise SuspiciousOperation("Émetteur inattendu pour userinfo.")
        aud = claims.get("aud")
        if aud is not None and self.OIDC_RP_CLIENT_ID not in ([aud] if isinstance(aud, str) else aud):
            raise SuspiciousOperation("Destinataire inattendu pour userinfo.")
        if claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("Le sujet de userinfo n'est pas celui de l'id_token.")
        return claims

    # --- Who it is in JUMO ---------------------------------------------------------------------

    def get_or_create_user(self, access_token, id_token, payload):
        """The JUMO account with this email (created by create_account), if it acts for schools or
        a service; otherwise no login, and a French sentence saying why."""
        try:
            claims = self.get_userinfo(access_token, id_token, payload)
        except (SuspiciousOperation, jwt.PyJWTError) as exc:
            raise SsoFailure(REFUSEE, f"userinfo rejeté : {exc}") from exc
        email = (claims.get("email") or "").strip().lower()
        if not email:
            raise SsoFailure(SANS_EMAIL, "userinfo sans email")
        users = list(self.UserModel.objects.filter(email__iexact=email, is_active=True))
        if not users:
            raise SsoFailure(SANS_COMPTE.format(email=email), "aucun compte actif pour cette adresse", email)
        if len(users) > 1:
            raise SsoFailure(PLUSIEURS.format(email=email), "plusieurs comptes pour cette adresse", email)
        user = users[0]
        profil = getattr(user, "profil", None)
        if profil is None or (profil.service_id is None and not profil.etablissements.exists()):
            raise SsoFailure(SANS_RATTACHEMENT.format(email=email), "compte sans établissement ni service", email)
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        prenom = (claims.get("given_name") or "").strip()
        nom = (claims.get("usual_name") or claims.get("family_name") or "").strip().upper()
        changed = [f for f, v in (("first_name", prenom), ("last_name", nom)) if v and getattr(user, f) != v]
        for field in changed:
            setattr(user, field, prenom if field == "first_name" else nom)
        if changed:
            user.save(update_fields=changed)
        return user
