"""Where tokens come from: Microsoft (msal), Google (google-auth), or any token endpoint.

The libraries are imported when a source is built, so a deployment that logs in with a
password (and every CLI command) never loads them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC
from typing import Any

from bot.mail.oauth.tokens import AccessToken, TokenError, TokenProvider
from bot.settings import ConfigError, OAuth2Settings, Settings

MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_SCOPE = "https://mail.google.com/"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"


def _expiry(seconds: Any) -> float:
    try:
        return time.time() + float(seconds)
    except (TypeError, ValueError):
        return time.time() + 300.0


class GenericSource:
    """RFC 6749 token endpoint: client credentials, or a refresh token when one is set."""

    name = "generic"

    def __init__(self, token_url: str, client_id: str, client_secret: str | None,
                 refresh_token: str | None, scope: str, timeout: float = 30.0) -> None:
        if not token_url:
            raise ConfigError("oauth2.token_url: required for provider \"generic\"")
        self._url, self._client_id, self._secret = token_url, client_id, client_secret
        self._refresh, self._scope, self._timeout = refresh_token, scope, timeout

    def fetch(self) -> AccessToken:
        form = {"client_id": self._client_id}
        if self._refresh:
            form |= {"grant_type": "refresh_token", "refresh_token": self._refresh}
        else:
            form["grant_type"] = "client_credentials"
        if self._secret:
            form["client_secret"] = self._secret
        if self._scope:
            form["scope"] = self._scope
        request = urllib.request.Request(self._url, data=urllib.parse.urlencode(form).encode(),
                                         headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            code = _error_code(exc)
            raise TokenError(f"token endpoint refused the grant (HTTP {exc.code} {code})") from None
        except (OSError, ValueError) as exc:
            raise TokenError(f"token endpoint unreachable ({exc.__class__.__name__})") from None
        if "access_token" not in data:
            raise TokenError(f"token endpoint gave no token ({data.get('error', 'no error')})")
        return AccessToken(str(data["access_token"]), _expiry(data.get("expires_in", 3600)))


def _error_code(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", ""))
    except (OSError, ValueError, AttributeError):
        return ""


class MicrosoftSource:
    """Entra ID app-only token (client credentials) for Exchange Online IMAP/SMTP."""

    name = "microsoft"

    def __init__(self, tenant_id: str, client_id: str, credential: str | dict[str, str],
                 scope: str) -> None:
        import msal

        if not tenant_id or not client_id:
            raise ConfigError("oauth2.tenant_id and oauth2.client_id: required for "
                              "provider \"microsoft\"")
        self._app = msal.ConfidentialClientApplication(
            client_id, client_credential=credential,
            authority=f"https://login.microsoftonline.com/{tenant_id}")
        self._scopes = [scope or MICROSOFT_SCOPE]

    def fetch(self) -> AccessToken:
        result = self._app.acquire_token_for_client(scopes=self._scopes)
        if not result or "access_token" not in result:
            code = (result or {}).get("error", "unknown")
            raise TokenError(f"Microsoft Entra refused the token request ({code})")
        return AccessToken(result["access_token"], _expiry(result.get("expires_in", 3600)))


class GoogleSource:
    """A service account acting as the mailbox (domain-wide delegation), or a refresh token."""

    name = "google"

    def __init__(self, mailbox: str, cfg: OAuth2Settings, client_secret: str | None,
                 refresh_token: str | None) -> None:
        import google.auth.transport.requests
        from google.oauth2 import credentials, service_account

        scopes = [cfg.scope or GOOGLE_SCOPE]
        self._request = google.auth.transport.requests.Request()
        self._creds: Any
        if cfg.service_account_file is not None:
            self._creds = service_account.Credentials.from_service_account_file(
                str(cfg.service_account_file), scopes=scopes).with_subject(mailbox)
        elif refresh_token:
            self._creds = credentials.Credentials(
                None, refresh_token=refresh_token, token_uri=cfg.token_url or GOOGLE_TOKEN_URL,
                client_id=cfg.client_id, client_secret=client_secret, scopes=scopes)
        else:
            raise ConfigError("oauth2: provider \"google\" needs service_account_file or a "
                              "refresh token")

    def fetch(self) -> AccessToken:
        import google.auth.exceptions

        try:
            self._creds.refresh(self._request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise TokenError(f"Google refused the token request ({exc.__class__.__name__})") \
                from None
        expiry = self._creds.expiry  # naive UTC
        if expiry is None:
            return AccessToken(str(self._creds.token), _expiry(3600))
        aware = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        return AccessToken(str(self._creds.token), aware.timestamp())


def token_provider(settings: Settings, cfg: OAuth2Settings, mailbox: str) -> TokenProvider:
    """Build the provider a mailbox's ``oauth2`` section describes; ConfigError when incomplete."""
    def secret(value: Any, path: Any, key: str) -> str | None:
        try:
            return settings.secret(value, path)
        except OSError as exc:
            raise ConfigError(f"oauth2.{key}_file: cannot be read ({exc.strerror})") from exc

    client_secret = secret(cfg.client_secret, cfg.client_secret_file, "client_secret")
    refresh = secret(cfg.refresh_token, cfg.refresh_token_file, "refresh_token")
    source: Any
    if cfg.provider == "microsoft":
        credential: str | dict[str, str] | None = client_secret
        if cfg.certificate_file is not None:
            try:
                key = cfg.certificate_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"oauth2.certificate_file: cannot be read ({exc.strerror})") \
                    from exc
            credential = {"private_key": key, "thumbprint": cfg.certificate_thumbprint}
        if credential is None:
            raise ConfigError("oauth2: provider \"microsoft\" needs client_secret (env or "
                              "client_secret_file) or certificate_file")
        source = MicrosoftSource(cfg.tenant_id, cfg.client_id, credential, cfg.scope)
    elif cfg.provider == "google":
        source = GoogleSource(mailbox, cfg, client_secret, refresh)
    else:
        source = GenericSource(cfg.token_url, cfg.client_id, client_secret, refresh, cfg.scope)
    return TokenProvider(source, margin=cfg.refresh_margin_seconds)
