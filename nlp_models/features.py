"""The token sequence the statistical model sees.

A few hundred examples per intent are not enough for a model to learn that "poistakaa",
"hävittäkää", "radera", "ta bort", "erase" and "wipe" mean the same thing in three languages
and dozens of Finnish inflections. So each word is folded (lower case, no diacritics: written
with or without "ä" it is the same word), cut to a stem prefix (a cheap stand-in for Finnish
morphology: "rekisteristä", "rekisteriin" and "rekisterissänne" share "rekis"), and followed by
a concept token when a small hand-written multilingual lexicon knows it ("@delete"). The model
still decides what the concepts mean together; the lexicon only says which words are alike.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from itertools import accumulate, chain

from nlp_models.preprocess import fold

MAX_TOKENS = 400
"""The request is in the first few hundred words; a 2 MB body must not cost more than that."""
STEM_LENGTH = 5
EMPTY_TOKEN = "#empty"
UNKNOWN_TOKEN = "#unk"
"""Stands for any word seen fewer than `MIN_COUNT` times in training."""
MIN_COUNT = 2

_REPLY_PREFIX = re.compile(r"^\s*((re|vs|sv|aw|fwd?|vl|vb|tr|vast|antw)\s*:\s*)+", re.I)
WORD = re.compile(r"#(?:email|url|phone)\b|[^\W_]+")
# Addresses, links and phone numbers are the writer's, not the request's: "kaisa.heikkinen",
# "pohjolankh" or "040 771 3052" would otherwise become words the model learns from a few
# signatures. Each kind becomes one placeholder ("a new email address" still helps to tell a
# rectification apart).
_PLACEHOLDERS = (
    (re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"), " #email "),
    (re.compile(r"\b(?:https?://\S+|www\.[\w-]+(?:\.[\w-]+)+\S*)", re.I), " #url "),
    # International (+358 40 ..., 0046 70 ...) or national (040 ..., 09-...) numbers; customer,
    # order and invoice numbers (they start with 1, 5 and 9) stay numbers.
    (re.compile(r"(?<![\w+])(?:(?:\+|00)\d{2,3}[ -]?\d{1,3}|0\d{1,3})(?:[ -]?\d{2,4}){2,3}(?!\w)"),
     " #phone "),
)
_ARTICLE = re.compile(
    r"\b(?:art(?:ikla|iklan|icle|ikel|iklarna|\.)?\s*(\d{1,2})|(\d{1,2})\s*(?:\.\s*)?art(?:ikla|iklan|\.)?)\b"
)

# concept -> folded stems; a stem matches a word that starts with it, "=word" only the word itself.
_LEXICON: Mapping[str, tuple[str, ...]] = {
    "delete": (
        "delet", "eras", "remov", "forget", "forgot", "wipe", "purge", "destroy", "anonymi",
        "anonymo", "poist", "havit", "havia", "unoh", "tuhoa", "pyyhk", "pyyhi", "radera",
        "=bort", "utplan", "glomd", "glomma", "rensa", "gallra", "=stryk",
    ),
    "close_account": ("=close", "sulke", "sulje", "avsluta", "lakkaut"),
    "account": ("account", "=tili", "tilin", "tilini", "tunnus", "konto", "profil"),
    "see": (
        "copy", "=see", "=view", "=show", "=know", "access", "inspect", "=tell", "overview",
        "summary", "kopio", "jaljenn", "=nahda", "nahtav", "nahda", "tarkast", "tietaa",
        "=kerto", "kertok", "kertoa", "selvit", "yhteenv", "tuloste", "listau", "=se",
        "=visa", "kopia", "utdrag", "=veta", "insyn", "tillgang", "sammanstall", "sammanfatt",
    ),
    "data": (
        "data", "=datas", "informat", "=info", "detail", "personal", "record", "stored", "=store",
        "=hold", "=keep", "=file", "tieto", "tiedo", "tiedot", "henkilot", "rekist", "tallen",
        "kerat", "keraa", "uppgift", "personupp", "register", "lagra", "sparat", "=sparar",
    ),
    "correct": (
        "correct", "rectif", "=fix", "updat", "chang", "amend", "wrong", "incorrect", "misspel",
        "typo", "outdat", "mistake", "error", "korja", "oikai", "oikeal", "paivit", "vaihta",
        "vaihd", "=vaara", "=vaaran", "vaarin", "virhe", "vanhent", "ratta", "rattel", "=ratt",
        "andra", "andri", "uppdater", "=fel", "felakt", "felstav", "korriger", "komplett",
        "taydent", "puuttu",
    ),
    "moved": ("=moved", "married", "divorc", "muutin", "muuttan", "muuttun", "naimis",
              "flytta", "gift", "skild"),
    "field": (
        "=name", "surname", "firstname", "address", "phone", "=number", "=email", "e-mail",
        "=title", "position", "company", "organi", "website", "homepage", "=site", "=ip",
        "=nimi", "=nime", "nimen", "nimeni", "sukunim", "etunim", "osoit", "puhelin", "numero",
        "sahkopost", "meili", "titteli", "nimike", "=asema", "asemani", "yritys", "yrityks",
        "firma", "nettisiv", "kotisiv", "verkkosiv", "=namn", "efternamn", "fornamn", "adress",
        "telefon", "nummer", "e-post", "epost", "=titel", "foretag", "bolag", "webbadress",
        "webbsida", "hemsida",
    ),
    "restrict": (
        "restrict", "=limit", "limited", "freez", "=block", "suspend", "=pause", "=halt",
        "rajoit", "jaady", "keskeyt", "lukit", "begrans", "sparra", "frys", "pausa",
    ),
    "keep_only": ("=only", "=just", "=vain", "=pelkast", "=ainoastaan", "=bara", "=endast",
                  "=keep", "sailyt", "sailyttak", "=behall", "=behalla", "forvar"),
    "object": (
        "object", "oppos", "profil", "analy", "statist", "legitimat", "personalis",
        "personaliz", "track", "consent", "vastust", "kehittam", "oikeutet", "kohdenn",
        "seuraat", "seuran", "suostum", "invand", "invandn", "motsatt", "berattig",
        "samtyck", "algoritm", "tekoaly", "segment",
    ),
    "share": ("share", "sharing", "partner", "third", "group", "jaka", "jakam", "kumppan",
              "kolmans", "dela", "partners", "tredje", "koncern", "konserni"),
    "marketing": (
        "market", "newslet", "advert", "=ads", "=ad", "=offers", "promot", "campaign",
        "unsubscr", "spam", "telemark", "=sales", "=sms", "=texts", "survey", "research",
        "mailing", "flyer", "brochur", "markkin", "mainos", "mainon", "uutiskir", "tarjou",
        "kampanj", "puhelinmyy", "puhelinmark", "tekstiv", "tekstar", "kysely", "tutkimu",
        "suoramai", "suoramar", "roskapost", "marknadsf", "reklam", "nyhetsbr", "erbjud",
        "kampanj", "telefonfors", "saljsamt", "saljsyft", "enkat", "utskick", "avregistr",
        "direktrek", "direktmark", "=stopp", "=stop", "=peru", "perukaa", "markkinointikiel",
    ),
    "call": ("=call", "calls", "calling", "phoned", "soitt", "soito", "ringer", "ringa",
             "uppringd", "samtal"),
    "list": (
        "=list", "=lists", "listed", "listing", "director", "catalog", "=label", "labels",
        "publish", "public", "disclos", "=hand", "=sell", "=selling", "=pass", "locator",
        "luettel", "=lista", "=listaan", "listal", "listoi", "listass", "listoill", "matrikk",
        "tarra", "julkai", "julkis", "luovut", "=myy", "osoitelah", "=listor", "=listan",
        "=listorna", "katalog", "etikett", "publicer", "offentli", "=lamna", "salja", "saljer",
        "adressetik", "utlamn", "postitust",
    ),
    "portable": (
        "machine", "=csv", "=json", "=xml", "excel", "xlsx", "export", "transfer", "portab",
        "download", "=api", "koneluet", "koneellis", "siirt", "siirto", "tiedost", "vienti",
        "maskinlas", "exporter", "overfor", "overfora", "portabil", "=fil", "=filen",
        "format", "muodos", "muodoss",
    ),
    "commerce": (
        "order", "deliver", "invoic", "parcel", "packag", "refund", "return", "price", "stock",
        "cancel", "paymen", "tilau", "toimit", "lasku", "paket", "hyvit", "palaut", "hinta",
        "hinnan", "varast", "peruut", "maksu", "bestall", "levera", "faktur", "retur",
        "=pris", "lager", "betal", "reklamat", "takuu", "garant", "warrant",
        # a purchase or contract cancelled under consumer law ("peruutan kaupan", "ångerrätt")
        "=kauppa", "=kaupan", "kaupas", "purchas", "=kop", "=kopet", "=kopt", "=avtal",
        "=avtalet", "contract", "angerr", "=ostin", "=ostos", "ostokse",
    ),
    # A company's invoicing details (e-invoice address, operator, business ID, VAT, bank): a
    # supplier updating them asks nothing of the data subject's rights, however much "please
    # update our address" reads like a rectification.
    "billing": (
        "verkkolas", "einvoic", "invoicing", "billing", "=ovt", "valittaj",
        "operator", "operaattor", "=vat", "=alv", "=iban", "=bic", "laskutusos", "laskutusti",
        "fakturaadr", "fakturerin", "efaktur", "organisationsnum", "=orgnr",
        "momsreg", "viitenum", "=bankgiro", "pankkiyhte", "tilinume",
    ),
    "auto": (
        "vacation", "holiday", "=office", "automat", "undeliver", "daemon", "mailer", "lomall",
        "=poissa", "lomani", "semester", "ledig", "franvar", "leave",
    ),
    "negation": (
        "=not", "=dont", "=don", "=no", "=never", "=nothing", "=ei", "=en", "=eika", "=enka",
        "=ala", "=alka", "=alkaa", "=alkaako", "=inte", "=ej", "=inga", "=ingen", "=aldrig",
        "=sluta", "=stop", "lopett",
    ),
    "question": ("=how", "=why", "=what", "=which", "=miten", "=miksi", "=mita", "=mika",
                 "=hur", "=varfor", "=vad", "=vilka", "=onko", "=voiko", "=kan"),
    "gdpr": ("gdpr", "=dsgvo", "tietosuoja", "dataskydd", "=regulation", "asetuks",
             "forordning", "2016"),
}


def _build_index() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    exact: dict[str, list[str]] = {}
    prefix: dict[str, list[str]] = {}
    for concept, stems in _LEXICON.items():
        for stem in stems:
            target = exact if stem.startswith("=") else prefix
            key = stem.lstrip("=")
            if concept not in target.setdefault(key, []):
                target[key].append(concept)
    return (
        {k: tuple(v) for k, v in exact.items()},
        {k: tuple(v) for k, v in prefix.items()},
    )


_EXACT, _PREFIX = _build_index()
_MAX_STEM = max(len(k) for k in _PREFIX)


@functools.lru_cache(maxsize=100_000)
def concepts_of(word: str) -> tuple[str, ...]:
    """Concepts of a folded word: exact entries, then the longest matching stem prefix.
    Remembered per word: mail repeats its words, and the lookup was a tenth of classifying."""
    found = _EXACT.get(word, ())
    for k in range(min(len(word), _MAX_STEM), 2, -1):
        hit = _PREFIX.get(word[:k])
        if hit:
            return tuple(dict.fromkeys(found + hit))
    return found


def strip_reply_prefix(subject: str) -> tuple[str, bool]:
    """'RE: Fwd: x' -> ('x', True): a reply's subject is inherited, not written now."""
    match = _REPLY_PREFIX.match(subject)
    if not match:
        return subject, False
    return subject[match.end():], True


