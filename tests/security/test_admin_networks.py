"""JUMO_ADMIN_ALLOWED_NETWORKS: the admin answers only to those networks (empty: everywhere)."""

import pytest

pytestmark = pytest.mark.django_db


def test_without_a_list_the_admin_answers_everywhere(admin_client, settings):
    settings.JUMO_ADMIN_ALLOWED_NETWORKS = []
    assert admin_client.get("/admin/", REMOTE_ADDR="203.0.113.5").status_code == 200


def test_outside_the_listed_networks_the_admin_is_refused(admin_client, settings):
    settings.JUMO_ADMIN_ALLOWED_NETWORKS = ["10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32"]
    refused = admin_client.get("/admin/", REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 403
    assert "n'est accessible que depuis le réseau de l'académie" in refused.content.decode()
    assert admin_client.get("/admin/login/", REMOTE_ADDR="203.0.113.5").status_code == 403
    assert admin_client.get("/admin/", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert admin_client.get("/admin/", REMOTE_ADDR="192.168.1.77").status_code == 200
    assert admin_client.get("/admin/", REMOTE_ADDR="2001:db8::1").status_code == 200
    # The heads' pages are not concerned.
    assert admin_client.get("/connexion/", REMOTE_ADDR="203.0.113.5").status_code in (200, 302)


def test_behind_the_proxy_the_client_address_decides(admin_client, settings):
    settings.JUMO_ADMIN_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.JUMO_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # the proxy itself is inside the network
    assert admin_client.get("/admin/", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 403
    assert admin_client.get("/admin/", HTTP_X_FORWARDED_FOR="10.9.8.7", **proxy).status_code == 200
    # A client writing an inside address itself stays outside.
    spoofed = admin_client.get("/admin/", HTTP_X_FORWARDED_FOR="10.9.8.7, 203.0.113.5", **proxy)
    assert spoofed.status_code == 403
