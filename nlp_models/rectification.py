"""For a rectification: which register field, the new value, and the grounds as written.

The notice asks the request to say what to correct and on what grounds. Mail rarely says it in
a form; it says "I got married, my name is Virtanen now" or "numero on 0505 123 678 eikä 0505
123 687". Values with a format (email, phone, web address, IP, postal address) are found by the
entity rules; names, organisations and positions by the words around them. Where several values
of a kind appear, the one next to a "new / should be / oikea / rätt" cue wins over one next to an
"old / wrong / vanha / fel" cue. The result is a proposal that staff see before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from nlp_models.entities import Entity
from nlp_models.preprocess import fold, fold_aligned

FIELDS = ("first_name", "last_name", "organisation", "position", "email", "postal_address",
          "phone", "www", "ip_address")

_CUES: dict[str, re.Pattern[str]] = {k: re.compile(v) for k, v in {
    "email": r"\b(e-?mail|sahkopost\w*|meili\w*|e-?post\w*|mejl\w*|s-?posti\w*)",
    "phone": r"\b(phone|mobile|number|tel|puhelin\w*|numero\w*|puh|gsm|kannyk\w*|telefon\w*|"
             r"nummer\w*|nr|linja|line)\b",
    "www": r"\b(website|web ?site|homepage|site|url|domain|nettisiv\w*|kotisiv\w*|verkkosiv\w*|"
           r"sivusto\w*|webbadress\w*|webbsida\w*|hemsida\w*|webbplats\w*|webb)",
    "ip_address": r"\bip\b",
    "postal_address": r"(address|osoit\w*|\bosote\w*|adress\w*|\bmoved|\bmuutin|\bmuutimme|"
                      r"\bflytta\w*|postinum\w*|postnum\w*|\bapartment|\basunto\w*|lagenhet\w*)",
    "last_name": r"\b(surname|last name|family name|maiden|married|divorc\w*|sukunim\w*|"
                 r"naimisi\w*|avioero\w*|efternamn\w*|gift|giftermal\w*|skilsm\w*)",
    "first_name": r"\b(first name|given name|forename|nickname|legal first|etunim\w*|"
                  r"fornamn\w*|tilltalsnamn\w*)",
    "organisation": r"\b(company|organi[sz]ation\w*|employer|represent\w*|merger|yritys\w*|"
                    r"yrityk\w*|firma\w*|firman|organisaatio\w*|tyonantaj\w*|edustan|"
                    r"foretag\w*|bolag\w*|arbetsplats\w*|arbetsgivare\w*|representerar)",
    "position": r"\b(title|position|role|job title|titteli\w*|\w*nimike\w*|asema\w*|tehtava\w*|"
                r"toimin|titel\w*|roll\w*|befattning\w*|ceo|cfo|cto|coo|director|manager|"
                r"intern|chairman|head of|coordinator|assistant|\w*paallikko\w*|\w*johtaja\w*|"
                r"harjoittelija\w*|assistentti\w*|\w*chef|direktor|\w*koordinaattori\w*)",
}.items()}
_TYPED = {"email": "email", "phone": "phone", "www": "www", "ip_address": "ip_address",
          "postal_address": "postal_address"}
_NEW_CUE = re.compile(
    r"(new|now|is|should be|correct\w*|right|to|instead|actual\w*|complete|uusi|uude\w*|"
    r"nykyaan|oikea|oikein|muotoon|tilalle|on|ny|nya|numera|ratt|ska vara|till|ar)\W{0,6}$"
)
_OLD_CUE = re.compile(
    r"(old|previous\w*|former\w*|wrong|not|was|vanha\w*|vaara\w*|aiemmin|aiempi|eika|ei|"
    r"gamla|tidigare|fel|inte|from)\W{0,6}$"
)
_NAME = r"[A-ZÅÄÖ][a-zåäöéü]+(?:-[A-ZÅÄÖ][a-zåäöéü]+)?"
_FULL_NAME = rf"{_NAME}(?: {_NAME})?"
_NAME_VALUE = re.compile(
    r"(?:should be|is actually|it's|it is|is now|am now|now|changed to|to|name is|spelled|"
    r"spelt|back to(?: my maiden name)?|name of|correct(?: spelling| form)? is|name,|"
    r"oikea(?: muoto| nimi)? on|on nykyään|nykyään|on nyt|nyt|on virallisesti|muotoon|olen|"
    r"nimeni on|pitäis olla|pitäisi olla|pitää olla|oikein|oikea|correct|right|"
    r"on|heter(?: numera)?|ska vara|rätt är|stavas|numera|till|är|namn är|which is|i'm|:)"
    r"\s*[:]?\s+['\"“‘]?(?:(?:Mr|Mrs|Ms|Miss|Dr|rouva|herra|fru|herr)\.?\s+)?"
    rf"({_FULL_NAME})(?:['\"”’])?"
)
_NAME_NOT = re.compile(
    rf"['\"“‘]?({_FULL_NAME})['\"”’]?,?\s+(?:not|eikä|eika|ei|inte|och inte)\s")
_ANY_NAME = re.compile(rf"(?<![\w-])({_FULL_NAME})(?![\w-])")
_NAME_CUE = re.compile(r"\b(name\w*|nimi\w*|nime\w*|namn\w*|spel\w*|kirjoitet\w*|stava\w*)")
_NOT_A_NAME = frozenset(
    "hei hi hello moi hej dear please kiitos thanks tack your you the my i we our mitt min mina "
    "ni er jag oikea oikein uusi new correct right it its this that".split()
)
_ORG = re.compile(
    # Starts only where a word starts: from inside a long word every start would rescan it.
    r"(?<![\w&'.-])((?:[A-ZÅÄÖ][\w&'.-]*\s){0,4}"
    r"(?:Oy Ab|Oyj|Oy|Ab|AB|OY|Ltd|Ky|KY|Tmi|Inc|GmbH|Ry|ry))"
    r"(?![\w])"
)
_POSITION = re.compile(
    r"(?:i'm now|i am now|am now|now|i'm the|i am the|i'm|been the|been|title to|role to|"
    r"oon ollu|oon ollut|oon|"
    r"position to|as|olen nykyään|olen ollut|toimin nykyään|olen toiminut|toiminut|toimin|"
    r"nykyään|on nykyään|olen|asemakseni|tittelikseni|nimikkeekseni|titteli on|"
    r"jag är numera|är numera|jag är|är|titeln till|titeln är|numera)"
    r"\s+(?:the\s+|a\s+|an\s+)?['\"“‘]?"
    r"([A-Za-zÅÄÖåäö][\wåäöÅÄÖ-]*(?:\s(?:of the|of|[A-Za-zåäöÅÄÖ][\wåäöÅÄÖ-]*)){0,3})"
)
_POSITION_STOP = re.compile(
    r"['\"”’].*$|\sof [A-ZÅÄÖ].*$|\s(?:at|in|since|for|and|och|ja|jo|samassa|hos|på|vid|"
    r"i|from|in|so|joten|mutta|but|men|where|when|with)\b.*$"
)
_POSITION_LEAD = re.compile(
    r"^(?:(?:edelleen|still|nykyään|nykyaan|numera|now|vuoden alusta|sedan (?:i )?\w+|"
    r"since \w+|jo|already)\s+)+", re.I)
_NOT_A_POSITION = frozenset(
    "the a my here sama en inte i ei kanssa with customer asiakas asiakkaanne working "
    "moved married not no yes sure happy writing sorry a an also still".split()
)
_ORG_LEAD = re.compile(
    r"^(?:(?:it's|its|it is|i|work|working|for|is|now|at|to|the|we|our|company|represent|"
    r"yritys|firma|on|nyt|nykyään|jobbar|på|är|till)\s+)+", re.I)
_REASON = re.compile(
    r"\b(because|since|as i|due to|after|married|divorc|moved|merger|changed|koska|silla|"
    r"takia|vuoksi|jalkeen|muutin|naimisi|avioero|eftersom|darfor|efter|flyttat|gift|"
    r"wrong|incorrect|misspel|outdated|typo|vaarin|virhe|vanhentu|fel|felstav)"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _request_part(text: str, own: str) -> tuple[int, int]:
    """Span of `text` holding the sender's words (without the trailing signature lines)."""
    start = text.find(own[:40]) if own else -1
    if start < 0:
        return 0, len(text)
    return start, min(len(text), start + len(own))


