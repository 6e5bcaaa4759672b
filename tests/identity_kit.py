"""Test-only keys, certificates, a DNS stub and mail builders for the identity tests.

Every key here is generated when the tests run (nothing private is committed) and cached per
process, so the suite pays for RSA key generation once. Nothing goes to the network: DKIM
public keys are served by :meth:`DkimWorld.dns`, X.509 validation runs offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import dkim
import pysequoia
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bot.policy_from_settings import identity_policy
from bot.settings import IdentitySettings, Settings
from handlers.parse import ParsedMessage, parse_message
from handlers.policy import IdentityPolicy
from handlers.signatures import TrustConfig
from storage.models import Customer
from tests import factories

OUR_AUTHSERV_ID = "mx.rusttet.fi"
OUR_ADDRESS = "info@rusttet.fi"
NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


def settings(**overrides: object) -> IdentityPolicy:
    """The identity policy the pipeline would build from ``[identity]`` with ``overrides``."""
    values: dict[str, object] = {"trusted_authserv_ids": [OUR_AUTHSERV_ID]}
    values.update(overrides)
    return identity_policy(Settings(identity=IdentitySettings.model_validate(values)))


# -- register ------------------------------------------------------------------------------


def customer(
    ident: int, number: str, first: str, last: str, email: str, phone: str = "", **kw: Any
) -> Customer:
    return factories.new_customer(number, at=NOW, id=ident, first_name=first, last_name=last,
                                  email=email, phone=phone, **kw)


def register() -> list[Customer]:
    """The small register every identity test and impostor scenario runs against."""
    return [
        customer(1, "100001", "Maija", "Meikäläinen", "maija.meikalainen@example.fi",
                 "+358401234567"),
        customer(2, "100002", "Matti", "Virtanen", "matti.virtanen@example.fi", "+358407654321"),
        customer(3, "100003", "Liisa", "Korhonen", "liisa.korhonen@example.com"),
        customer(4, "100004", "Pekka", "Nieminen", "pekka+shop@example.org"),
    ]


def by_email(customers: Sequence[Customer], address: str) -> list[Customer]:
    """What ``storage.register.customers_by_email`` returns, for in-memory tests."""
    from handlers.fields import normalise_email

    key = normalise_email(address)
    return [c for c in customers if key and c.email_normalised == key]


def candidates_in_memory(
    customers: Sequence[Customer], text: str, sender: str = ""
) -> list[Customer]:
    """What ``storage.candidates.find_candidates`` returns, for in-memory tests."""
    from handlers.identity import candidate_keys

    keys = candidate_keys(text, sender=sender)
    emails = {*keys.emails, *keys.near_misses}
    return [c for c in customers if c.customer_number in keys.customer_numbers
            or c.phone in keys.phones or c.email_normalised in emails]


# -- mail ----------------------------------------------------------------------------------


def mail(
    *,
    from_: str,
    body: str = "Hei, haluan tarkastaa tietoni.",
    subject: str = "Tietopyyntö",
    to: str = OUR_ADDRESS,
    reply_to: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    attachments: Sequence[tuple[str, str, bytes]] = (),
    message_id: str = "<req-1@example.fi>",
) -> bytes:
    """A mail as a client would send it (CRLF). ``headers`` go on top, like trace headers."""
    msg = EmailMessage()
    msg["From"] = from_
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = "Thu, 26 Nov 2026 10:00:00 +0200"
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    raw = msg.as_bytes(policy=SMTP)
    return prepend(raw, headers)


def prepend(raw: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    top = b"".join(f"{name}: {value}\r\n".encode() for name, value in headers)
    return top + raw


def raw_mail(lines: Sequence[str], body: str = "Hei, haluan tarkastaa tietoni.") -> bytes:
    """A mail written header by header (for what EmailMessage refuses: two From headers...)."""
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


def parse(raw: bytes) -> ParsedMessage:
    return parse_message(raw)


# -- DKIM ----------------------------------------------------------------------------------


@dataclass
class DkimWorld:
    """DKIM keys per domain and the DNS answers for them (an injectable dnsfunc)."""

    keys: dict[str, bytes] = field(default_factory=dict)  # domain -> private PEM
    records: dict[bytes, bytes] = field(default_factory=dict)
    selector: bytes = b"s1"

    def add_domain(self, domain: str, key: rsa.RSAPrivateKey | None = None) -> None:
        key = key or _rsa_key(domain)
        self.keys[domain] = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption())
        public = base64.b64encode(key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        self.records[self.selector + b"._domainkey." + domain.encode() + b"."] = (
            b"v=DKIM1; k=rsa; p=" + public)

    def sign(self, raw: bytes, domain: str, *, key_of: str | None = None,
             length: bool = False) -> bytes:
        """DKIM-sign ``raw`` as ``domain`` (with the key of ``key_of``: forge with a wrong key)."""
        private = self.keys[key_of or domain]
        signature = dkim.sign(raw, self.selector, domain.encode(), private,
                              include_headers=[b"from", b"to", b"subject", b"message-id",
                                               b"date", b"reply-to"], length=length)
        return signature + raw

    def dns(self, name: bytes, timeout: int = 5) -> bytes | None:
        return self.records.get(name)


@functools.cache
def _rsa_key(label: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def dkim_world() -> DkimWorld:
    world = DkimWorld()
    for domain in ("example.fi", "evil.test", "example.com"):
        world.add_domain(domain)
    return world


# -- X.509 (S/MIME, PDF) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey

    def issue(self, email: str, name: str = "Test Person") -> tuple[x509.Certificate,
                                                                     ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.ca_key.public_key()), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        return cert, key

    def root_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def root_asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.ca_cert.public_bytes(serialization.Encoding.DER))


def make_pki(name: str = "Test Root CA") -> Pki:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pki(cert, key)


@functools.cache
def trusted_pki() -> Pki:
    return make_pki("Trusted Test Root")


@functools.cache
def rogue_pki() -> Pki:
    return make_pki("Rogue Root")


def smime_signed(
    cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, *, from_: str,
    body: str = "Pyydän pääsyä tietoihini.\r\n", to: str = OUR_ADDRESS,
) -> bytes:
    """A real S/MIME multipart/signed mail (detached signature), as cryptography writes it."""
    inner = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}".encode()
    signed = pkcs7.PKCS7SignatureBuilder().set_data(inner).add_signer(
        cert, key, hashes.SHA256()).sign(serialization.Encoding.SMIME,
                                         [pkcs7.PKCS7Options.DetachedSignature])
    head = (f"From: {from_}\r\nTo: {to}\r\nSubject: Tarkastuspyyntö\r\n"
            "Message-ID: <smime-1@example.fi>\r\n").encode()
    return head + signed.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signed_pdf(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, pki: Pki) -> bytes:
    """A one-page PDF with a PAdES signature by ``cert``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.signers.pdf_cms import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([pki.root_asn1()]),
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(blank_pdf())),
                           signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer)
    return out.getvalue()


