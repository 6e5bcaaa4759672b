"""Flags for senders that imitate a registered address instead of being it.

Impostors rarely forge a registered address outright (DKIM and DMARC catch that); they pick an
address a tired reader accepts: ``maija@examp1e.fi``, a Cyrillic ``е`` in ``example.fi``, a
punycode ``xn--`` domain, ``maija@mail.example.fi``, ``maija+x@example.fi``, a display name
that shows the real address, or a Reply-To that diverts our answer. None of these ever matches
the register (matching is exact), but staff who see a near-miss candidate must be told why it
is suspicious. Each flag carries a reason written for staff that names no address.

The confusable table is a small built-in subset of Unicode's confusables for the Latin letters
(Cyrillic, Greek and a few Latin look-alikes), plus the classic ASCII tricks (``rn``/``m``,
``vv``/``w``, ``0``/``o``, ``1``/``l``). Any non-ASCII or punycode domain is flagged anyway.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import getaddresses

import idna

from handlers.fields import normalise_email
from mailformat.addresses import addresses_in


@dataclass(frozen=True)
class Flag:
    """A machine-readable ``code`` and a ``reason`` staff can read (never personal data)."""

    code: str
    reason: str


#: Multi-label public suffixes common among our customers' addresses. Anything else falls back
#: to "the last two labels", which is right for .fi, .com, .se, .de and most others.
MULTI_LABEL_SUFFIXES = frozenset({
    "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "sch.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz", "co.jp", "ne.jp",
    "or.jp", "ac.jp", "co.za", "org.za", "com.br", "com.cn", "com.tr", "com.mx", "com.ar",
    "co.in", "co.il", "co.kr", "com.sg", "com.hk", "com.tw", "com.pl", "com.ua", "com.ee",
    "aland.fi", "ax.fi", "priv.no", "gv.at", "co.at", "or.at",
})

#: Letters that render like Latin ones (subset of Unicode confusables.txt, lower case).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ԁ": "d", "ѕ": "s", "т": "t",
    "у": "y", "х": "x", "ԛ": "q", "ԝ": "w", "ү": "y", "ь": "b", "ɡ": "g", "п": "n",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "ζ": "z",
    # Latin look-alikes and symbols
    "ı": "i", "ɩ": "i", "ł": "l", "ŀ": "l", "ɑ": "a", "ɒ": "a", "ℓ": "l", "ǀ": "l", "|": "l",
    "ß": "b", "ƅ": "b", "ɢ": "g", "ᴄ": "c", "ᴏ": "o", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}
#: ASCII sequences that read as other letters; applied after the table above.
ASCII_TRICKS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("5", "s"),
)

def split_address(address: str) -> tuple[str, str]:
    """``(local, domain)`` of an addr-spec, normalised; ``("", "")`` when there is no ``@``."""
    address = normalise_email(address)
    local, at, domain = address.rpartition("@")
    if not at:
        return "", ""
    return local, domain.rstrip(".")


def to_unicode(domain: str) -> str:
    """Decode punycode labels (``xn--``) so look-alikes can be compared letter by letter."""
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                with contextlib.suppress(UnicodeError, ValueError):
                    label = label[4:].encode("ascii").decode("punycode")
        labels.append(label)
    return ".".join(labels)


def org_domain(domain: str) -> str:
    """The organisational domain (DMARC relaxed alignment): ``mail.example.fi`` -> ``example.fi``.

    A small built-in approximation of the Public Suffix List: last two labels, or three when
    the last two are a known multi-label suffix (``example.co.uk``).
    """
    labels = [p for p in domain.lower().rstrip(".").split(".") if p]
    if len(labels) <= 2:
        return ".".join(labels)
    if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def skeleton(text: str) -> str:
    """A form in which confusable spellings of the same-looking string become equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(CONFUSABLES.get(ch, ch) for ch in text)
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch)
    )
    for old, new in ASCII_TRICKS:
        text = text.replace(old, new)
    return text


