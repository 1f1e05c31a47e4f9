import pytest

pytestmark = pytest.mark.django_db


def test_the_login_page_offers_proconnect_only_when_sso_is_configured(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    assert "S'identifier avec ProConnect" not in client.get("/connexion/").content.decode()

    settings.OIDC_RP_CLIENT_ID = "jumo"
    settings.OIDC_RP_CLIENT_SECRET = "secret-de-test"
    settings.OIDC_OP_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"
    page = client.get("/connexion/").content.decode()
    assert "S'identifier avec ProConnect" in page
    assert 'href="/oidc/connexion/' in page