def _pick(candidates: Sequence[tuple[int, int, str]], folded: str) -> tuple[int, int, str] | None:
    """The candidate a 'new' cue points at; else one no 'old' cue points at; else the last."""
    if not candidates:
        return None
    fresh = [c for c in candidates if _NEW_CUE.search(folded[max(0, c[0] - 40):c[0]])
             and not _OLD_CUE.search(folded[max(0, c[0] - 12):c[0]])]
    if fresh:
        return fresh[-1]
    not_old = [c for c in candidates if not _OLD_CUE.search(folded[max(0, c[0] - 40):c[0]])]
    for c in candidates:
        after = folded[c[1]:c[1] + 12]
        if re.match(r"\W{0,3}(eika|not|inte|ei)\b", after):
            return c
    return (not_old or list(candidates))[-1]


def _field_scores(folded: str, typed: dict[str, list[Entity]]) -> dict[str, float]:
    scores = {f: float(len(_CUES[f].findall(folded))) for f in FIELDS}
    if _NAME_CUE.search(folded):
        # A bare "name" cue: first or last name, decided by the value (see _split_name).
        scores["first_name"] += 0.6
        scores["last_name"] += 0.5
    for name, ents in typed.items():
        if ents:
            scores[name] += 2.0 if scores[name] else 0.5
        else:
            scores[name] = min(scores[name], 0.4)
    return scores


def _name_candidates(text: str, lo: int, hi: int) -> list[tuple[int, int, str]]:
    out = [(m.start(1), m.end(1), m.group(1)) for m in _NAME_VALUE.finditer(text, lo, hi)]
    out += [(m.start(1), m.end(1), m.group(1)) for m in _NAME_NOT.finditer(text, lo, hi)]
    return sorted(c for c in set(out) if fold(c[2].split()[0]) not in _NOT_A_NAME)


