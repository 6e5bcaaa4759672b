"""Reminders of an earlier request: the date it was sent and the right it asked for.

After the request itself, the reminder is the most common letter people send ("muistutus",
"påminnelse", "my request of 3 October under Article 15 has not been answered"). The deadline
runs from the earlier request, so staff need its claimed date, and the case must be opened for
the right the earlier request named, which is often only in the quoted older mail below or in
an article number. Bare reminders read like ordinary mail to the statistical model ("I have
had no answer"), which is why they were missed; these rules find them.

- A **reminder** (:func:`is_reminder`) says so, or says the earlier request went unanswered or
  its deadline passed. Its named right is claimed as a label (:mod:`nlp_models.classifier`).
- An **earlier request** (:func:`earlier_request`) is a reminder or a mail that points at a
  request sent before ("my request of", "pyysin ... päivänä", "jag begärde den ..."), with the
  date it claims (:mod:`nlp_models.dates`) and the right(s) it names, by article, legal name or
  request noun, in the sender's own words first, then in the quoted older mail.

Patterns run on `fold_aligned` text (lower case, no diacritics, same offsets), so spans point
back into the text as written.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from nlp_models.anyof import AnyOf
from nlp_models.articles import article_mentions
from nlp_models.dates import DateMention, find_dates
from nlp_models.preprocess import fold_aligned
from nlp_models.request_nouns import REQUEST_NOUNS
from nlp_models.rules import legal_name_spans

_REMINDER = AnyOf(
    # not "muistutan, että...", "I would remind you that Article 12...": a template's lecture
    r"\bmuistutu|\bmuistut(?:an|amme|taa|taisin|ettava)\b(?![\w ,]{0,8}\betta\b)"
    r"|\bmuistuttaen\b|\bmuistuttelen\b|\buusintapyyn"
    r"|\b(?:toinen|kolmas|neljas) kerta\b"
    r"|\blahetan (?:\w+ )?(?:viestini|pyyntoni|sen|taman) (?:\w+ )?uudelleen\b"
    r"|\bpaminnelse|\bpaminn(?:er|a)\b(?! om att)|\breminder\b"
    r"|\bremind(?:ing)? you\b(?! that)"
    r"|\bfollow(?:ing)?[- ]up (?:on )?my (?:\w+ )?(?:request|e-?mail|letter|mail|message)"
    r"|\bsecond (?:request|time)\b|\bupprepar\b|\b(?:second|third|fourth|last) time\b"
    r"|\b(?:asked|written|wrote|told|requested) (?:you )?(?:this )?(?:already|again|twice|before"
    r"|two times|three times|several times)|\balready (?:asked|written|wrote|told|requested)"
    r"|\b(?:have|'ve) (?:already )?(?:asked|written|requested) (?:you )?(?:\w+ )?(?:twice|two times"
    r"|three times|before)|\bany update\b|\bbump(?:ing)?\b|\bchecking (?:in )?on this\b"
    r"|\b(?:writing|asking|contacting) (?:you )?again\b|\bre-?sending\b|\bfollow(?:ing)? up on\b"
    r"|\bto remind you\b(?! that)|\bno one has\b|\bnobody has\b"
    r"|\bette ole (?:\w+ )?(?:vastanneet|reagoineet)|\beiko kukaan lue\b"
    r"|\b(?:kahdesti|kolmesti|toista kertaa|kolmannen kerran)\b"
    r"|\b(?:kaksi|kolme|monta) kertaa (?:kysyny|kysynyt|pyytany|pyytanyt|kirjoittanu)"
    r"|\byritan uudestaan\b|\bkirjoitan uudestaan\b"
    r"|\bodotan (?:yha |edelleen |viela )vastaus|\bmilloin saan vastaukse|\bei vastausta\b"
    r"|\bedelleen(?:kaan)? ei (?:mitaan|vastaus)|\bei o(?:le|o) (?:\w+ ){0,2}(?:vastattu|kuulunu"
    r"|tullu\w* (?:vastaus|vahvistus|kuittaus))|\bmitaan ei o(?:le|o) (?:kuulunu|tapahtunu)"
    r"|\b(?:skriver|hor av mig|fragar|ber) (?:er )?(?:\w+ )?igen\b"
    r"|\b(?:andra|tredje|fjarde) gangen (?:jag|som jag)\b"
    r"|\b(?:skrivit|bett|fragat|begart|mejlat|ringt) (?:er )?(?:\w+ )?(?:tva|tre) ganger"
    r"|\b(?:fick|fatt) aldrig (?:nagot )?svar|\bingen svar\b|\bfortfarande inget svar"
    r"|\bhar inte fatt (?:nat|nagot|nagonting)\s*(?:[.!?]|$)|\bhar ni hunnit\b"
    # no answer
    r"|\b(?:not|never|yet to|haven'?t|hasn'?t|didn'?t)\s+(?:yet\s+)?(?:received|had|get|got(?:ten)?"
    r"|heard)\s+(?:\w+\s+){0,2}(?:reply|response|answer|acknowledg\w*|word"
    r"|anything|back from|from you)\b|\b(?:not|never|haven'?t|hasn'?t|didn'?t)\s+(?:yet\s+)?"
    r"(?:replied|responded|answered|acknowledged)\b|\bno (?:reply|response|answer)\b"
    r"|\bstill (?:waiting|no (?:reply|response|answer|word)|not (?:answered|replied|heard))"
    r"|\bheard nothing\b|\bunanswered\b|\bignored\b"
    r"|\ben ole\s+(?:\w+\s+){0,2}kuullut\b"
    r"|\ben ole\s+(?:\w+\s+){0,3}saanut\s+(?:\w+\s+){0,2}(?:vastau|vastaus|kuittau|tieto"
    r"|mitaan\b)|\bei ole\s+(?:\w+\s+){0,2}(?:vastattu|vastannut|kuulunut)|\bvastausta ei\b"
    r"|\bei ole\s+(?:\w+\s+){0,2}tullut\s+(?:\w+\s+)?(?:vastau|vastaus|kuittau)"
    r"|\bvaille vastaus|\bilman vastaust|\bvastaamatta\b"
    r"|\bodotan (?:yha|edelleen|viela)\b|\bei mitaan vastaust|\bei kuulu\b|\bei o(?:le|o)"
    r" (?:\w+ ){0,2}tullu\w* (?:\w+ )?(?:vastau|vahvistu|kuittau)"
    r"|\b(?:har|hade)\s+(?:\w+\s+){0,2}inte\s+(?:\w+\s+){0,2}(?:fatt|hort)\s+(?:\w+\s+)?"
    r"(?:svar|besked|bekraftelse|av er)|\binte hort (?:nagot|nanting|av er)\b|\binget svar\b"
    r"|\bobesvarad|\bvantar (?:fortfarande|annu|alltjamt)|\butan svar\b|\binte besvarat"
    # the deadline passed
    r"|\b(?:one|1|a) month\b.{0,40}\b(?:passed|expired|elapsed|gone by|over)\b"
    r"|\bdeadline\b.{0,30}\b(?:passed|expired|missed)|\bmaaraa[ij]\w*\s+(?:\w+\s+)?(?:on\s+)?"
    r"(?:umpeutu|kulu|ylit|men)|\bkuukausi\b.{0,30}\b(?:kulunut|umpeutunut)"
    r"|\btidsfrist\w*\b.{0,30}(?:gatt ut|passera|overskrid)|\ben manad\b.{0,30}\b(?:gatt|passerat)"
    # still waiting; the request below; the nth time; forgotten
    r"|\bodottanut (?:\w+ ){0,2}vastau|\b(?:har|jag) vantat (?:\w+ )?(?:pa svar|sedan|i veckor)"
    r"|\b(?:been|have) waiting (?:\w+ ){0,2}(?:since|for (?:weeks|months|a month|an answer))"
    r"|\balla olev\w* (?:\w+ )?(?:viesti|pyyn|sahkop)|\b(?:mitt|min) (?:mejl|meddelande|begaran"
    r"|brev) nedan\b|\bhanvisar till (?:mitt|min) (?:\w+ )?(?:mejl|begaran|brev|meddelande)"
    r"|\b(?:see|refer to|regarding) my (?:\w+ )?(?:e-?mail|message|request|letter) below\b"
    r"|\bfor (?:andra|tredje|fjarde) gangen\b|\bpaminna om att (?:vi|jag) (?:fortfarande|annu)"
    r"|\bhar ni glomt\b|\bhave you forgotten\b|\boletteko unohtaneet\b|\bunohditteko\b"
    r"|\bfortfarande ingen\b|\bstill no \w+\s*(?:[.!?]|$)"
    r"|\b(?:2nd|3rd|second|third|final) (?:request|reminder|notice|time)\b"
    r"|\b(?:ni|du) (?:har )?inte (?:har )?svarat\b"
    r"|\b(?:skickar|vidarebefordrar) (?:\w+ ){0,2}igen\b"
    r"|\bredan (?:en gang |tva ganger )?(?:bett|skrivit|begart|fragat)\b"
    r"|\b(?:for (?:den )?sista gangen|for the last time|viimeisen kerran)\b"
    r"|\bskickar (?:\w+ ){0,3}pa nytt\b|\bingen (?:har )?svarat\b"
)
_ARRIVED = AnyOf(
    r"\bdid (?:it|that|my \w+) (?:arrive|reach|get through)|\bdid you (?:get|receive|see)\b"
    r"|\bhas it arrived|\bhave you (?:received|got(?:ten)?)\b|\bconfirm (?:that )?(?:you |it )"
    r"(?:received|got|arrived|is being)|\bis (?:it|my request) being handled"
    r"|\b(?:tuli|meni)(?:ko)? (?:se |viestini |pyyntoni )?perille|\bsaitteko\b"
    r"|\btuli(?:ko)? (?:teille )?(?:mun|minun) viesti|\bonko (?:pyynto|viesti)\w* (?:\w+ )?"
    r"(?:valitetty|kasitelty|hukkunut)|\bkom fram\b"
    # still getting what was asked to stop: a reminder too, after "I asked / pyysin / jag bad"
    r"|\bstill (?:getting|receiving|get|receive|there|shows?|exists?|active|on)\b"
    r"|\bit(?:'s| has) (?:now )?been (?:over |more than )?(?:\w+ )?(?:weeks|months|a month)"
    r"|\bon (?:nyt |jo )?kulunut (?:\w+ ){0,2}(?:paivaa|viikkoa|kuukau)"
    r"|\bkuukausi on (?:jo )?mennyt"
    r"|\bhar (?:nu )?gatt (?:over )?(?:\w+ ){0,2}(?:veckor|manad|manader)\b"
    r"|\b(?:tulee|tuli) (?:yha|edelleen|taas)|\b(?:yha|edelleen) (?:tulee|sivustolla|siella)"
    r"|\b(?:kommer|star|finns) (?:\w+ )?fortfarande|\bfortfarande (?:med|kvar)\b"
    r"|\bonko (?:se|pyyntoni) (?:kasitelty|mennyt|tullut|vastaanotettu)|\bolet(?:te)?ko saaneet\b"
    r"|\b(?:on|olisi) (?:mennyt|tullut) perille|\bonko (?:\w+ )?(?:pyynto|se) kasittelyssa\b"
    r"|\bhar ni fatt\b|\b(?:har|kom) (?:det|den|brevet|mejlet) (?:kommit )?fram|\bfick ni\b"
    r"|\bhar ni tagit emot\b|\bhar ni (?:sett|last)\b"
    # "any news?", "onko tämä hoidossa?", "några nyheter?": a reminder above the request it quotes
    r"|\bany (?:news|progress|word)\b|\bnothing (?:has )?happened\b|\bping\b"
    r"|\bhave you done anything\b|\bvielako (?:tata|tama|asiaa|tahan)\b"
    r"|\bonko (?:tahan|tama|taa|tata|se|asia|nimi|osoite|tieto\w*) (?:\w+ ){0,2}(?:tulossa|hoidossa"
    r"|kasitelty|kasittelyssa|edennyt|mennyt perille|tullut perille|vaihdettu|korjattu|poistettu"
    r"|paivitetty|muutettu|lopetettu)\b"
    r"|\bon (?:nyt |jo )?(?:mennyt|kulunut) (?:\w+ ){0,2}(?:paivaa|viikkoa|kuukau)"
    r"|\b(?:kaksi|kolme|nelja|viisi|kuusi|\d+) (?:viikkoa|kuukautta) (?:sitten|kun)\b"
    r"|\ben ole (?:viela |vielakaan |edelleenkaan )?saanut\b"
    r"|\bnagra nyheter\b|\bhar ni gjort (?:nagot|nanting)\b|\bhar ni tagit stallning\b"
    r"|\b(?:nu )?har det (?:nu )?gatt (?:over )?(?:\w+ ){0,2}(?:veckor|manad|manader|dagar)\b"
    r"|\b\w+ (?:veckor|manader|dagar) har gatt\b|\bhar inte bekraftat\b"
    r"|\bvantar (?:\w+ )?pa (?:ert |ett )?svar\b"
    # when it was asked, in words: "kuukausi sitten", "last month", "för två veckor sen"
    r"|\b(?:viikko|kuukausi|pari viikkoa|pari kuukautta|muutama viikko|\w+ (?:viikkoa|kuukautta"
    r"|paivaa)) sitten\b|\bviime (?:viikolla|kuussa)\b|\b\w+kuu(?:ssa|n alussa|n lopussa)\b"
    r"|\b\w+kuusta (?:asti|lahtien)\b"
    r"|\b(?:a|one|two|three|four|five|six|\d+|few|couple of) (?:weeks?|months?|days) ago\b"
    r"|\blast (?:week|month)\b|\b(?:in|early|late|mid|beginning of|end of) (?:january|february"
    r"|march|april|may|june|july|august|september|october|november|december)\b"
    r"|\bfor (?:en|ett par|tva|tre|fyra|fem|sex|\d+|typ \w+) (?:dagar|vecka|veckor|manad"
    r"|manader) (?:sedan|sen)\b|\bfor (?:flera|nagra) (?:dagar|veckor|manader) (?:sedan|sen)\b"
    r"|\bforra (?:veckan|manaden)\b|\bi (?:borjan av |slutet av )?"
    r"(?:januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november"
    r"|december|somras|varas|hostas)\b"
    # still so, still there, came again
    r"|\b(?:far|fick) (?:jag )?(?:fortfarande|anda|igen|ett nytt|en ny|ytterligare)\b"
    r"|\b(?:ar|star) (?:det |den |jag )?fortfarande\b|\bfortfarande (?:inte|dar)\b"
    r"|\bedelleen (?:siella|listalla|mukana|nakyvissa|kirjautua)\b|\b(?:on|ovat) (?:\w+ )?"
    r"(?:siella|listalla|mukana) edelleen\b|\bvoin edelleen\b|\b(?:tuli|tulee) (?:\w+ )?taas\b"
    r"|\bi (?:still|can still) (?:get|receive|see|log)\b"
    r"|\bkom (?:det )?(?:en|ett) (?:till|nytt|ny)\b|\b(?:skickar|ringer) (?:ni )?fortfarande\b"
    r"|\bwhere(?:'s| is) (?:my|the) (?:\w+ )?(?:data|copy|export|csv|file|answer|reply|response)\b"
    r"|\bonko (?:mun|minun|tilini|nimeni|tietoni|viestini|pyyntoni) (?:\w+ ){0,2}(?:jo )?"
    r"(?:poistettu|korjattu|muutettu|paivitetty|kasitelty|lopetettu|vaihdettu)\b"
    # nothing but "no???" or "hallå?" above the quoted request
    # (one class per stretch, so a long run of marks cannot be split two ways: linear)
    r"|(?:^|\n)[ \t]*(?:(?:no+|hallo+|haloo+|halla|hello+|hei+|moi+|well)[ \t.,!]*)?\?{2,}"
    r"[ \t!.]*(?:\n|$)"
)
""""Did it arrive?": a reminder when it asks after a request the sender made (`_EARLIER`)."""
_DUNNING = re.compile(
    r"(?:lasku|maksu|erapaiv|perinta|faktura|betalning|inkasso|invoice|payment|bill\b|overdue)"
    r"\w*\W+(?:\w+\W+){0,3}\w*(?:muistut|paminn|remind)|(?:muistut|paminn|remind)\w*\W+"
    r"(?:\w+\W+){0,3}(?:lasku|maksu|erapaiv|faktura|betalning|inkasso|invoice|payment|bill\b"
    r"|fee\b|avgift|kulu|meeting|appointment|tapaami|palaveri|kokous|mote\b|motet|webinar"
    r"|event|tarjous|offer|kampanj|campaign)|\b\w*(?:muistut|paminn)\w*(?:kulu|maksu|avgift)"
    r"|(?:remind\w*|paminnelse\w*) (?:e-?mail|mejl|sms) (?:in|i)\b"
)
"""A payment reminder ("maksumuistutus", "påminnelse om en faktura") is another kind."""
_EARLIER = AnyOf(
    r"\bmy (?:earlier |previous |original |first )?(?:request|e-?mail|letter|message|mail|"
    r"application)s? (?:of|dated|from|sent|on)\b"
    r"|\bi (?:sent|submitted|made|emailed|mailed|wrote|asked|requested)\b"
    r"|\bi (?:told|called|phoned|rang|had sent|have (?:asked|written|sent))\b"
    r"|\bpyysin\b|\blahettama\w*\b|\blahetin\b|\bkirjoi?tin\b|\bskrev (?:for|den|i)\b"
    r"|\blaitoin\b|\btein\b|\bsoitin\b"
    r"|\bsanoin\b|\bkavin\b|\bkyselin\b|\bkysyin\b|\bilmoitin\b|\besitin\b|\bolen pyytanyt\b"
    r"|\b(?:skickade|skrev|bad|begarde|mejlade|ringde|invande|meddelade) jag\b"
    r"|\bjag (?:ringde|meddelade|invande|har skrivit|har bett)\b"
    r"|\baiemm\w* (?:pyyn|viest|sahkop)"
    r"|\baikaisemm\w* (?:pyyn|viest|sahkop)|\bpaivatty\w*\b"
    r"|\bjag (?:begarde|skickade|bad|skrev|mejlade|lamnade)\b|\bmin (?:tidigare |forra )?begaran\b"
    r"|\btidigare begaran\b|\bmitt tidigare (?:mejl|meddelande|brev)\b|\bdaterad\b"
    r"|\bursprungliga (?:begaran|mejl|meddelande)"
    r"|\bmy original (?:e-?mail|mail|message|request|note|letter)"
    r"|\bwe (?:sent|wrote|asked|requested|emailed)\b|\byou (?:said|promised|replied|confirmed)\b"
    r"|\b(?:he|she|the customer) (?:asked|requested|called|wrote)\b"
    r"|\bkirjoitimme\b|\bpyysimme\b|\blahetimme\b|\bolen (?:jo )?(?:kirjoittanut|lahettanyt)\b"
    r"|\b(?:sanoitte|lupasitte|vastasitte|ilmoititte)\b|\b(?:asiakas )?pyysi (?:meita|teita)\b"
    r"|\bvi (?:skrev|bad|begarde|skickade|mejlade)\b|\bvi har (?:skrivit|bett)\b"
    r"|\bbad (?:er|oss|ju)\b|\bskrev (?:ju|till er)\b|\bni (?:sa|lovade|svarade)\b"
    r"|\b(?:han|hon|kunden) (?:bad|ringde|begarde|skrev)\b"
    r"|(?:^|\n|\. )sent (?:a |my |an )?(?:\w+ )?(?:request|e-?mail|mail|message|letter|stop)\b"
    r"|(?:^|\n|\. )sent \d|\bsent (?:stop|stopp|unsubscribe)\b"
    r"|\b(?:svarade|replied|answered|vastasin) (?:\w+ )?(?:stop|stopp)\b"
)
_SENT_CUE = re.compile(
    r"\b(?:request\w*|sent|submitted|e-?mailed|wrote|written|asked|told|called|phoned|letter"
    r"|e-?mail|mail|message|dated|objected)\b"
    r"|\bpyyn|\bpyysin|\blahet|\bkirjoit|\bpaivat|\bviest|\bsoitin|\bsanoin|\bkavin|\blaitoin"
    r"|\bbegar|\bskick|\bdater|\bbrev|\bmejl|\bskrev|\bbad\b|\binvande|\bringde|\bmeddela"
)
_DEADLINE_BEFORE = re.compile(
    r"(?:deadline|by|until|before|within|expired|mennessa|maaraika|viimeistaan|senast|innan|"
    r"tidsfrist|fram till|asti)\W{0,3}(?:\w+\W+){0,2}$"
)
_QUOTED_DATE_LINE = re.compile(
    r"^[ \t]*(?:>[ \t]*)*(?:sent|date|lahetetty|paivamaara|skickat|datum)[ \t]*(?::|(?=\d))"
    # "On 3 Oct, X wrote:", "X kirjoitti 3.10.2026 klo 10.14:", "Den 2 okt. 2026 skrev X <x@y>:"
    r"|\b(?:wrote|kirjoitti|skrev)\b[^\n]{0,120}:\s*$", re.M,
)


@dataclass(frozen=True)
class EarlierRequest:
    """A request the sender says they made before. Any part may be missing."""

    date: str | None
    """The claimed date, ISO (YYYY-MM-DD), when the mail gives a day and a month; a missing year
    is the latest one not after the day the mail was read."""
    date_text: str | None
    """The date as written ("3.10.2026", "den 5 oktober", "October"); None when none is named
    ("last month")."""
    rights: tuple[str, ...]
    """The labels of the right(s) the earlier request asked for."""
    right_text: str | None
    """The words that named the right, as written ("Art. 15", "tarkastuspyyntö"); None when the
    right comes from the classification of the mail (nothing named it outright)."""

    @property
    def right(self) -> str | None:
        return self.rights[0] if self.rights else None


_INT = re.compile(r"\bint\b")


def _earlier(folded: str) -> bool:
    return _EARLIER.search(folded)


@functools.lru_cache(maxsize=4)
def _signals(folded: str) -> tuple[bool, bool, bool]:
    """Whether the text (payment reminders left out) says it reminds; else whether it asks
    whether something arrived, and whether it names a request made before. (Remembered for the
    last few texts: the classifier asks of the same words twice, for the rights a reminder names
    and, quoting or not, for the earlier request, and these are the costliest searches.)"""
    if "muistut" in folded or "paminn" in folded or "remind" in folded:
        folded = _DUNNING.sub(" ", folded)
    if "int " in folded:
        folded = _INT.sub("inte", folded)  # Finland-Swedish "har int fått svar"
    if _REMINDER.search(folded):
        return True, False, False
    arrived = _ARRIVED.search(folded)
    return False, arrived, arrived and _earlier(folded)


def _reminds(folded: str, quoting: bool = False) -> bool:
    """"Did it arrive?", "any news?", "it has been five weeks" remind only of something: a request
    the sender says they made (`_EARLIER`), or the older mail they quote below (`quoting`)."""
    said, arrived, earlier = _signals(folded)
    return said or (arrived and (quoting or earlier))


def is_reminder(subject: str, text: str, quoting: bool = False) -> bool:
    """Whether the sender's subject or own words remind us of an earlier request that went
    unanswered (or ask whether it arrived); `quoting`: the mail quotes or forwards older mail
    below the sender's words."""
    return _reminds(fold_aligned(f"{subject}\n{text}"), quoting)