def scripts_of(label: str) -> set[str]:
    """Rough script names of the letters in ``label`` (first word of the Unicode name)."""
    found = set()
    for ch in label:
        if ch.isalpha():
            name = unicodedata.name(ch, "UNKNOWN")
            found.add(name.split(" ")[0])
    return found


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        return (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def domain_flags(domain: str, reference_domains: Iterable[str]) -> list[Flag]:
    """Flags for a sender domain compared with domains we know (registered, our own)."""
    flags: list[Flag] = []
    if not domain:
        return flags
    shown = to_unicode(domain)
    if any(label.startswith("xn--") for label in domain.split(".")):
        flags.append(Flag("punycode_domain",
                          "sender domain is internationalised (punycode xn--)"))
    elif not shown.isascii():
        flags.append(Flag("non_ascii_domain", "sender domain contains non-ASCII letters"))
    if any(len(scripts_of(label)) > 1 for label in shown.split(".")):
        flags.append(Flag("mixed_script_domain",
                          "sender domain mixes alphabets (e.g. Latin and Cyrillic)"))
    refs = sorted({d for d in (r.lower().rstrip(".") for r in reference_domains) if d})
    if domain in refs:
        return flags
    own = org_domain(domain)
    for ref in refs:
        if skeleton(shown) == skeleton(to_unicode(ref)):
            flags.append(Flag("confusable_domain",
                              "sender domain looks like a known domain but is a different one"))
        elif one_edit_apart(domain, ref) and len(ref) >= 5:
            flags.append(Flag("one_edit_domain",
                              "sender domain is one letter away from a known domain"))
        elif domain.endswith("." + ref):
            flags.append(Flag("subdomain_of_known",
                              "sender domain is a subdomain of a known domain, not the domain "
                              "itself"))
        elif own == org_domain(ref):
            flags.append(Flag("sibling_domain",
                              "sender domain belongs to the same organisation as a known "
                              "domain but is not it"))
        elif _embeds(domain, ref):
            flags.append(Flag("known_domain_embedded",
                              "a known domain appears inside a different sender domain"))
    return unique_flags(flags)


def address_flags(address: str, reference_addresses: Iterable[str]) -> list[Flag]:
    """Flags for a sender address compared with registered addresses."""
    local, domain = split_address(address)
    flags: list[Flag] = []
    if not local:
        return flags
    base = local.split("+", 1)[0]
    for ref in {normalise_email(r) for r in reference_addresses if r}:
        if ref == normalise_email(address):
            continue
        ref_local, ref_domain = split_address(ref)
        if domain == ref_domain and "+" in local and base == ref_local.split("+", 1)[0]:
            flags.append(Flag("subaddress",
                              "sender uses a sub-address (+tag) of a registered address, "
                              "not the address itself"))
        elif domain == ref_domain and "+" in ref_local and local == ref_local.split("+", 1)[0]:
            flags.append(Flag("subaddress",
                              "sender drops the sub-address (+tag) of a registered address"))
        elif domain == ref_domain and skeleton(local) == skeleton(ref_local):
            flags.append(Flag("confusable_local_part",
                              "sender address looks like a registered address on the same "
                              "domain but is a different one"))
        elif local == ref_local and domain != ref_domain and (
            skeleton(to_unicode(domain)) == skeleton(to_unicode(ref_domain))
            or one_edit_apart(domain, ref_domain) or org_domain(domain) == org_domain(ref_domain)
        ):
            flags.append(Flag("near_registered_address",
                              "sender address differs from a registered address only in its "
                              "domain"))
    return unique_flags(flags)


def header_flags(
    from_address: str,
    *,
    from_display: str = "",
    reply_to: Sequence[str] = (),
    from_header_count: int = 1,
    from_addresses_in_header: int = 1,
    sender_header: str | None = None,
) -> list[Flag]:
    """Flags read from the headers alone: display-name spoofing, Reply-To, several From."""
    flags: list[Flag] = []
    sender = normalise_email(from_address)
    if from_header_count > 1:
        flags.append(Flag("several_from_headers", "message has more than one From header"))
    if from_addresses_in_header > 1:
        flags.append(Flag("several_from_addresses", "From header names several addresses"))
    if not sender:
        flags.append(Flag("no_from_address", "message has no usable From address"))
    shown = [normalise_email(a) for a in addresses_in(from_display or "")]
    if shown:
        if any(a != sender for a in shown):
            flags.append(Flag("display_name_other_address",
                              "From display name shows an address other than the sender's"))
        else:
            flags.append(Flag("display_name_address", "From display name contains an address"))
    others = [a for a in (normalise_email(r) for r in reply_to) if a and a != sender]
    if others:
        flags.append(Flag("reply_to_differs", "Reply-To differs from From"))
    if sender_header:
        addresses = [normalise_email(a) for _, a in getaddresses([sender_header]) if a]
        if addresses and addresses[0] != sender:
            flags.append(Flag("sender_header_differs", "Sender header differs from From"))
    return flags


def text_flags(text: str, own_addresses: Iterable[str]) -> list[Flag]:
    """The text asks for an answer elsewhere? ("send it to my new address ...")."""
    known = {normalise_email(a) for a in own_addresses if a}
    named = {normalise_email(a) for a in addresses_in(text or "")}
    if named - known:
        return [Flag("text_names_other_address",
                     "the message text names an address other than the sender's or the "
                     "registered one (answers go only to the registered address)")]
    return []


#: Single-letter swaps tried when guessing which registered address a sender imitates.
_SWAPS: tuple[tuple[str, str], ...] = (
    ("1", "l"), ("1", "i"), ("0", "o"), ("i", "l"), ("l", "i"), ("rn", "m"), ("vv", "w"),
    ("5", "s"), ("3", "e"),
)
MAX_NEAR_MISSES = 100


def near_miss_addresses(address: str) -> list[str]:
    """Registered addresses a sender may be imitating, to look up exactly (an indexed IN query).

    Covers the tricks in this module that can be undone mechanically: a +tag added, a
    subdomain, the real domain embedded in another, homoglyphs and punycode in the domain, and
    one swapped look-alike letter in the local part or domain. (A letter typed twice or left
    out in the domain is caught only when the text names the customer.)
    """
    local, domain = split_address(address)
    if not local or not domain:
        return []
    shown = to_unicode(domain)
    domains = {domain, org_domain(domain), _ascii_lookalike(shown)}
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        domains.add(".".join(labels[i : i + 2]))
        if i + 3 <= len(labels):
            domains.add(".".join(labels[i : i + 3]))
    locals_ = {local, local.split("+", 1)[0]}
    pairs = [(lo, do) for lo in sorted(locals_) for do in sorted(domains)]
    pairs += [(lo, sw) for lo in sorted(locals_) for do in sorted(domains)
              for sw in sorted(_single_swaps(do))]
    pairs += [(sw, do) for lo in sorted(locals_) for sw in sorted(_single_swaps(lo))
              for do in sorted(domains)]
    out: list[str] = []
    own = normalise_email(address)
    for loc, dom in pairs:
        candidate = f"{loc}@{dom}"
        if "." in dom and candidate != own and candidate not in out:
            out.append(candidate)
    return out[:MAX_NEAR_MISSES]


def _ascii_lookalike(text: str) -> str:
    text = "".join(CONFUSABLES.get(ch, ch) for ch in unicodedata.normalize("NFKC", text).lower())
    return "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(ch))


def _single_swaps(text: str) -> set[str]:
    out = set()
    for old, new in _SWAPS:
        start = text.find(old)
        while start != -1:
            out.add(text[:start] + new + text[start + len(old) :])
            start = text.find(old, start + 1)
    return out


def _embeds(domain: str, ref: str) -> bool:
    """``example.fi.evil.com`` or ``example-fi.com`` style embedding of a known domain."""
    stem = ref.rsplit(".", 1)[0]
    if len(stem) < 4:
        return False
    return (f".{ref}." in f".{domain}." and not domain.endswith(ref)) or (
        stem in domain and org_domain(domain) != org_domain(ref)
    )


def unique_flags(flags: list[Flag]) -> list[Flag]:
    """Each flag code once, first occurrence kept (identity's assessment uses it too)."""
    seen: set[str] = set()
    out = []
    for flag in flags:
        if flag.code not in seen:
            seen.add(flag.code)
            out.append(flag)
    return out
