"""Request-level security: the client's address behind the proxies, the admin's allow-list of
networks, and the end of idle or too old sessions (issue 8, README "Production")."""

import ipaddress
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.shortcuts import render
from django.urls import reverse

# Session keys: when the user logged in, when he was last seen (epoch seconds).
SESSION_DEBUT = "jumo_session_debut"
SESSION_VU = "jumo_session_vu"
# "Last seen" is written at most this often: a session is not saved on every request.
VU_PRECISION_SECONDES = 60


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or, behind JUMO_TRUSTED_PROXY_COUNT reverse proxies, the
    address that the outermost trusted proxy appended to X-Forwarded-For. Whatever a client writes
    itself in that header stays on the left and is never read."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.JUMO_TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(chain) < proxies:
        # Not through all our proxies (a direct connection to the application): its own address.
        return remote
    return chain[-proxies]


def _networks(values) -> list:
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def address_in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in networks)


class AdminNetworkMiddleware:
    """The admin answers only to the networks of JUMO_ADMIN_ALLOWED_NETWORKS (CIDR list; empty: all)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._cache = (None, [])

    def networks(self) -> list:
        wanted = tuple(settings.JUMO_ADMIN_ALLOWED_NETWORKS)
        if self._cache[0] != wanted:
            self._cache = (wanted, _networks(wanted))
        return self._cache[1]

    def __call__(self, request):
        networks = self.networks()
        if networks and request.path_info.startswith(reverse("admin:index")):
            address = client_ip(request)
            if not address_in(address, networks):
                return render(
                    request,
                    "ops/admin_interdit.html",
                    {"title": "Accès refusé", "adresse": address},
                    status=403,
                )
        return self.get_response(request)


def debut_de_session(sender, request, user, **kwargs):
    """user_logged_in: the session's 12 hours start now (connected in ops.apps)."""
    now = time.time()
    request.session[SESSION_DEBUT] = now
    request.session[SESSION_VU] = now


class SessionTimeoutMiddleware:
    """A session ends SESSION_COOKIE_AGE after the login (12 hours) or after
    JUMO_SESSION_INACTIVITE_SECONDES without a request (30 minutes), whatever the browser says."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        if SESSION_KEY in session:
            now = time.time()
            debut = session.get(SESSION_DEBUT)
            vu = session.get(SESSION_VU, debut)
            trop_vieille = debut is not None and now - debut > settings.SESSION_COOKIE_AGE
            inactive = vu is not None and now - vu > settings.JUMO_SESSION_INACTIVITE_SECONDES
            if trop_vieille or inactive:
                request.jumo_session_expiree = True  # not a user's logout: the SSO session stays
                logout(request)
                messages.info(
                    request,
                    "Votre session a expiré (12 heures après la connexion, ou 30 minutes sans activité) : "
                    "connectez-vous de nouveau.",
                )
            else:
                if debut is None:
                    session[SESSION_DEBUT] = now
                if vu is None or now - vu >= VU_PRECISION_SECONDES:
                    session[SESSION_VU] = now
        return self.get_response(request)


def lockout_response(request, original_response=None, credentials=None):
    """django-axes, once an identifier is blocked: a French page, 429 Too Many Requests."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(
        request,
        "ops/verrouillage.html",
        {"title": "Connexion temporairement bloquée", "cooloff_minutes": minutes},
        status=429,
    )


def csp_nonce(request) -> dict:
    """Template context: CSP_NONCE, evaluated now. django-csp's request.csp_nonce is lazy and
    counts as false until read, so `{% if nonce %}` in the DSFR's dsfr_js tag would skip it."""
    nonce = getattr(request, "csp_nonce", None)
    return {"CSP_NONCE": str(nonce) if nonce is not None else ""}
