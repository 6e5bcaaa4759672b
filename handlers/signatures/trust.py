"""The trust configuration: X.509 roots and OpenPGP certificates from the configured files.

Loaded per message through a cache keyed on the files' modification times, so an operator's
edit takes effect without a restart and a typo in a path is reported, not ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

import pysequoia
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509

from handlers.policy import IdentityPolicy
from handlers.signatures.results import TrustConfig, TrustConfigError, short_error

# -- trust ---------------------------------------------------------------------------------


def load_trust(identity: IdentityPolicy, *, base_dir: Path | None = None) -> TrustConfig:
    """Load the configured trust files; raise :class:`TrustConfigError` naming a bad file.

    Use at start-up (or ``dsrbot check``) so a typo in a path stops the service instead of
    silently making every signature untrusted.
    """
    trust = trust_from_settings(identity, base_dir=base_dir)
    if trust.problems:
        raise TrustConfigError("; ".join(trust.problems))
    return trust


def trust_from_settings(
    identity: IdentityPolicy, *, base_dir: Path | None = None
) -> TrustConfig:
    """The trust configuration, never raising: unreadable files become ``problems``.

    Cached per list of files and their modification times, so calling it for every message
    costs a few ``stat`` calls, and an operator's edit takes effect without a restart.
    """
    def resolve(paths: Iterable[Path]) -> tuple[tuple[str, float], ...]:
        out = []
        for path in paths:
            full = path if path.is_absolute() or base_dir is None else base_dir / path
            try:
                mtime = full.stat().st_mtime
            except OSError:
                mtime = -1.0
            out.append((str(full), mtime))
        return tuple(out)

    return _load_trust_cached(resolve(identity.trusted_certificates),
                              resolve(identity.trusted_openpgp_keys))


@functools.lru_cache(maxsize=8)
def _load_trust_cached(
    cert_files: tuple[tuple[str, float], ...], pgp_files: tuple[tuple[str, float], ...]
) -> TrustConfig:
    roots: list[asn1_x509.Certificate] = []
    certs: list[pysequoia.Cert] = []
    problems: list[str] = []
    for name, _ in cert_files:
        try:
            roots.extend(load_x509_certificates(Path(name).read_bytes()))
        except (OSError, ValueError) as exc:
            problems.append(f"identity.trusted_certificates: {name}: {short_error(exc)}")
    for name, _ in pgp_files:
        try:
            certs.extend(pysequoia.Cert.split_bytes(Path(name).read_bytes()))
        except (OSError, RuntimeError, ValueError) as exc:
            problems.append(f"identity.trusted_openpgp_keys: {name}: {short_error(exc)}")
    return TrustConfig(tuple(roots), tuple(certs), problems=tuple(problems))


def load_x509_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM bundle or one DER certificate."""
    if pem.detect(data):
        found = [asn1_x509.Certificate.load(der) for kind, _, der in pem.unarmor(data, True)
                 if kind == "CERTIFICATE"]
    else:
        found = [asn1_x509.Certificate.load(data)]
    for cert in found:
        cert.native  # noqa: B018  (parses fully now, so a broken file fails here)
    if not found:
        raise ValueError("no certificate in file")
    return found
