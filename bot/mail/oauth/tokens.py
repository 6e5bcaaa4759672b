"""OAuth2 access tokens for IMAP and SMTP: fetched from a source, cached in memory, renewed
before they expire.

Why a cache with a margin: Exchange Online and Gmail tokens live about an hour; fetching one
per connection would hit the token endpoint on every reconnect, and a token that expires
between "fetched" and "used" fails a login for nothing. The token never leaves this object
except to the SASL exchange: ``repr`` hides it and nothing here logs it.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class TokenError(Exception):
    """No token could be had (refused grant, revoked consent, unreachable endpoint).

    The message is for operators: provider and error code only, never a secret.
    """


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    #: time.time() when it stops working.
    expires_at: float


class TokenSource(Protocol):
    """Fetches a new token from the provider (blocking; called from a worker thread)."""

    name: str

    def fetch(self) -> AccessToken: ...


class TokenProvider:
    """One mailbox's token: cached, renewed ``margin`` seconds before expiry, thread-safe."""

    def __init__(self, source: TokenSource, *, margin: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        #: Tokens fetched so far (tests and `dsrbot doctor` look at it).
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenProvider({self.source.name})"

    def token(self) -> AccessToken:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._token.expires_at - self._margin:
                token = self.source.fetch()
                # A token shorter-lived than the margin is still used (renewed on every call).
                self._token = token
                self.fetches += 1
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (the server refused it: revoked, or expired early)."""
        with self._lock:
            self._token = None

    def expired(self, token: AccessToken) -> bool:
        return self._clock() >= token.expires_at


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, base64 (Google's and Microsoft's format)."""
    raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode()).decode()