def named_rights(text: str) -> tuple[tuple[str, ...], str | None]:
    """The rights `text` names by article, legal name or request noun (in that order of trust),
    and the words that named the first one, as written."""
    folded = fold_aligned(text)
    found: list[tuple[str, int, int]] = article_mentions(folded) or legal_name_spans(folded)
    if not found:
        found = sorted(
            ((label, m.start(), m.end()) for label, pattern in REQUEST_NOUNS
             for m in [pattern.search(folded)] if m),
            key=lambda x: x[1])
    if not found:
        return (), None
    rights = tuple(dict.fromkeys(label for label, _, _ in found))
    _, start, end = found[0]
    while end < len(text) and text[end].isalnum():
        end += 1  # the whole word: "kopio tiedoista", not "kopio tiedoist"
    return rights, text[start:end]


def _claimed_date(own: str, headers: str, today: date) -> DateMention | None:
    """The date in the sender's words that most looks like when the request was sent (in a
    sentence about sending or asking, not after "by" or "deadline"; of those the earliest, as
    a reminder also names later reminders and replies); failing that, the date of the quoted or
    forwarded older mail's header ("Sent: 3 October 2026 10:14"). A month alone ("in June")
    names no date."""
    folded = fold_aligned(own)
    best: tuple[int, str, DateMention] | None = None
    for d in find_dates(own, today):
        if d.iso is None or d.iso > today.isoformat():
            continue  # a month alone, or a deadline to come, not a request sent
        line_start = max(folded.rfind(c, 0, d.start) for c in ".!?\n") + 1
        line_end = min((i for i in (folded.find(c, d.end) for c in ".!?\n") if i >= 0),
                       default=len(folded))
        sentence = folded[line_start:line_end]
        score = 2 * bool(_SENT_CUE.search(sentence)) + _earlier(sentence)
        score -= 3 * bool(_DEADLINE_BEFORE.search(folded[max(0, d.start - 30):d.start]))
        if best is None or score > best[0] or (score == best[0] and d.iso < best[1]):
            best = (score, d.iso, d)
    if best is not None and best[0] >= 0:
        return best[2]
    for line in headers.split("\n"):
        if _QUOTED_DATE_LINE.search(fold_aligned(line)):
            dates = [d for d in find_dates(line, today) if d.iso]
            if dates:
                return dates[0]
    return None


def earlier_request(
    subject: str, own: str, older: str, today: date,
    fallback_rights: tuple[str, ...] = (), headers: str = "",
) -> EarlierRequest | None:
    """The earlier request `own` (the sender's new words) refers to, or None when it refers to
    none. `older` is the quoted older mail, where the earlier request itself often is;
    `headers` the whole body, whose quoted or forwarded header lines date it when the sender's
    words do not; `fallback_rights` (the mail's own labels) name the right when no words do."""
    folded = fold_aligned(own)
    reminds = _reminds(fold_aligned(f"{subject}\n{own}"), bool(older.strip()))
    if not (reminds or _earlier(folded)):
        return None
    rights, right_text = named_rights(f"{subject}\n{own}")
    if not rights and older:
        rights, right_text = named_rights(older)
    if not rights:
        rights, right_text = fallback_rights, None
    if not rights:
        return None  # a reminder about a delivery or an invoice, not about a right
    claimed = _claimed_date(own, headers or older, today)
    if claimed is None and not reminds:
        return None  # "I asked..." with no date and no reminder: a request of today
    return EarlierRequest(
        date=claimed.iso if claimed else None,
        date_text=claimed.text if claimed else None,
        rights=rights,
        right_text=right_text,
    )
