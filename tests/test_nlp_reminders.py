"""Reminders of an earlier request (`earlier_request`) and senders acting for someone else
(`on_behalf_of`): what the intake needs to open the right case and show staff the claims."""

from __future__ import annotations

from datetime import date

from nlp_models.dates import find_dates
from nlp_models.reminders import earlier_request, is_reminder, named_rights
from nlp_models.representative import representation

DECEMBER = date(2026, 12, 7)


def test_reminder_names_earlier_date_and_right() -> None:
    own = ("Muistutus: lähetin 3.10.2026 tarkastuspyynnön tietosuoja-asetuksen 15 artiklan "
           "nojalla, enkä ole saanut vastausta.")
    found = earlier_request("", own, "", DECEMBER)
    assert found is not None
    assert (found.date, found.date_text, found.right) == ("2026-10-03", "3.10.2026", "access")
    assert found.right_text == "15 artiklan"


def test_missing_year_is_the_most_recent_past_one() -> None:
    own = "Påminnelse: jag begärde den 5 oktober att ni raderar mina uppgifter."
    assert earlier_request("", own, "", DECEMBER).date == "2026-10-05"  # type: ignore[union-attr]
    in_january = earlier_request("", own, "", date(2027, 1, 10))
    assert in_january is not None and in_january.date == "2026-10-05"
    early_october = earlier_request("", own, "", date(2026, 10, 1))
    assert early_october is not None and early_october.date == "2025-10-05"


def test_dates_written_in_words_in_three_languages() -> None:
    cases = {"on the 12th of Sept I asked": "2026-09-12",
             "lokakuun 3. päivänä pyysin": "2026-10-03",
             "den 5:e oktober 2025 skrev jag": "2025-10-05",
             "my request dated 2026-11-02": "2026-11-02",
             "October 3rd, 2026": "2026-10-03"}
    for text, iso in cases.items():
        assert [d.iso for d in find_dates(text, DECEMBER)] == [iso], text


def test_a_relative_date_or_a_month_alone_gives_no_iso_date() -> None:
    assert find_dates("I wrote to you last month", DECEMBER) == []
    (month,) = find_dates("pyysin syyskuussa", DECEMBER)
    assert (month.text, month.iso) == ("syyskuussa", None)


def test_a_deadline_is_not_taken_for_the_date_of_the_request() -> None:
    own = ("Reminder: by 3 November you should have answered my request of 3 October for a "
           "copy of my data.")
    found = earlier_request("", own, "", DECEMBER)
    assert found is not None and found.date_text == "3 October"


def test_reminder_right_is_read_in_the_quoted_earlier_request() -> None:
    own = "Hello, this is a reminder: I have had no reply to the mail below."
    older = ("From: anna@example.com\nSent: 2 October 2026 10:14\nSubject: GDPR\n\n"
             "Under Article 20 please send my order history as a CSV file.")
    found = earlier_request("", own, older, DECEMBER)
    assert found is not None
    assert (found.right, found.right_text) == ("portability", "Article 20")
    assert found.date == "2026-10-02"  # from the quoted header: the own words name no date


def test_a_reminder_about_a_delivery_is_no_earlier_request() -> None:
    own = "Did you get my mail of 3.11. about order 5123456? I have had no answer."
    assert is_reminder("", own)
    assert earlier_request("", own, "", DECEMBER) is None


def test_a_new_request_that_mentions_asking_is_no_earlier_request() -> None:
    assert earlier_request("", "I asked my bank first; now please delete my data.", "",
                           DECEMBER, fallback_rights=("erasure",)) is None


def test_lawyer_on_behalf_of_a_client_names_the_client() -> None:
    found = representation("On behalf of my client, Anna Berg, I request a copy of her data.")
    assert found is not None and found.person == "Anna Berg"


def test_finnish_principal_in_the_genitive_is_named_in_the_nominative() -> None:
    found = representation("Päämieheni Matti Virtasen puolesta vaadin tietojen poistamista.")
    assert found is not None
    assert (found.person, found.text) == ("Matti Virtanen", "Päämieheni Matti Virtasen puolesta")


