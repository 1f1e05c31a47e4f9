"""Response headers: a Content-Security-Policy with no inline script (a nonce for the DSFR's
scripts), X-Frame-Options DENY, Referrer-Policy; and no template with an inline script."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import EtablissementFactory, head_of

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture
def head(db):
    return head_of(EtablissementFactory())


@pytest.mark.parametrize("url", ["/connexion/", "/mentions-legales/"])
def test_pages_carry_a_policy_without_inline_script(client, url):
    response = client.get(url)
    assert response.status_code == 200
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert "'self'" in csp["script-src"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    nonces = [v for v in csp["script-src"] if v.startswith("'nonce-")]
    assert len(nonces) == 1
    # The DSFR's scripts carry that nonce; every script of the page is a file (or JSON data).
    html = response.content.decode()
    nonce = nonces[0][len("'nonce-") : -1]
    assert f'nonce="{nonce}"' in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_each_response_has_its_own_nonce(client):
    first = policy(client.get("/connexion/"))["script-src"]
    second = policy(client.get("/connexion/"))["script-src"]
    assert first != second


def test_a_logged_in_page_and_the_admin_carry_the_headers(client, head, admin_client):
    client.force_login(head)
    for response in (client.get("/"), admin_client.get("/admin/")):
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]


def test_the_map_tiles_are_allowed_as_images_only():
    img = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"]
    assert "https://*.tile.openstreetmap.org" in img
    assert img[0] == "'self'"


def _templates():
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    for folder in folders:
        if ".venv" in folder.parts or "node_modules" in folder.parts:
            continue
        for path in folder.rglob("*.html"):
            if "mails" not in path.parts:  # mails are not web pages: no script runs there
                yield path


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "application/json" not in tag:
                offenders.append(f"{path.relative_to(ROOT)}: {tag}")
        offenders += [f"{path.relative_to(ROOT)}: {m}" for m in re.findall(r"\son[a-z]+\s*=\s*[\"']", text)]
        offenders += [f"{path.relative_to(ROOT)}: javascript: URL" for _ in re.findall(r"javascript:", text)]
    assert not offenders, offenders
