"""The OpenID Connect provider's endpoints (ProConnect): from the settings, or, for those left
empty, from its discovery document (OIDC_OP_DISCOVERY_URL), fetched at the first login and kept."""

import threading
from dataclasses import dataclass

import requests
from django.conf import settings

# Settings name → key of the discovery document.
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
    "OIDC_OP_ISSUER": "issuer",
}

_lock = threading.Lock()
_discovered: dict[str, dict] = {}


class ProviderUnavailable(Exception):
    """The discovery document could not be read."""


def sso_enabled() -> bool:
    """ProConnect is offered only when a client is registered and the provider is known."""
    if not (settings.OIDC_RP_CLIENT_ID and settings.OIDC_RP_CLIENT_SECRET):
        return False
    if settings.OIDC_OP_DISCOVERY_URL:
        return True
    return all(getattr(settings, name) for name in ENDPOINTS if name not in ("OIDC_OP_ISSUER",))


def _discovery() -> dict:
    url = settings.OIDC_OP_DISCOVERY_URL
    if not url:
        return {}
    with _lock:
        if url not in _discovered:
            try:
                response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
                response.raise_for_status()
                _discovered[url] = response.json()
            except (requests.RequestException, ValueError) as exc:
                raise ProviderUnavailable(str(exc)) from exc
        return _discovered[url]


def forget_discovery() -> None:
    with _lock:
        _discovered.clear()


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str
    issuer: str


def provider() -> Provider:
    """The endpoints; raises ProviderUnavailable when the discovery document is needed and unreadable."""
    values = {key: getattr(settings, name) for name, key in ENDPOINTS.items()}
    if not all(values.values()) and settings.OIDC_OP_DISCOVERY_URL:
        document = _discovery()
        values = {key: value or document.get(key, "") for key, value in values.items()}
    return Provider(**values)