_CONTACT_EMAIL = r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+|"
_CONTACT_REST = (
    r"\bwww\.\S+|https?://\S+|\+?\d[\d ()-]{6,}\d"
    r"|\b\d{5}\s+[A-ZÅÄÖ]\w+|\b1\d{5}\b|\||\b(?:oy|oyj|ab|ky|tmi|ltd|ry|inc|gmbh|llc|plc)\b\.?"
)
_CONTACT = re.compile(_CONTACT_EMAIL + _CONTACT_REST, re.I)
_CONTACT_NO_AT = re.compile(_CONTACT_REST, re.I)
"""`_CONTACT` for a line without "@", where its address branch cannot match (and was the
costly one: it reads each word to its end looking for the "@")."""
_NAME_LINE = re.compile(r"^[\s\-–—/]*(?:[A-ZÅÄÖ][\w'.-]*[\s,]*){1,4}[,.]?\s*$")
_SIGNATURE_CONCEPTS = frozenset({"field", "commerce", "account", "billing"})
"""Words a title or contact line may hold ("puh.", "Toimitusjohtaja", "asiakasnumero")."""


def _is_contact_line(line: str) -> bool:
    """A signature line: an address, number or company with at most a few words around it,
    or a bare name the lexicon does not know ("Kaisa Heikkinen", not "Unsubscribe")."""
    rest = (_CONTACT if "@" in line else _CONTACT_NO_AT).sub(" ", line)
    if rest != line:
        words = WORD.findall(fold(rest))
        return len(words) <= 4 and all(set(concepts_of(w)) <= _SIGNATURE_CONCEPTS for w in words)
    if not _NAME_LINE.match(line) or line.isupper():
        return False
    return not any(concepts_of(w) for w in WORD.findall(fold(line)))


