"""Impostor scenarios as data: the mails an attacker sends, and what must (not) happen.

Kept apart from the tests so that an end-to-end test (pipeline + outbox) can replay the same
mails against a database seeded with :func:`tests.identity_kit.register` and assert the same
outcome at the outbox: no byte of personal data to any address in ``forbidden_recipients`` (in
fact to any address outside the register), and no change to the register.

Each scenario's mail is built with test-only keys (DKIM, OpenPGP, X.509) made at run time;
DKIM answers come from ``identity_kit.dkim_world().dns``, trusted keys from :func:`scenario_trust`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from handlers.identity import Level
from handlers.signatures import TrustConfig
from tests import impostor_replies as r21
from tests.identity_kit import (
    OUR_ADDRESS,
    clearsign,
    dkim_world,
    mail,
    pgp_key,
    prepend,
    raw_mail,
    rogue_pki,
    smime_signed,
    trust,
    trusted_pki,
)
from tests.impostor_replies import Answer

VICTIM = "maija.meikalainen@example.fi"
VICTIM_NUMBER = "100001"
COLLEAGUE = "matti.virtanen@example.fi"
ATTACKER = "attacker@evil.test"

#: What our border MX writes for a forged From (no DKIM for the From domain, DMARC fails).
AR_FORGED = ("mx.rusttet.fi; dkim=none; spf=fail smtp.mailfrom=evil.test; "
             "dmarc=fail (p=none) header.from=example.fi")
#: What our border MX writes for honest mail from the attacker's own domain.
AR_EVIL = ("mx.rusttet.fi; dkim=pass header.d=evil.test; spf=pass smtp.mailfrom=evil.test; "
           "dmarc=pass header.from=evil.test")
#: What our border MX writes for genuine mail from example.fi.
AR_EXAMPLE_PASS = ("mx.rusttet.fi; dkim=pass header.d=example.fi header.s=s1; "
                   "spf=pass smtp.mailfrom=example.fi; dmarc=pass header.from=example.fi")


@dataclass(frozen=True)
class Scenario:
    name: str
    #: What the attacker tries, in one sentence (shown when a test fails).
    story: str
    #: The impostor's mail exactly as it reaches our receiver.
    raw: bytes
    #: Customer number of the person whose data or record is targeted.
    victim: str
    #: Request types the mail asks for (for the classifier / pipeline in end-to-end tests).
    requests: tuple[str, ...]
    #: Highest identity level this mail may reach on its own.
    max_level: Level
    #: Flags that must be raised (codes from handlers.lookalike / handlers.identity).
    flags: frozenset[str] = frozenset()
    #: Addresses that must never receive personal data (beyond "anything outside the register").
    forbidden_recipients: tuple[str, ...] = (ATTACKER,)
    #: Customer number the From address legitimately matches (a claim), if any.
    matched: str | None = None
    #: Later mails of the same attack (each is checked the same way).
    followups: tuple[bytes, ...] = ()
    #: Confirmation codes the attacker tries (guessing or replaying).
    guessed_codes: tuple[str, ...] = ()
    #: Replies to our code letter, built from the letter the given address received (issue 21:
    #: the owner's "not me", a forward, an out-of-office echo, a leaked code).
    answers: tuple[Answer, ...] = ()


def scenario_trust() -> TrustConfig:
    """Trust used by the scenarios: the victim's real OpenPGP key and our trusted root."""
    return trust(pgp=[pgp_key(f"Maija Meikäläinen <{VICTIM}>")], roots=[trusted_pki()])


def _forged(raw: bytes) -> bytes:
    return prepend(raw, [("Authentication-Results", AR_FORGED)])


def _evil(raw: bytes) -> bytes:
    world = dkim_world()
    return prepend(world.sign(raw, "evil.test"), [("Authentication-Results", AR_EVIL)])


ACCESS_FI = "Hei, haluan saada kopion kaikista minusta tallennetuista tiedoista."
ASK_NUMBER = f"Olen Maija Meikäläinen, asiakasnumero {VICTIM_NUMBER}. {ACCESS_FI}"


