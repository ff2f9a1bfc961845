"""The part USPS, UPS and FedEx fakes share: an OAuth client-credentials token endpoint and Bearer checks."""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from tests.fakes.server import FakeApi, Request, Response, World


class OAuthApi(FakeApi):
    """A fake API behind client credentials; subclasses answer tracking requests in `track`."""

    TOKEN_PATH = ""
    TTL = 3600  # seconds a token lives, in the world's time

    def __init__(self, world: World, client_id: str = "test-id", client_secret: str = "test-secret") -> None:
        super().__init__(world)
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens: dict[str, datetime] = {}  # token -> expiry
        self.issued = 0

    def revoke(self) -> None:
        """Forget every token, as a carrier does when it rotates keys: the next call gets a 401."""
        self.tokens.clear()

    def credentials(self, req: Request) -> tuple[str, str]:
        """(client_id, client_secret) as the carrier reads them: from the form by default."""
        form = req.form()
        return form.get("client_id", ""), form.get("client_secret", "")

    def basic(self, req: Request) -> tuple[str, str]:
        """(client_id, client_secret) from an HTTP Basic header."""
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return "", ""
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password

    def handle(self, req: Request) -> Response:
        """The token endpoint, else a tracking call that must carry a live Bearer token."""
        if req.path == self.TOKEN_PATH and req.method == "POST":
            if req.form().get("grant_type") != "client_credentials":
                return self.token_refused(400)
            if self.credentials(req) != (self.client_id, self.client_secret):
                return self.token_refused(401)
            token = secrets.token_urlsafe(24)
            self.tokens[token] = self.world.now() + timedelta(seconds=self.TTL)
            self.issued += 1
            return Response(200, self.token_answer(token))
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        expiry = self.tokens.get(token) if scheme == "Bearer" else None
        if expiry is None or expiry <= self.world.now():
            return self.unauthorized()
        return self.track(req)

    def token_answer(self, token: str) -> dict:
        """The carrier's token answer."""
        raise NotImplementedError

    def token_refused(self, status: int) -> Response:
        """The carrier's answer to wrong client credentials."""
        raise NotImplementedError

    def unauthorized(self) -> Response:
        """The carrier's answer to a missing, unknown or expired token."""
        raise NotImplementedError

    def track(self, req: Request) -> Response:
        """Answer one authenticated tracking request."""
        raise NotImplementedError
