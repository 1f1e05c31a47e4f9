"""Login through ProConnect, end to end against a real OpenID Connect provider on loopback
(tests/sso/provider.py), with the real mozilla-django-oidc: nothing of the library is mocked.

A person logs in only when the state comes back as sent, the code is fresh, the id_token is
signed by the provider's key with our nonce, the userinfo JWT is signed too, and the email is
that of a JUMO account acting for schools or a service."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from audit.enums import Methode, TypeConnexion
from audit.models import Connexion
from establishments.accounts import create_account
from sso.provider import ENDPOINTS, forget_discovery
from tests.factories import EtablissementFactory
from tests.jumelages.monde import ensure_services

from .provider import Provider, new_key

pytestmark = pytest.mark.django_db

EMAIL = "chef.proconnect@ac-creteil.fr"
IDENTITY = {"sub": "sujet-123", "email": EMAIL, "given_name": "Camille", "usual_name": "Dupont", "uid": "42"}


@pytest.fixture
def provider(settings):
    op = Provider("jumo-test", "secret-du-client-de-test-assez-long-pour-hs256").start()
    settings.OIDC_RP_CLIENT_ID = op.client_id
    settings.OIDC_RP_CLIENT_SECRET = op.client_secret
    settings.OIDC_OP_DISCOVERY_URL = op.discovery_url
    for name in ENDPOINTS:
        setattr(settings, name, "")
    forget_discovery()
    op.identity = dict(IDENTITY)
    yield op
    op.stop()
    forget_discovery()


@pytest.fixture
def head(db):
    school = EtablissementFactory()
    return create_account(EMAIL, uais=[school.uai]).user


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def local(url: str) -> str:
    """The path and query of a URL of the test server."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver", url
    return f"{parts.path}?{parts.query}"


def start(client, provider) -> str:
    """Click « S'identifier avec ProConnect »: the authorize URL at the provider."""
    response = client.get("/oidc/connexion/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{provider.base}/authorize?")
    return response["Location"]


def authorize(url: str) -> str:
    """The browser at the provider: the person logs in; back to our redirect_uri with a code."""
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def login(client, provider):
    return client.get(local(authorize(start(client, provider))))