@functools.cache
def scenarios() -> tuple[Scenario, ...]:
    world = dkim_world()
    genuine = world.sign(mail(from_=f"Maija Meikäläinen <{VICTIM}>", body=ACCESS_FI,
                              message_id="<genuine-1@example.fi>"), "example.fi")
    attacker_key = pgp_key(f"Maija Meikäläinen <{VICTIM}>  (impostor)")
    rogue_cert, rogue_private = rogue_pki().issue(VICTIM, "Maija Meikäläinen")
    return (
        Scenario(
            "lookalike_digit_domain",
            "a digit 1 for the letter l in the victim's domain, with her customer number",
            _evil(mail(from_="Maija <maija.meikalainen@examp1e.fi>", body=ASK_NUMBER)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"confusable_domain"}),
            ("maija.meikalainen@examp1e.fi",)),
        Scenario(
            "cyrillic_homoglyph_domain",
            "a Cyrillic е in the victim's domain (SMTPUTF8 mail)",
            _evil(raw_mail(["From: Maija <maija.meikalainen@еxample.fi>", f"To: {OUR_ADDRESS}",
                            "Subject: Tietopyyntö", "Message-ID: <h1@evil.test>",
                            "Content-Type: text/plain; charset=utf-8"], ASK_NUMBER)),
            VICTIM_NUMBER, ("access",), "none",
            frozenset({"non_ascii_domain", "mixed_script_domain", "confusable_domain"}),
            ("maija.meikalainen@еxample.fi",)),
        Scenario(
            "punycode_domain",
            "the homoglyph domain written as punycode (xn--)",
            _evil(mail(from_="Maija <maija.meikalainen@xn--xample-2of.fi>", body=ASK_NUMBER)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"punycode_domain",
                                                          "confusable_domain"}),
            ("maija.meikalainen@xn--xample-2of.fi",)),
        Scenario(
            "one_edit_domain",
            "two letters of the victim's domain swapped",
            _evil(mail(from_="maija.meikalainen@exmaple.fi", body=ASK_NUMBER)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"one_edit_domain"}),
            ("maija.meikalainen@exmaple.fi",)),
        Scenario(
            "display_name_spoof",
            "the victim's address as the display name of the attacker's address",
            _evil(mail(from_=f'"{VICTIM}" <{ATTACKER}>', body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"display_name_other_address"})),
        Scenario(
            "forged_from_without_authentication",
            "the victim's address forged in From; our MX saw no DKIM and a DMARC failure",
            _forged(mail(from_=f"Maija <{VICTIM}>", body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "forged_from_dkim_with_the_wrong_key",
            "a DKIM signature for the victim's domain made with the attacker's key",
            world.sign(mail(from_=VICTIM, body=ACCESS_FI), "example.fi", key_of="evil.test"),
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "forged_from_dkim_for_the_attackers_domain",
            "a valid DKIM signature, but for the attacker's domain, not the From domain",
            world.sign(mail(from_=VICTIM, body=ACCESS_FI), "evil.test"),
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "untrusted_authentication_results",
            "the attacker writes a passing Authentication-Results of their own server",
            _forged(mail(from_=VICTIM, body=ACCESS_FI, headers=[(
                "Authentication-Results", AR_EXAMPLE_PASS.replace("mx.rusttet.fi",
                                                                  "mx.evil.test"))])),
            VICTIM_NUMBER, ("access",), "claimed", frozenset({"untrusted_authres"}),
            matched=VICTIM_NUMBER),
        Scenario(
            "authentication_results_with_our_id_inside_the_message",
            "the attacker writes a passing Authentication-Results naming OUR server",
            _forged(mail(from_=VICTIM, body=ACCESS_FI,
                         headers=[("Authentication-Results", AR_EXAMPLE_PASS)])),
            VICTIM_NUMBER, ("access",), "claimed", frozenset({"forged_authres"}),
            matched=VICTIM_NUMBER),
        Scenario(
            "send_it_to_my_new_address",
            "a stranger's address, the victim's name and number, 'send it to my new address'",
            _evil(mail(from_="maija.new@evil.test", body=(
                f"{ASK_NUMBER} Vanha osoitteeni ei toimi, lähettäkää tiedot osoitteeseen "
                "maija.backup@evil.test tai tähän osoitteeseen."))),
            VICTIM_NUMBER, ("access",), "none", frozenset({"text_names_other_address"}),
            ("maija.new@evil.test", "maija.backup@evil.test")),
        Scenario(
            "forged_from_asks_for_another_address",
            "the victim's address forged, asking for the answer at a new address",
            _forged(mail(from_=VICTIM, body=(
                f"{ACCESS_FI} Lähettäkää vastaus uuteen osoitteeseeni maija.new@evil.test."))),
            VICTIM_NUMBER, ("access",), "claimed", frozenset({"text_names_other_address"}),
            ("maija.new@evil.test",), matched=VICTIM_NUMBER),
        Scenario(
            "reply_to_hijack",
            "the victim's address forged in From, the attacker's in Reply-To",
            _forged(mail(from_=VICTIM, reply_to=ATTACKER, body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "claimed", frozenset({"reply_to_differs"}),
            matched=VICTIM_NUMBER),
        Scenario(
            "same_domain_forgery",
            "someone on the victim's mail domain sends as the victim: DKIM for the domain "
            "passes, yet it is not the victim",
            prepend(world.sign(mail(from_=VICTIM, body=ACCESS_FI), "example.fi"),
                    [("Authentication-Results", AR_EXAMPLE_PASS)]),
            VICTIM_NUMBER, ("access",), "authenticated", matched=VICTIM_NUMBER),
        Scenario(
            "replayed_genuine_mail",
            "a genuine, DKIM-signed request of the victim re-sent by someone else",
            prepend(genuine, [("Authentication-Results", AR_EXAMPLE_PASS)]),
            VICTIM_NUMBER, ("access",), "authenticated", matched=VICTIM_NUMBER),
        Scenario(
            "dkim_body_length_append",
            "a genuine signature limited with l= and an instruction appended after it",
            world.sign(mail(from_=VICTIM, body=ACCESS_FI), "example.fi", length=True)
            + b"\r\nPS. Send the data to attacker@evil.test please.\r\n",
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "case_id_guessing",
            "a stranger replies to a guessed case id with guessed confirmation codes",
            _evil(mail(from_=ATTACKER, subject="Re: [DSR-2026-0001] Vahvistus",
                       body="Vahvistuskoodi: 0000-0000-0000-0000\nTai: ABCD-EFGH-JKMN-PQRS")),
            VICTIM_NUMBER, ("access",), "none",
            guessed_codes=("0000-0000-0000-0000", "ABCD-EFGH-JKMN-PQRS")),
        Scenario(
            "rectify_email_then_access",
            "forged From asks to change the registered address to the attacker's, then asks "
            "for access from that address",
            _forged(mail(from_=VICTIM, body=(
                "Sähköpostiosoitteeni on muuttunut, korjatkaa se: maija.m@evil.test"))),
            VICTIM_NUMBER, ("rectification",), "claimed", frozenset({"text_names_other_address"}),
            ("maija.m@evil.test",), matched=VICTIM_NUMBER,
            followups=(_evil(mail(from_="maija.m@evil.test", body=ASK_NUMBER,
                                  message_id="<followup-1@evil.test>")),)),
        Scenario(
            "colleague_asks_to_erase_someone",
            "an authenticated customer asks to erase a colleague's data",
            prepend(world.sign(mail(from_=COLLEAGUE, body=(
                f"Poistakaa kollegani Maija Meikäläisen tiedot, asiakasnumero {VICTIM_NUMBER}.")),
                "example.fi"), [("Authentication-Results", AR_EXAMPLE_PASS)]),
            VICTIM_NUMBER, ("erasure",), "authenticated", matched="100002",
            forbidden_recipients=(ATTACKER, COLLEAGUE)),
        Scenario(
            "subaddress_added",
            "a +tag added to the victim's address",
            _forged(mail(from_="maija.meikalainen+gdpr@example.fi", body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"subaddress"}),
            ("maija.meikalainen+gdpr@example.fi",)),
        Scenario(
            "subaddress_dropped",
            "the +tag of a registered sub-address left out",
            _forged(mail(from_="pekka@example.org",
                         body="Poistakaa tietoni, asiakasnumero 100004.")),
            "100004", ("erasure",), "none", frozenset({"subaddress"}), ("pekka@example.org",)),
        Scenario(
            "subdomain_of_the_victims_domain",
            "the victim's local part on a subdomain of her domain",
            _forged(mail(from_="maija.meikalainen@mail.example.fi", body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none",
            frozenset({"subdomain_of_known", "near_registered_address"}),
            ("maija.meikalainen@mail.example.fi",)),
        Scenario(
            "victims_domain_embedded_in_another",
            "the victim's domain as the start of the attacker's domain",
            _evil(mail(from_="maija.meikalainen@example.fi.evil.test", body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"known_domain_embedded"}),
            ("maija.meikalainen@example.fi.evil.test",)),
        Scenario(
            "two_from_headers",
            "two From headers: ours shows the victim, the signature covers the attacker",
            prepend(world.sign(raw_mail([f"From: {ATTACKER}", f"To: {OUR_ADDRESS}",
                                         "Subject: Tietopyyntö", "Message-ID: <2f@evil.test>"],
                                        ACCESS_FI), "evil.test"),
                    [("From", VICTIM), ("Authentication-Results", AR_EVIL)]),
            VICTIM_NUMBER, ("access",), "none", frozenset({"several_from_headers"})),
        Scenario(
            "homoglyph_in_the_local_part",
            "an i for an l in the victim's local part on her real domain",
            _forged(mail(from_="maija.meikaiainen@example.fi", body=ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"confusable_local_part"}),
            ("maija.meikaiainen@example.fi",)),
        Scenario(
            "openpgp_signed_with_the_attackers_key",
            "forged From, clearsigned with a new key carrying the victim's user id",
            _forged(mail(from_=VICTIM, body=clearsign(attacker_key, ACCESS_FI + "\n"))),
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "smime_from_a_rogue_ca",
            "forged From, S/MIME-signed with a certificate for the victim from an unknown CA",
            _forged(smime_signed(rogue_cert, rogue_private, from_=VICTIM)),
            VICTIM_NUMBER, ("access",), "claimed", matched=VICTIM_NUMBER),
        Scenario(
            "imitating_our_own_domain",
            "a look-alike of our domain asks us to forward a customer's data",
            _evil(mail(from_="info@rustet.fi", body=(
                f"Sisäinen pyyntö: lähettäkää asiakkaan {VICTIM_NUMBER} tiedot osoitteeseen "
                f"{ATTACKER}."))),
            VICTIM_NUMBER, ("access",), "none", frozenset({"one_edit_domain",
                                                          "text_names_other_address"}),
            (ATTACKER, "info@rustet.fi")),
        Scenario(
            "fullwidth_letter_in_the_domain",
            "a full-width ｅ that Unicode folds onto the victim's domain: the sender is only "
            "a claim, and the variant is never a recipient",
            _forged(raw_mail(["From: maija.meikalainen@ｅxample.fi", f"To: {OUR_ADDRESS}",
                              "Subject: Tietopyyntö", "Message-ID: <fw@evil.test>",
                              "Content-Type: text/plain; charset=utf-8"], ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "claimed", frozenset(),
            ("maija.meikalainen@ｅxample.fi",), matched=VICTIM_NUMBER),
        Scenario(
            "display_name_encoded_word",
            "the victim's address hidden in an RFC 2047 encoded display name",
            _evil(raw_mail(["From: =?utf-8?q?maija=2Emeikalainen=40example=2Efi?= "
                            f"<{ATTACKER}>", f"To: {OUR_ADDRESS}", "Subject: Tietopyyntö",
                            "Message-ID: <ew@evil.test>"], ACCESS_FI)),
            VICTIM_NUMBER, ("access",), "none", frozenset({"display_name_other_address"})),
        *issue_21_scenarios(),
    )


def issue_21_scenarios() -> tuple[Scenario, ...]:
    """The eight attacks of issue 21 (tests/impostor_replies.py builds the mails)."""
    signed = r21.signed_attack_mails()
    return (
        Scenario("owner_says_not_me_quoting_the_code",
                 "the owner answers 'NOT me, do nothing' quoting our letter with the code",
                 r21.forged_erasure("notme-req"), VICTIM_NUMBER, ("erasure",), "claimed",
                 matched=VICTIM_NUMBER, answers=((VICTIM, r21.not_me),)),
        Scenario("owner_forwards_the_code_letter",
                 "the owner forwards our code letter asking 'what is this?'",
                 r21.forged_erasure("fwd-req"), VICTIM_NUMBER, ("erasure",), "claimed",
                 matched=VICTIM_NUMBER, answers=((VICTIM, r21.forward),)),
        Scenario("out_of_office_echoes_the_code",
                 "the owner's server sends an out-of-office (no RFC 3834) echoing our letter",
                 r21.forged_erasure("ooo-req"), VICTIM_NUMBER, ("erasure",), "claimed",
                 matched=VICTIM_NUMBER, answers=((VICTIM, r21.out_of_office),)),
        Scenario("leaked_code_with_forged_from_failing_dmarc",
                 "a leaked code sent with a forged From that fails DMARC at our server",
                 r21.forged_erasure("leak-req"), VICTIM_NUMBER, ("erasure",), "claimed",
                 matched=VICTIM_NUMBER, answers=((VICTIM, r21.leaked_code),)),
        Scenario("pasted_old_clearsigned_block",
                 "a forged erasure with an old clearsigned mail of the victim pasted in",
                 signed["pasted_clearsigned_erasure"], VICTIM_NUMBER, ("erasure",), "claimed",
                 matched=VICTIM_NUMBER),
        Scenario("detached_signature_over_another_attachment",
                 "a forged erasure with the victim's real signature over an old attachment",
                 signed["detached_over_other_attachment_erasure"], VICTIM_NUMBER,
                 ("erasure",), "claimed", matched=VICTIM_NUMBER),
        Scenario("detached_signature_for_a_change_of_address",
                 "a forged change of postal address with the victim's signature over "
                 "something else",
                 signed["detached_over_other_attachment_address_change"], VICTIM_NUMBER,
                 ("rectification",), "claimed", matched=VICTIM_NUMBER),
        Scenario("verified_colleague_names_the_victim_by_name_only",
                 "a verified colleague asks to erase the victim, named by first and last name",
                 r21.colleague_erasing_by_name(), VICTIM_NUMBER, ("erasure",), "authenticated",
                 matched="100002", forbidden_recipients=(r21.COLLEAGUE,),
                 answers=((r21.COLLEAGUE, r21.colleague_confirms),)),
    )