@functools.lru_cache(maxsize=4)
def drop_contact_block(text: str) -> str:
    """The text without its trailing lines of names, numbers and addresses (a signature
    without a closing word). At least one line is always kept. (Remembered for the last few
    texts: a mail's own words are cut for the model and again for its sentences.)"""
    lines = text.rstrip().split("\n")
    end = len(lines)
    while end > 1 and (not lines[end - 1].strip() or _is_contact_line(lines[end - 1])):
        end -= 1
    return "\n".join(lines[:end])


def model_tokens(subject: str, text: str) -> list[str]:
    """Tokens for the model: folded words, stems, concept and GDPR-article tokens, and the
    concepts of how-to questions (:func:`howto_tokens`)."""
    subject, is_reply = strip_reply_prefix(subject)
    folded = fold(_placeholders(drop_contact_block(text[:20_000])))
    head = fold(subject)
    tokens: list[str] = []
    if head.strip() and not is_reply:
        tokens.extend(_word_tokens(head, marker="s:"))
        tokens.extend(howto_tokens(head))
    tokens.extend(howto_tokens(folded))
    tokens.extend(_word_tokens(folded))
    return tokens[:MAX_TOKENS] or [EMPTY_TOKEN]


_SENTENCE_PART = re.compile(r"[^.!?\n]+[.!?\n]?")
"""A run up to and with its end mark (linear: it never fails and retries inside a run)."""
_HOW = re.compile(r"\b(?:how|miten|kuinka|hur|where|mista|mihin|varifran|process|menettel\w*"
                  r"|forfarande\w*|steps?)\b")


