from django.test import RequestFactory

from common.security import client_ip


def ip(settings, proxies, remote, forwarded=None):
    settings.JUMO_TRUSTED_PROXY_COUNT = proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_proxy_the_connection_address_is_the_client(settings):
    assert ip(settings, 0, "198.51.100.1", "10.0.0.1") == "198.51.100.1"


def test_behind_one_proxy_the_address_it_appended(settings):
    assert ip(settings, 1, "10.0.0.2", "198.51.100.1") == "198.51.100.1"
    assert ip(settings, 1, "10.0.0.2", "1.2.3.4, 198.51.100.1") == "198.51.100.1"


def test_behind_two_proxies(settings):
    assert ip(settings, 2, "10.0.0.3", "1.2.3.4, 198.51.100.1, 10.0.0.2") == "198.51.100.1"


def test_a_request_that_did_not_cross_the_proxies_keeps_its_own_address(settings):
    assert ip(settings, 1, "10.0.0.2") == "10.0.0.2"
    assert ip(settings, 2, "10.0.0.3", "198.51.100.1") == "10.0.0.3"