def test_swedish_power_of_attorney_for_a_mother() -> None:
    found = representation("Jag skriver för min mors, Karin Lindbergs, räkning. Fullmakt bifogas.")
    assert found is not None and found.person == "Karin Lindberg"
    assert representation("Hei, poistakaa äitini tiedot. Valtakirja liitteenä.") is not None


def test_colleague_passing_on_a_customer_call_is_not_on_behalf_of() -> None:
    assert representation("Asiakkaan puolesta: hän soitti ja pyysi tietojen poistoa.") is None
    assert representation("Best regards, on behalf of the Rusttet sales team") is None
    assert representation("Please delete my data.") is None


def test_asking_whether_an_earlier_request_arrived_is_a_reminder() -> None:
    assert is_reminder("Lähetinkö jo?", "Lähetin 3.10. tarkastuspyynnön. Tuliko se perille?")
    assert is_reminder("", "Jag skickade en begäran om registerutdrag den 2 april. "
                           "Har ni fått den?")
    assert not is_reminder("", "Did you get my photos of the broken chair? Order 5123456.")


def test_a_payment_reminder_is_not_a_reminder_of_a_request() -> None:
    assert not is_reminder("Maksumuistutus", "Sain maksumuistutuksen laskusta 90061122.")
    assert not is_reminder("", "Jag har fått en påminnelse om en faktura som inte är min.")
    assert not is_reminder("Reminder fee??", "You charged me a 5 euro reminder fee.")


def test_a_template_reminding_of_the_law_is_no_reminder() -> None:
    assert not is_reminder("", "I would remind you that Article 12(3) requires an answer within "
                               "one month. I request a copy of my data.")
    assert not is_reminder("", "Muistutan, että teidän on vastattava kuukauden kuluessa.")
    assert not is_reminder("", "Jag vill påminna om att ni måste svara inom en månad.")
    assert is_reminder("", "This is a reminder: I asked for a copy of my data on 3 October.")


def test_a_follow_up_above_the_quoted_request_is_a_reminder_with_its_date_and_right() -> None:
    """"Any news?", "onko tämä hoidossa?", "några nyheter?" say which request they chase only
    through the older mail quoted below them: that mail gives the right and its header the
    date. Without a quote, or above a quoted order, the same words are no earlier request."""
    from nlp_models.classifier import classify

    cases = [
        ("Re: my data", "Any news? It has been five weeks.\n\nOn 3 Oct 2026, Leena Koski wrote:\n"
         "> Please send me a copy of all the personal data you hold about me.", "access",
         "2026-10-03"),
        ("VS: osoite", "Onko tämä hoidossa?\n\nLähettäjä: Matti Virtanen\nLähetetty: "
         "8.10.2026\nAihe: osoite\n\nPoistakaa kaikki tietoni rekisteristänne.", "erasure",
         "2026-10-08"),
        ("SV: reklam", "några nyheter?\n\nDen 2 oktober 2026 skrev Eva Lind:\n> Hej, skicka "
         "ingen mer reklam till mig, tack.", "marketing_optout", "2026-10-02"),
    ]
    for subject, body, right, day in cases:
        found = classify(subject, body, received=DECEMBER).earlier_request
        assert found is not None, body
        assert (right in found.rights, found.date) == (True, day), body
    bare = classify("Re: my data", "Any news? It has been five weeks.", received=DECEMBER)
    assert bare.earlier_request is None
    order = classify("Re: order 1234567", "Any news?\n\nOn 3 Oct 2026, Leena Koski wrote:\n"
                     "> Where is my order 1234567? It was due last week.", received=DECEMBER)
    assert order.earlier_request is None


def test_a_request_said_to_be_sent_weeks_ago_is_an_earlier_request_without_a_date() -> None:
    """"Kuukausi sitten pyysin...", "för två veckor sen bad jag...", "I wrote last month...":
    the sender says when in words, not by a day; the case is still the earlier request's, and
    staff see no invented date."""
    cases = [
        ("kuukausi sitten pyysin kopion kaikesta mitä te ootte musta kerännyt. ei mitään.",
         "access"),
        ("hallå? bad ju om att bli borttagen från nyhetsbrevet för 2 veckor sen. får "
         "fortfarande", "marketing_optout"),
        ("I wrote to you last month asking you to delete my account and all my data.",
         "erasure"),
        ("Kirjoitin teille syyskuun alussa ja pyysin että poistatte nimeni teidän "
         "asiakaslehden jutusta. Se on siellä edelleen.", "publication_ban"),
    ]
    for own, right in cases:
        found = earlier_request("", own, "", DECEMBER)
        assert found is not None, own
        assert (right in found.rights, found.date, found.date_text) == (True, None, None), own


