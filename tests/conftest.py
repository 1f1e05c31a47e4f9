import pytest


@pytest.fixture(autouse=True)
def _mail_domain(settings):
    settings.ACADEMIE_MAIL_DOMAIN = "ac-creteil.fr"