def logged_in_as(client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def refused(client, response, message="La connexion par ProConnect a échoué"):
    assert response.status_code == 302 and response["Location"] == "/connexion/"
    assert logged_in_as(client) is None
    assert message in client.get("/connexion/").content.decode()
    failure = Connexion.objects.filter(type=TypeConnexion.ECHEC, methode=Methode.PROCONNECT).latest("pk")
    return failure


# --- The login that works -------------------------------------------------------------------------


def test_a_head_logs_in_through_proconnect(client, provider, head):
    url = start(client, provider)
    params = query(url)
    # ProConnect refuses any parameter it does not know; state and nonce: 32 characters at least.
    assert set(params) == {"response_type", "client_id", "redirect_uri", "scope", "state", "nonce"}
    assert params["redirect_uri"] == "http://testserver/oidc/retour/"
    assert params["scope"] == "openid email given_name usual_name"
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32

    response = client.get(local(authorize(url)))

    assert response.status_code == 302 and response["Location"] == "/"
    assert logged_in_as(client) == head
    assert client.session["oidc_id_token"] == provider.issued_id_tokens[-1]
    # The userinfo answer was a signed JWT, fetched with the access token.
    assert len(provider.calls("/userinfo")) == 1
    head.refresh_from_db()
    assert (head.first_name, head.last_name) == ("Camille", "DUPONT")
    assert client.get("/").status_code == 200  # the head's own page
    line = Connexion.objects.get(type=TypeConnexion.CONNEXION)
    assert (line.methode, line.utilisateur) == (Methode.PROCONNECT, head)


def test_an_agent_logs_in_too(client, provider):
    ensure_services()
    agent = create_account("agent.dsden94@ac-creteil.fr", service_uai="0949999H").user
    provider.identity["email"] = "Agent.DSDEN94@ac-creteil.fr"  # the case of the address does not matter
    assert login(client, provider).status_code == 302
    assert logged_in_as(client) == agent


def test_logging_out_ends_the_proconnect_session_too(client, provider, head):
    login(client, provider)
    id_token = client.session["oidc_id_token"]

    response = client.post("/deconnexion/")

    assert logged_in_as(client) is None
    assert response.status_code == 302
    end = response["Location"]
    assert end.startswith(f"{provider.base}/session/end?")
    params = query(end)
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == "http://testserver/oidc/deconnecte/"
    assert len(params["state"]) >= 32
    back = requests.get(end, allow_redirects=False, timeout=10)
    assert provider.logouts == [params]
    final = client.get(local(back.headers["Location"]))
    assert final.status_code == 302 and final["Location"] == "/connexion/"
    assert "Vous êtes déconnecté de JUMO et de ProConnect." in client.get("/connexion/").content.decode()


def test_a_local_account_logout_stays_local(client, head):
    client.post("/connexion/", {"username": EMAIL, "password": "x"})  # no password: nobody
    head.set_password("mot-de-passe-local-1")
    head.save()
    client.post("/connexion/", {"username": EMAIL, "password": "mot-de-passe-local-1"})
    assert logged_in_as(client) == head
    response = client.post("/deconnexion/")
    assert response["Location"] == "/connexion/"


# --- Nobody gets an account by logging in -----------------------------------------------------------


def test_an_unknown_identity_gets_no_account_and_a_french_message(client, provider, head):
    provider.identity["email"] = "inconnu@ac-creteil.fr"
    users = get_user_model().objects.count()
    failure = refused(
        client,
        login(client, provider),
        "Aucun compte JUMO n&#x27;est ouvert pour l&#x27;adresse inconnu@ac-creteil.fr",
    )
    assert get_user_model().objects.count() == users
    assert failure.identifiant == "inconnu@ac-creteil.fr"


def test_an_account_acting_for_nobody_cannot_log_in(client, provider):
    get_user_model().objects.create_user(EMAIL, email=EMAIL)
    refused(client, login(client, provider), "n&#x27;est rattaché à aucun établissement ni service")


def test_an_inactive_account_cannot_log_in(client, provider, head):
    head.is_active = False
    head.save()
    refused(client, login(client, provider), "Aucun compte JUMO n&#x27;est ouvert")


# --- State -----------------------------------------------------------------------------------------------


def test_a_tampered_state_gives_no_login_and_the_code_is_never_exchanged(client, provider, head):
    back = authorize(start(client, provider))
    params = query(back)
    forged = f"/oidc/retour/?code={params['code']}&state={params['state'][:-4]}abcd"
    failure = refused(client, client.get(forged))
    assert "state inconnu" in failure.detail
    assert provider.calls("/token") == []


def test_a_missing_state_gives_no_login(client, provider, head):
    params = query(authorize(start(client, provider)))
    refused(client, client.get(f"/oidc/retour/?code={params['code']}"))
    assert provider.calls("/token") == []


def test_a_state_from_another_browser_gives_no_login(client, provider, head, django_user_model):
    from django.test import Client

    victim = Client()
    back = authorize(start(client, provider))  # the attacker's own login attempt…
    refused(victim, victim.get(local(back)))  # …replayed in the victim's browser
    assert provider.calls("/token") == []


# --- Nonce ------------------------------------------------------------------------------------------------


def test_an_id_token_with_another_nonce_gives_no_login(client, provider, head):
    provider.id_token_nonce = "x" * 64
    failure = refused(client, login(client, provider))
    assert "Nonce" in failure.detail


def test_an_id_token_without_nonce_gives_no_login(client, provider, head):
    provider.id_token_nonce = None
    refused(client, login(client, provider))


# --- Code ---------------------------------------------------------------------------------------------------


def test_a_replayed_code_gives_no_login(client, provider, head):
    first = local(authorize(start(client, provider)))
    assert client.get(first).status_code == 302 and logged_in_as(client) == head
    client.logout()
    # The same return again: its state was used up.
    refused(client, client.get(first))
    # The old code with a fresh state of this session: the provider refuses the code again.
    fresh = query(authorize(start(client, provider)))
    old_code = query(first)["code"]
    failure = refused(client, client.get(f"/oidc/retour/?code={old_code}&state={fresh['state']}"))
    assert "invalid_grant" in failure.detail


# --- Signatures -------------------------------------------------------------------------------------------


def test_an_id_token_signed_with_another_key_gives_no_login(client, provider, head):
    provider.id_token_key = new_key()
    failure = refused(client, login(client, provider))
    assert "Signature" in failure.detail or "signature" in failure.detail


def test_an_id_token_signed_with_the_client_secret_gives_no_login(client, provider, head):
    provider.id_token_alg = "HS256"
    refused(client, login(client, provider))


def test_an_id_token_for_another_client_gives_no_login(client, provider, head):
    provider.id_token_claims = {"aud": "un-autre-service"}
    refused(client, login(client, provider))


def test_an_id_token_from_another_issuer_gives_no_login(client, provider, head):
    provider.id_token_claims = {"iss": "https://faux-fournisseur.example"}
    refused(client, login(client, provider))


def test_an_expired_id_token_gives_no_login(client, provider, head):
    provider.id_token_claims = {"exp": 1_000_000_000}
    refused(client, login(client, provider))


def test_a_userinfo_signed_with_another_key_gives_no_login(client, provider, head):
    provider.userinfo_key = new_key()
    refused(client, login(client, provider))


def test_a_userinfo_in_plain_json_gives_no_login(client, provider, head):
    provider.userinfo_as_json = True
    failure = refused(client, login(client, provider))
    assert "JWT" in failure.detail


def test_a_userinfo_about_someone_else_gives_no_login(client, provider, head):
    original = provider.userinfo

    def other_subject(identity):
        return original({**identity, "sub": "quelqu-un-d-autre"})

    provider.userinfo = other_subject
    refused(client, login(client, provider))


# --- Configuration -----------------------------------------------------------------------------------------


def test_sso_is_off_while_the_client_is_not_configured(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    assert client.get("/oidc/connexion/").status_code == 404
    assert client.get("/oidc/retour/?code=x&state=y").status_code == 404
    assert client.get("/connexion/").context["proconnect"] is False


def test_sso_is_on_with_a_client_and_a_provider(client, provider):
    assert client.get("/connexion/").context["proconnect"] is True


def test_an_unreachable_provider_gives_a_french_message(client, provider):
    provider.stop()
    forget_discovery()
    response = client.get("/oidc/connexion/")
    assert response.status_code == 302 and response["Location"] == "/connexion/"
    assert "ProConnect ne répond pas pour le moment" in client.get("/connexion/").content.decode()


def test_a_password_login_never_calls_the_provider(client, provider, head):
    head.set_password("mot-de-passe-local-1")
    head.save()
    provider.stop()  # the provider being down changes nothing for local accounts
    client.post("/connexion/", {"username": EMAIL, "password": "mot-de-passe-local-1"})
    assert logged_in_as(client) == head