def _split_name(field: str, picked: tuple[int, int, str], text: str, lo: int, hi: int,
                scores: dict[str, float]) -> tuple[str, tuple[int, int, str]]:
    """Which part of a (possibly full) name is new, and so which field it is.

    "'Jorma Lahtinen', but it should be Jarmo Lahtinen": the other name in the mail shares
    the last name, so the first name is what changes.
    """
    start, _end, value = picked
    parts = value.split()
    if len(parts) == 2:
        first_part = (start, start + len(parts[0]), parts[0])
        s = start + len(parts[0]) + 1
        last_part = (s, s + len(parts[1]), parts[1])
        others = [m.group(1).split() for m in _ANY_NAME.finditer(text, lo, hi)
                  if m.start(1) != start and m.group(1) != value]
        for norm in (str, fold):  # exact spelling first: "Valimaki" -> "Välimäki"
            for other in others:
                seen = [norm(w) for w in other]
                same_first, same_last = norm(parts[0]) in seen, norm(parts[1]) in seen
                if same_last and not same_first:
                    return "first_name", first_part
                if same_first and not same_last:
                    return "last_name", last_part
        for other in others:
            if len(other) == 1:  # "olen Tarja Hyvönen, ei Hyvärinen": the likelier twin
                a = SequenceMatcher(None, fold(parts[0]), fold(other[0])).ratio()
                b = SequenceMatcher(None, fold(parts[1]), fold(other[0])).ratio()
                if max(a, b) >= 0.5:
                    return ("first_name", first_part) if a > b else ("last_name", last_part)
        if scores["last_name"] > scores["first_name"]:
            return "last_name", last_part
        return "first_name", first_part
    if field in ("first_name", "last_name") and scores[field] >= 1:
        return field, picked
    return ("last_name" if scores["last_name"] > scores["first_name"] else field), picked


def _value_for(field: str, text: str, lo: int, hi: int, folded: str,
               typed: dict[str, list[Entity]]) -> tuple[int, int, str] | None:
    if field in _TYPED:
        cands = [(e.start, e.end, e.text) for e in typed[field]]
        if not cands and field == "postal_address":
            cands = [(m.start(), m.end(), m.group()) for m in
                     re.finditer(r"\b\d{5}\s+[A-ZÅÄÖ][\wåäö-]+", text[lo:hi])]
            cands = [(s + lo, e + lo, v) for s, e, v in cands]
        return _pick(cands, folded)
    if field in ("first_name", "last_name"):
        return _pick(_name_candidates(text, lo, hi), folded)
    if field == "organisation":
        cands = []
        for m in _ORG.finditer(text, lo, hi):
            name, start = m.group(1), m.start(1)
            lead = _ORG_LEAD.match(name)
            if lead:  # "It's Nordic Solutions Oy", "I WORK FOR KONEPAJA OY"
                name, start = name[lead.end():], start + lead.end()
            if name.split() and len(name.split()) > 1:
                cands.append((start, start + len(name.rstrip()), name.strip()))
        return _pick(cands, folded)
    cands = []
    for m in _POSITION.finditer(text, lo, hi):
        value = _POSITION_LEAD.sub("", _POSITION_STOP.sub("", m.group(1))).strip(" ,.;:")
        value = re.sub(r"(?<=\w\w\w)(na|nä)$", "", value) if " " not in value else value
        first = fold(value.split()[0]) if value else ""
        if value and first not in _NOT_A_POSITION:
            cands.append((m.start(1), m.start(1) + len(value), value))
    return _pick(cands, folded)


def _grounds(text: str, lo: int, hi: int) -> tuple[int, int, str] | None:
    for m in _SENTENCE.finditer(text, lo, hi):
        sentence = m.group().strip()
        if len(sentence) > 8 and _REASON.search(fold(sentence)):
            start = m.start() + m.group().find(sentence)
            return start, start + len(sentence), sentence
    return None


def rectification_entities(text: str, own: str, found: Sequence[Entity]) -> list[Entity]:
    """A `rectification` entity (field, value) and a `grounds` entity, when they can be found."""
    lo, hi = _request_part(text, own)
    folded = fold_aligned(text)
    typed = {name: [e for e in found if e.label == label and lo <= e.start < hi]
             for name, label in _TYPED.items()}
    scores = _field_scores(folded[lo:hi], typed)
    out: list[Entity] = []
    for field in sorted(FIELDS, key=lambda f: -scores[f]):
        if scores[field] <= 0:
            break
        picked = _value_for(field, text, lo, hi, folded, typed)
        if picked is not None:
            if field in ("first_name", "last_name"):
                field, picked = _split_name(field, picked, text, lo, hi, scores)
            start, end, value = picked
            out.append(Entity("rectification", text[start:end], start, end,
                              field=field, value=value.strip()))
            break
    grounds = _grounds(text, lo, hi)
    if grounds is not None:
        out.append(Entity("grounds", grounds[2], grounds[0], grounds[1]))
    return out
