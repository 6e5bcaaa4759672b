"""OpenPGP signatures (pysequoia): clearsigned text, PGP/MIME and detached ``.asc``/``.sig``.

Only keys listed in ``identity.trusted_openpgp_keys`` can make a signature valid.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

import pysequoia
from pysequoia.packet import PacketPile

from handlers.fields import normalise_email
from handlers.signatures.results import SignatureCheck, TrustConfig, short_error

log = logging.getLogger(__name__)


# -- OpenPGP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PgpStore:
    """Key lookup for pysequoia: only our trusted certificates, matched by key id."""

    by_key: dict[str, pysequoia.Cert]
    by_primary: dict[str, pysequoia.Cert]

    @classmethod
    def build(cls, certs: Sequence[pysequoia.Cert]) -> _PgpStore:
        by_key: dict[str, pysequoia.Cert] = {}
        by_primary: dict[str, pysequoia.Cert] = {}
        for cert in certs:
            by_primary[cert.fingerprint.lower()] = cert
            try:
                packets = list(PacketPile.from_bytes(bytes(cert)))
            except (RuntimeError, ValueError):
                packets = []
            for packet in packets:
                fpr = packet.fingerprint
                if fpr:
                    by_key[fpr.lower()] = cert
                    by_key[fpr.lower()[-16:]] = cert
        return cls(by_key, by_primary)

    def lookup(self, key_ids: Sequence[str], asked: list[str]) -> list[pysequoia.Cert]:
        asked.extend(key_ids)
        found = []
        for key_id in key_ids:
            cert = self.by_key.get(str(key_id).lower()) or self.by_key.get(
                str(key_id).lower()[-16:])
            if cert is not None and cert not in found and not cert.is_revoked:
                found.append(cert)
        return found


@functools.lru_cache(maxsize=8)
def _pgp_store(certs: tuple[pysequoia.Cert, ...]) -> _PgpStore:
    return _PgpStore.build(certs)


def _pgp_verify(
    trust: TrustConfig, what: str, call: Any
) -> SignatureCheck:
    store = _pgp_store(trust.openpgp_certs)
    asked: list[str] = []
    try:
        result = call(lambda ids: store.lookup(ids, asked))
    except (RuntimeError, ValueError, TypeError) as exc:
        known = any(store.by_key.get(k.lower()) or store.by_key.get(k.lower()[-16:])
                    for k in asked)
        if asked and not known:
            return SignatureCheck("openpgp", "invalid",
                                  f"{what}: signed by a key that is not trusted "
                                  "(identity.trusted_openpgp_keys)")
        log.debug("openpgp verification failed: %s", short_error(exc))
        return SignatureCheck("openpgp", "invalid",
                              f"{what}: does not verify (altered or malformed)")
    emails: list[str] = []
    signer = None
    for sig in result.valid_sigs:
        cert = store.by_primary.get(str(sig.certificate).lower())
        if cert is None:
            continue
        signer = signer or f"OpenPGP key {cert.fingerprint.upper()}"
        emails += [e for e in (_uid_email(str(u)) for u in cert.user_ids) if e]
    if not result.valid_sigs:
        return SignatureCheck("openpgp", "invalid", f"{what}: no valid signature")
    return SignatureCheck("openpgp", "valid", f"{what}: valid, by a trusted OpenPGP key",
                          tuple(dict.fromkeys(emails)), signer)


def pgp_clearsigned(block: str, trust: TrustConfig, what: str) -> SignatureCheck:
    data = block.encode("utf-8", "replace")
    return _pgp_verify(trust, what, lambda store: pysequoia.verify(bytes=data, store=store))


def pgp_detached(
    candidates: Sequence[bytes], signature: bytes, trust: TrustConfig, what: str
) -> SignatureCheck:
    try:
        sig = pysequoia.Sig.from_bytes(signature)
    except (RuntimeError, ValueError) as exc:
        return SignatureCheck("openpgp", "invalid", f"{what}: unreadable ({short_error(exc)})")
    first: SignatureCheck | None = None
    for data in dict.fromkeys(candidates):
        check = _pgp_verify(trust, what, lambda store, data=data: pysequoia.verify(
            bytes=data, store=store, signature=sig))
        if check.state == "valid":
            return check
        first = first or check
    return first or SignatureCheck("openpgp", "invalid", f"{what}: nothing to verify")


def _uid_email(uid: str) -> str:
    _, address = parseaddr(uid)
    return normalise_email(address) if "@" in address else ""


def text_variants(text: str) -> list[bytes]:
    """The body as the signer's program may have hashed it (line ends, final newline)."""
    base = text.replace("\r\n", "\n")
    out = []
    for body in (base, base + "\n", base.rstrip("\n"), base.rstrip("\n") + "\n"):
        for variant in (body, body.replace("\n", "\r\n")):
            out.append(variant.encode("utf-8"))
    return list(dict.fromkeys(out))


def crlf(data: bytes) -> bytes:
    """RFC 3156 / 5751 canonical form: every line ends in CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


_SIGNATURE_ARMOUR = re.compile(
    rb"-----BEGIN PGP SIGNATURE-----.*?-----END PGP SIGNATURE-----", re.DOTALL)


def pgp_signed_at(data: bytes) -> datetime | None:
    """The creation time of the (first) OpenPGP signature in ``data`` (armoured or binary)."""
    match = _SIGNATURE_ARMOUR.search(data)
    try:
        sig = pysequoia.Sig.from_bytes(match.group(0) if match else data)
    except (RuntimeError, ValueError):
        return None
    created = sig.created
    return created if isinstance(created, datetime) else None


def clearsigned_text(block: str) -> str:
    """The text a clearsigned block signs (without its armour headers and dash-escapes)."""
    body = block.split("-----BEGIN PGP SIGNATURE-----", 1)[0]
    lines = body.replace("\r\n", "\n").split("\n")
    start = 1
    while start < len(lines) and lines[start].strip():  # "Hash: SHA256" armour headers
        start += 1
    return "\n".join(line[2:] if line.startswith("- ") else line for line in lines[start + 1:])