def test_an_overdue_deadline_and_a_pointer_to_the_mail_below_are_reminders() -> None:
    """"Määräaika on ylittynyt" folds to "maaraaika" (the old pattern looked for "maaraik");
    "viittaan alla olevaan viestiini" points at the quoted request."""
    assert is_reminder("", "Määräaika on ylittynyt.")
    assert is_reminder("", "Viittaan alla olevaan viestiini.")
    assert is_reminder("", "Jag skriver för tredje gången.")
    assert not is_reminder("", "Määräaika laskuille on 14 päivää.")


def test_a_bare_question_mark_above_the_quoted_request_is_a_reminder() -> None:
    from nlp_models.classifier import classify

    body = ("no???\n\n> Moi, haluun kaikki mun tiedot ulos CSV-tiedostona että voin siirtää ne "
            "toiseen palveluun. -Aleksi")
    found = classify("Re: Re: tiedot", body, received=DECEMBER).earlier_request
    assert found is not None and "portability" in found.rights


def test_a_quoted_sent_line_without_a_colon_dates_the_earlier_request() -> None:
    from nlp_models.classifier import classify

    body = ("Hei,\nen ole vieläkään saanut vahvistusta.\n>> Lähetetty 7.1.2026\n>> Poistakaa "
            "puhelinnumeroni ja sähköpostini markkinointilistoilta.\n>> Jaana Suominen")
    found = classify("muistutus pyynnöstä", body, received=DECEMBER).earlier_request
    assert found is not None and found.date == "2026-01-07"


def test_a_us_date_that_can_only_be_month_first_is_read_month_first() -> None:
    """Numbers are read day first, but "01/15/2025" has no 15th month: only one reading."""
    assert [d.iso for d in find_dates("on 01/15/2025", DECEMBER)] == ["2025-01-15"]
    assert [d.iso for d in find_dates("on 3/10/2025", DECEMBER)] == ["2025-10-03"]


def test_reminders_in_finland_swedish_and_terse_english_are_found() -> None:
    """ "har int fått svar" is "har inte fått svar" in Ostrobothnia; "Sent 3/10/25 asking...",
    "2nd request", "jag svarade STOPP ... förra månaden" are reminders as much as "muistutus"."""
    cases = [
        ("hej igen, har int fått svar på att ni skall sluta skicka katalogen, skrev för en "
         "månad sen. fortfarande kommer den", "marketing_optout", None),
        ("Sent 3/10/25 asking for my account to be deleted. Got an automated reply and then "
         "nothing. Can you confirm it's done?", "erasure", "2025-10-03"),
        ("2nd request. Sent a deletion request on 2025-04-11 from this address. Account still "
         "exists.", "erasure", "2025-04-11"),
        ("Hej. Jag svarade STOPP på ert sms förra månaden men ni skickar fortfarande reklam.",
         "marketing_optout", None),
        ("hei kirjotin teille viis viikkoa sitten et poistakaa mun tiedot eikä mitään kuulunu",
         "erasure", None),
    ]
    for own, right, day in cases:
        found = earlier_request("", own, "", DECEMBER)
        assert found is not None, own
        assert (right in found.rights, found.date) == (True, day), own


def test_a_ticket_or_case_number_is_an_earlier_request() -> None:
    """ "Case #88213", "tiketti 55102", "ärendenummer 6610": the company numbered a request the
    sender made before; with a date it is the earlier request's date."""
    cases = [
        ("Case #88213, opened 14 August 2026: my erasure request. Please act on it.",
         "erasure", "2026-08-14"),
        ("Tiketti #55102 (avattu 2.9.2026): poistopyyntöni on käsittelemättä.",
         "erasure", "2026-09-02"),
        ("Ärendenummer 6610 från 3.9.2026 gäller radering av mitt konto.",
         "erasure", "2026-09-03"),
    ]
    for own, right, day in cases:
        found = earlier_request("", own, "", DECEMBER)
        assert found is not None, own
        assert (found.right, found.date) == (right, day), own