def howto_tokens(folded: str) -> list[str]:
    """`@howto` and `@howto+concept` for each question about how to do something ("how do I
    unsubscribe?", "miten voin pyytää tietoni?", "hur gör man för att begära ut sina
    uppgifter?"). Such a mail asks a question, not for the thing itself, though its words are
    the request's: the pairs let the model tell "@howto+delete" from "@delete"."""
    out: list[str] = []
    if "?" not in folded[:5000]:
        return out  # no question at all (most mails): no run to read
    for m in _SENTENCE_PART.finditer(folded[:5000]):
        question = m.group()
        if not question.endswith("?") or not _HOW.search(question):
            continue
        concepts = {c for w in WORD.findall(question) for c in concepts_of(w)}
        concepts -= {"negation", "question"}
        out.append("@howto")
        out.extend(f"@howto+{c}" for c in sorted(concepts))
    return out


def _placeholders(text: str) -> str:
    email, url, phone = _PLACEHOLDERS
    # Each pattern only where it can match: an address needs "@", a link "://" or "www."
    # (no other character is "w" under IGNORECASE), a phone number "+" or "0".
    if "@" in text:
        text = email[0].sub(email[1], text)
    if "://" in text or "www." in text.lower():
        text = url[0].sub(url[1], text)
    if "0" in text or "+" in text:
        text = phone[0].sub(phone[1], text)
    return text


