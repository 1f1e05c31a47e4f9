"""A tiny but real OpenID Connect provider on loopback, for the ProConnect tests.

A threaded http.server on 127.0.0.1 serving discovery, authorize (redirect with a code), token
(id_token signed RS256), userinfo (a signed JWT, as ProConnect answers), jwks and end_session.
Codes are single-use. Attributes let a test make it misbehave (another key, another nonce…).
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "cle-de-test"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    def __init__(self, client_id: str, client_secret: str):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = new_key()
        self.identity = {}  # the claims of the next person who "logs in" at the provider
        self.identities = {}  # or, by login_hint, the claims of each person (the load test)
        self.codes = {}  # code → what it was issued for
        self.used_codes = set()
        self.access_tokens = {}
        self.requests = []  # (method, path, params) of every request received
        self.logouts = []
        # Ways to misbehave, set by a test.
        self.id_token_key = None  # sign the id_token with this key instead (same kid)
        self.userinfo_key = None
        self.id_token_nonce = ...  # ... : the nonce received; None: no nonce; else this value
        self.id_token_alg = "RS256"
        self.id_token_claims = {}  # extra or replaced claims of the id_token
        self.userinfo_as_json = False
        self.issued_id_tokens = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- Lifecycle ------------------------------------------------------------------------------

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/.well-known/openid-configuration"

    def calls(self, path: str) -> list:
        return [r for r in self.requests if r[1] == path]

    # --- Tokens -----------------------------------------------------------------------------------

    def _sign(self, claims: dict, key, alg="RS256") -> str:
        if alg == "HS256":  # the classic confusion: signed with the client secret
            return jwt.encode(claims, self.client_secret, algorithm="HS256", headers={"kid": KID})
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": KID})

    def id_token(self, grant: dict) -> str:
        now = int(time.time())
        claims = {
            "iss": self.base,
            "aud": self.client_id,
            "sub": grant["identity"]["sub"],
            "iat": now,
            "exp": now + 60,
            "auth_time": now,
            "acr": "eidas1",
        }
        nonce = grant["nonce"] if self.id_token_nonce is ... else self.id_token_nonce
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(self.id_token_claims)
        token = self._sign(claims, self.id_token_key or self.key, self.id_token_alg)
        self.issued_id_tokens.append(token)
        return token

    def userinfo(self, identity: dict):
        claims = {"iss": self.base, "aud": self.client_id, **identity}
        if self.userinfo_as_json:
            return "application/json", json.dumps(claims)
        return "application/jwt", self._sign(claims, self.userinfo_key or self.key)

    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=KID, alg="RS256", use="sig")
        return {"keys": [jwk]}

    # --- HTTP -------------------------------------------------------------------------------------

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status, body=b"", content_type="application/json", headers=None):
                body = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status, data):
                self._send(status, json.dumps(data))

            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                provider.requests.append(("GET", url.path, params))
                if url.path == "/.well-known/openid-configuration":
                    return self._json(
                        200,
                        {
                            "issuer": provider.base,
                            "authorization_endpoint": f"{provider.base}/authorize",
                            "token_endpoint": f"{provider.base}/token",
                            "userinfo_endpoint": f"{provider.base}/userinfo",
                            "jwks_uri": f"{provider.base}/jwks",
                            "end_session_endpoint": f"{provider.base}/session/end",
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "userinfo_signing_alg_values_supported": ["RS256"],
                        },
                    )
                if url.path == "/jwks":
                    return self._json(200, provider.jwks())
                if url.path == "/authorize":
                    if params.get("client_id") != provider.client_id or params.get("response_type") != "code":
                        return self._json(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(24)
                    provider.codes[code] = {
                        "nonce": params.get("nonce"),
                        "redirect_uri": params["redirect_uri"],
                        "identity": dict(provider.identities.get(params.get("login_hint"), provider.identity)),
                    }
                    query = urlencode({"code": code, "state": params.get("state", "")})
                    return self._send(302, headers={"Location": f"{params['redirect_uri']}?{query}"})
                if url.path == "/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in provider.access_tokens:
                        return self._json(401, {"error": "invalid_token"})
                    content_type, body = provider.userinfo(provider.access_tokens[token])
                    return self._send(200, body, content_type)
                if url.path == "/session/end":
                    provider.logouts.append(params)
                    query = urlencode({"state": params.get("state", "")})
                    return self._send(303, headers={"Location": f"{params['post_logout_redirect_uri']}?{query}"})
                return self._json(404, {"error": "not_found"})

            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", "0"))
                params = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.requests.append(("POST", url.path, params))
                if url.path != "/token":
                    return self._json(404, {"error": "not_found"})
                if (params.get("client_id"), params.get("client_secret")) != (
                    provider.client_id,
                    provider.client_secret,
                ):
                    return self._json(401, {"error": "invalid_client"})
                code = params.get("code")
                grant = provider.codes.get(code)
                if grant is None or code in provider.used_codes or params.get("redirect_uri") != grant["redirect_uri"]:
                    return self._json(400, {"error": "invalid_grant"})
                provider.used_codes.add(code)
                access_token = secrets.token_urlsafe(24)
                provider.access_tokens[access_token] = grant["identity"]
                return self._json(
                    200,
                    {
                        "access_token": access_token,
                        "token_type": "Bearer",
                        "expires_in": 60,
                        "id_token": provider.id_token(grant),
                    },
                )

        return Handler