def test_a_ticket_still_open_is_a_reminder() -> None:
    for own in ["My ticket 4521 about closing my account is still open.",
                "Tiketti 9034 tietojeni poistosta on ollut auki jo kuukauden.",
                "Ärende 7781 om radering av mitt konto är fortfarande öppet."]:
        assert is_reminder("", own), own


def test_colloquial_finnish_no_answer_and_nothing_heard_is_a_reminder() -> None:
    for own in ["Ette oo vieläkään vastannu mun poistopyyntöön.",
                "Tein tarkastuspyynnön eikä mitään oo kuulunu.",
                "Pyysin jo, että lopetatte soittelun."]:
        assert is_reminder("", own), own


def test_i_already_asked_in_finland_swedish_is_a_reminder() -> None:
    """ "ja" is "jag" in Ostrobothnia; "redan tre gånger sagt", "säger he en gång till"."""
    for own in ["Ja bad redan i höstas att ni raderar mitt konto.",
                "Ja har redan tre gånger sagt att ni ska ta bort mitt nummer.",
                "Nu ringde ni igen fast ja sa till er att sluta ringa.",
                "Ja säger he en gång till: inga fler kataloger.",
                "Ja har väntat länge på kopian av mina uppgifter."]:
        assert is_reminder("", own), own


def test_said_on_the_phone_dates_the_earlier_request() -> None:
    """ "senast i telefon 3.11.2026" is when it was said, not a deadline ("senast" = latest)."""
    own = "Vi har flyttat, det har ja redan två gånger sagt, senast i telefon 3.11.2026."
    found = earlier_request("", own, "", DECEMBER, fallback_rights=("rectification",))
    assert found is not None and found.date == "2026-11-03"


def test_a_date_after_by_letter_is_when_it_was_sent_not_a_deadline() -> None:
    own = ("By letter dated 2 October 2026 my client requested erasure of her data under "
           "Article 17. No reply has come.")
    found = earlier_request("", own, "", DECEMBER)
    assert found is not None and (found.date, found.right) == ("2026-10-02", "erasure")


def test_an_auto_acknowledgement_dates_the_request_it_acknowledges() -> None:
    older = "> Hello,\n> we have received your message on 4.10.2026 and will reply soon.\n"
    found = earlier_request("", "Any news on this? Still waiting.", older, DECEMBER,
                            fallback_rights=("access",), headers=f"Any news?\n\n{older}")
    assert found is not None and found.date == "2026-10-04"


def test_still_coming_after_it_was_asked_is_a_reminder_in_three_languages() -> None:
    for own in ["Viime torstaina pyysin, että lopetatte tekstiviestit. Vieläkin tulee niitä.",
                "Sent you a request to stop the texts last month. Got another one this morning.",
                "Ja skickade det här för tre veckor sen. Nyhetsbrevet kommer ännu."]:
        found = earlier_request("", own, "", DECEMBER, fallback_rights=("marketing_optout",))
        assert found is not None, own


def test_dates_with_finnish_month_abbreviations_and_a_year_first_slash() -> None:
    cases = {"pyysin heinäk. 5": "2026-07-05", "14. tammik. lähetin": "2026-01-14",
             "5 päivänä maaliskuuta pyysin": "2026-03-05", "sent 2026/03/17": "2026-03-17"}
    for text, iso in cases.items():
        assert [d.iso for d in find_dates(text, DECEMBER)] == [iso], text


def test_everyday_names_of_a_right_in_a_reminder() -> None:
    cases = {"about correcting my surname": "rectification",
             "our disclosure ban of 3 May": "publication_ban",
             "poistatte meidät asiakastarinasta": "publication_ban",
             "pyysin henkilötietojeni poistoa": "erasure",
             "I asked for all my data in a file": "portability"}
    for text, right in cases.items():
        assert right in named_rights(text)[0], text


def test_not_deleted_after_it_was_asked_is_a_reminder() -> None:
    for own in ["I asked you to erase my data. Today I checked: my data is not deleted.",
                "Pyysin poistamaan tilini, mutta tietojani ei ole vieläkään poistettu.",
                "Jag bad er radera kontot men ni har inte raderat det."]:
        assert is_reminder("", own), own