_CLAUSE = re.compile(r"[.!?;:\n()]+|\s[-–—]\s")


@functools.lru_cache(maxsize=100_000)
def _expansion(word: str, marker: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """A word's tokens when no negation is near, the concepts it adds to its clause, and
    whether it is a negation word. Remembered per word: nine in ten words of a mail were met
    before, and building their tokens was a sixth of classifying."""
    if word[0] == "#":
        return (word,), (), False
    if word.isdigit():
        return (f"#{min(len(word), 9)}",), (), False
    found = concepts_of(word)
    tokens = [marker + word]
    if len(word) > STEM_LENGTH:
        tokens.append(word[:STEM_LENGTH] + "~")
    concepts = tuple(c for c in found if c != "negation")
    tokens.extend("@" + c for c in concepts)
    return tuple(tokens), concepts, "negation" in found


CLAUSE_CACHE_SIZE = 30_000
"""Clauses whose tokens are remembered: more than half the clauses classified were met before
(greetings, closings, a mail's clauses again in its sentences)."""


@functools.lru_cache(maxsize=CLAUSE_CACHE_SIZE)
def _clause_tokens(clause: str, marker: str) -> tuple[tuple[str, ...], tuple[int, ...],
                                                     tuple[str, ...]]:
    """A clause's word tokens, where each word's tokens start among them, and its concept
    pairs. `clause` is stripped: its words are the same with or without the spaces around."""
    out: list[str] = []
    starts: list[int] = []
    expanded = [_expansion(word, marker) for word in WORD.findall(clause)]
    if not any(e[2] for e in expanded):
        # No negation word (most clauses): every word's tokens as they are.
        words = [e[0] for e in expanded]
        starts_at = tuple(accumulate(map(len, words), initial=0))[:-1]
        met = frozenset().union(*(e[1] for e in expanded))
        return tuple(chain.from_iterable(words)), starts_at, _pairs(met)
    negated = _negation_scope([("negation",) if e[2] else () for e in expanded])
    seen: set[str] = set()
    for i, (tokens, concepts, _) in enumerate(expanded):
        starts.append(len(out))
        if not negated[i] or not concepts:
            out.extend(tokens)
            seen.update(concepts)
            continue
        # "do NOT delete", "radera dem inte", "ei saa poistaa": the negated concept is
        # its own feature, so "keep it, don't delete it" need not look like erasure.
        out.extend(tokens[:len(tokens) - len(concepts)])
        for concept in concepts:
            out.append("@" + concept)
            out.append("@not_" + concept)
            seen.add("not_" + concept)
    return tuple(out), tuple(starts), _pairs(frozenset(seen))


@functools.lru_cache(maxsize=4096)
def _pairs(concepts: frozenset[str]) -> tuple[str, ...]:
    """Concepts that meet in one clause say more than either alone: "delete" + "data" is
    erasure, "delete" + "commerce" is an order question."""
    ordered = sorted(concepts)
    return tuple(f"@{a}+{b}" for i, a in enumerate(ordered) for b in ordered[i + 1:])


def _word_tokens(folded: str, marker: str = "") -> list[str]:
    out: list[str] = []
    if "art" in folded:  # each way of naming an article has it
        for match in _ARTICLE.finditer(folded):
            out.append(f"@art{match.group(1) or match.group(2)}")
    for clause in _CLAUSE.split(folded):
        tokens, starts, pairs = _clause_tokens(clause.strip(), marker)
        if not starts:
            continue
        if len(out) + starts[-1] >= MAX_TOKENS:
            # Full before one of its words: the tokens end there (a 2 MB body costs no more).
            for start in starts:
                if len(out) + start >= MAX_TOKENS:
                    out.extend(tokens[:start])
                    return out
        out.extend(tokens)
        out.extend(pairs)
    return out


def _negation_scope(concepts: list[tuple[str, ...]]) -> list[bool]:
    """For words with these concepts: True within three words after, or two before, a negation
    word."""
    flags = [False] * len(concepts)
    for i, found in enumerate(concepts):
        if "negation" in found:
            for j in range(max(0, i - 2), min(len(concepts), i + 4)):
                if j != i:
                    flags[j] = True
    return flags
