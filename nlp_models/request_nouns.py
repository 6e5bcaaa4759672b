"""Everyday names of a request, as a reminder names the one it chases ("poistopyyntö",
"a copy of my data", "referenslista", "sluta skicka reklam"), per label.

Kept apart from :mod:`nlp_models.reminders`, which reads them: a table of wordings that grows
with every writer round, beside the logic that decides what is a reminder.
"""

from __future__ import annotations

import re

REQUEST_NOUNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern)) for label, pattern in (
        ("access", r"\b(?:access|sar|information|data) request\b|\brequest for (?:access|a copy"
                   r"|my data|information)|\bcopy of (?:my|all my|the|what)|\bcopy thereof"
                   r"|\bwhat (?:personal )?(?:data|information) you (?:have|hold|keep)|\bmy data\?"
                   r"|\bwhat you (?:have|hold|keep) (?:on|about) me|\btietopyyn|\bkopio(?:ta|n)?\b"
                   r"|\bnahda (?:mita |kaikki )?tieto|\bsaada tietoni|\bmita tietoja\b"
                   r"|\bmun tiedot\?"
                   r"|\bkopia av|\binsyn|\bvilka (?:person)?uppgifter|\butskrift av|\bfa ut mina"
                   r"|\bfa se (?:vilka|mina)|\bmina uppgifter\?|\bsaada (?:kaikki )?tieto"
                   r"|\bkenelle (?:olette )?(?:\w+ )?luovutta|\bmihin tarkoituksiin"
                   r"|\bcopy of (?:it|them)|\bsend me (?:a )?copy"
                   r"|\blist(?:an|a)? (?:pa|over|of) (?:all )?(?:my|mina) (?:personal )?(?:data"
                   r"|uppgifter|personuppgifter|information)\b"
                   r"|\blista\w* (?:kaikista )?(?:(?:mun|minun) )?tiedoista\b"),
        ("erasure", r"\b(?:deletion|erasure|removal) request\b|\brequest (?:for|to) (?:the )?"
                    r"(?:delet|eras|remov)|\b(?:delete|erase) (?:me|my|the|her|his|all)"
                    r"|\b(?:account|data|details|information)\w* (?:be |to be )?(?:closed|deleted"
                    r"|removed|erased|anonymi)|\bclose (?:my|the|her|his) (?:\w+ )?account"
                    r"|\bpoistopyyn|\bpoistamis\w* (?:pyyn|koske)|\bpoista\w* (?:mut|minut|tietoni"
                    r"|kaikki|henkilotie|mun tied|nimeni|tili)|\b(?:henkilo)?tietojeni poist"
                    r"|\btietojen poist"
                    r"|\btilini suljetaan|\banonymisoi|\bradering|\bradera|\btar bort mina"
                    r"|\buppgifter raderade|\bavsluta mitt konto"),
        ("rectification", r"\bcorrection request\b|\b(?:correct(?:ing)?|rectify(?:ing)?"
                          r"|updat(?:e|ing)|chang(?:e|ing)) (?:my|the)"
                          r"|\brectif|\bwrong (?:phone|address|name|e-?mail|title)|\bkorjauspyyn"
                          r"|\btietoni korjat|\bkorjaamaan|\bkorjata|\boikaise|\bpaivittamaan"
                          r"|\bvaihtamaan|\brattelse|\bratta (?:mitt|min|det)"
                          r"|\bandra (?:mitt|min)|\b(?:new|ny|nya|uusi|uuden|vanhan) (?:address"
                          r"|adress|osoit)"),
        ("restriction", r"\brestriction request\b|\brestrict\w* (?:the )?processing|\bfreez"
                        r"|\brajoit|\bbegransning|\bbegransa|\bsparra|\bfrysa"
                        r"|\buppgifter\w* (?:\w+ ){0,2}(?:lasas|lases)\b|\blukit"),
        ("objection", r"\bobjection\b|\bobject(?:ed)? to\b|\banalytics\b|\btracking\b"
                      r"|\bprofiling\b|\bpersonali[sz]|\benrich|\bvastustu\w*|\bvastustin\b"
                      r"|\banalytiikka|\bprofiloin|\bkohdentami|\binvandning|\binvande"
                      r"|\bsparning|\bsparar\b|\bprofilering|\banalys\b|\bberikar"),
        ("marketing_optout", r"\bunsubscri|\bopt(?:ed)?[- ]out of (?:marketing|newsletter|e-?mail"
                             r"|sms|offer)|\bmarketing\b|\bnewsletter|\bcatalog|\bleaflet"
                             r"|\bbrochure|\bprinted advert|\bsales call|\bsms offer|\bmailing list"
                             r"|\bstop (?:sending|calling)|\bmarkkinoin|\buutiskirje|\bmyyntipuhelu"
                             r"|\bkuvasto|\bmainos|\btarjou|\bsuoramain|\breklam(?!aati)"
                             r"|\bnyhetsbrev"
                             r"|\butskick|\bkatalog|\bforsaljningssamtal|\berbjudand|\benkat"
                             r"|\bmarknadsundersok|\bsluta ringa|\bsluta skicka"),
        ("publication_ban", r"\breference (?:customer )?list|\breference customer|\btestimonial"
                            r"|\bcase stud|\bdirectory\b|\bcustomer magazine|\breferen[st]\w*"
                            r"|\basiakaslehd|\bjalleenmyyjaluettelo|\bluovutuskiel|\bjulkais"
                            r"|\bkundtidning|\bkundcase|\bmedlemsforteckning|\bforteckning"
                            r"|\baterforsaljar|\bforhandlarlist|\bluovuttak|\bluovuttamas"
                            r"|\basiakastarin"
                            r"|\bdisclosure ban|\bprohibit\w* (?:the )?disclosure"
                            r"|\butlamnandeforbud|\bforbud mot (?:\w+ )?utlamnande"
                            r"|\b(?:salja|hyra ut|lamna ut|lamnar ut) (?:min|mina|var)\b"
                            r"|\b(?:sell|rent|pass on|give)\w* (?:\w+ )?(?:my|our) (?:address"
                            r"|details|name|contact)\w* (?:to|with) (?:other|third)"),
        ("portability", r"\bportability\b|\bmachine[- ]readable|\bcsv\b|\bjson|\bexcel"
                        r"|\bexport\b|\bsiirtopyyn|\bdataportab|\bkoneluettav|\bi fil\b"
                        r"|\bdata (?:in|as) (?:a |an )?(?:\w+ )?file\b"),
    )
)
"""Everyday names of the earlier request ("poistopyyntö", "a copy of my data", "referenslista",
"sluta skicka reklam"): trusted only in a reminder, where they say what was asked before."""