def blank_pdf() -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer = PdfFileWriter()
    writer.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
    }))
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


# -- OpenPGP -------------------------------------------------------------------------------


@functools.cache
def pgp_key(user_id: str) -> pysequoia.Tsk:
    """A test-only OpenPGP key with ``user_id`` (e.g. ``"Maija <maija@...>"``)."""
    return pysequoia.Tsk.generate(user_id)


def clearsign(tsk: pysequoia.Tsk, text: str) -> str:
    return pysequoia.sign(tsk.signer(), text.encode(),
                          mode=pysequoia.SignatureMode.CLEAR).decode()


def detached(tsk: pysequoia.Tsk, data: bytes) -> bytes:
    return pysequoia.sign(tsk.signer(), data, mode=pysequoia.SignatureMode.DETACHED)


def trust(
    *, pgp: Sequence[pysequoia.Tsk] = (), roots: Sequence[Pki] = ()
) -> TrustConfig:
    return TrustConfig(
        x509_roots=tuple(p.root_asn1() for p in roots),
        openpgp_certs=tuple(t.extract_certificate() for t in pgp),
    )


def write_trust_files(tmp: Path, *, pgp: Sequence[pysequoia.Tsk] = (),
                      roots: Sequence[Pki] = ()) -> tuple[list[Path], list[Path]]:
    cert_paths, key_paths = [], []
    for i, pki in enumerate(roots):
        path = tmp / f"root{i}.pem"
        path.write_bytes(pki.root_pem())
        cert_paths.append(path)
    for i, tsk in enumerate(pgp):
        path = tmp / f"key{i}.asc"
        path.write_text(str(tsk.extract_certificate()))
        key_paths.append(path)
    return cert_paths, key_paths
