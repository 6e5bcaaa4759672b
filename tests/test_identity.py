"""Who is asking: register match, sender authentication, look-alikes, and the rule above all."""

from __future__ import annotations

import pytest

from handlers.identity import (
    IdentityAssessment,
    assess_identity,
    candidate_keys,
    case_assessment,
    mark_verified,
    may_change_register,
    may_send_personal_data,
    verify_dkim,
)
from handlers.lookalike import (
    address_flags,
    domain_flags,
    one_edit_apart,
    org_domain,
    skeleton,
)
from handlers.signatures import check_signatures
from storage.models import Case
from tests.identity_kit import (
    NOW,
    OUR_ADDRESS,
    by_email,
    candidates_in_memory,
    clearsign,
    dkim_world,
    mail,
    parse,
    pgp_key,
    prepend,
    raw_mail,
    register,
    settings,
    trust,
)

MAIJA = "maija.meikalainen@example.fi"
AR_PASS = ("mx.rusttet.fi; dkim=pass header.d=example.fi header.s=s1; "
           "spf=pass smtp.mailfrom=maija.meikalainen@example.fi; dmarc=pass header.from=example.fi")


def assess(message: bytes, **kw: object) -> IdentityAssessment:
    customers = register()
    parsed = parse(message)
    candidates = candidates_in_memory(customers, parsed.text, parsed.from_address)
    return assess_identity(parsed, by_email(customers, parsed.from_address), candidates,
                           settings(), protected_addresses=[OUR_ADDRESS],
                           **kw)  # type: ignore[arg-type]


# -- register match ------------------------------------------------------------------------


def test_from_equal_to_a_registered_address_is_only_a_claim() -> None:
    result = assess(mail(from_=f"Maija <{MAIJA}>"))
    assert result.level == "claimed"
    assert result.customer_id == 1


def test_register_match_ignores_case_of_the_address() -> None:
    assert assess(mail(from_=MAIJA.upper())).level == "claimed"


def test_unknown_sender_is_level_none() -> None:
    result = assess(mail(from_="stranger@elsewhere.test"))
    assert result.level == "none" and result.customer_id is None


def test_name_phone_and_customer_number_give_candidates_never_a_match() -> None:
    body = ("Olen Maija Meikäläinen, asiakasnumero 100001, puh. 040 123 4567. "
            "Lähettäkää tietoni.")
    result = assess(mail(from_="maija.private@elsewhere.test", body=body))
    assert result.level == "none"
    assert result.customer_id is None
    assert result.candidate_ids == [1]
    assert not may_change_register(result)


def test_address_shared_by_two_customers_is_not_a_match() -> None:
    customers = register()
    customers[1].email = customers[0].email
    customers[1].email_normalised = customers[0].email_normalised
    parsed = parse(mail(from_=MAIJA))
    result = assess_identity(parsed, by_email(customers, MAIJA), [], settings())
    assert result.level == "none"
    assert sorted(result.candidate_ids) == [1, 2]
    assert "address_shared" in result.flags


def test_candidate_keys_read_customer_numbers_phones_addresses_and_person_entities() -> None:
    class Entity:
        label = "PERSON"
        text = "Maija Meikäläinen"

    keys = candidate_keys("Customer number: 100001, phone +358 40 123 4567, "
                          "old address MAIJA@Example.fi", [Entity()])
    assert keys.customer_numbers == ["100001"]
    assert keys.phones == ["+358401234567"]
    assert keys.emails == ["maija@example.fi"]
    assert keys.names == [("Maija", "Meikäläinen")]


# -- sender authentication -----------------------------------------------------------------


def test_trusted_authentication_results_with_aligned_dkim_make_the_sender_authenticated() -> None:
    raw = mail(from_=MAIJA, headers=[("Authentication-Results", AR_PASS)])
    result = assess(raw)
    assert result.level == "authenticated"
    assert result.sender_authenticated


def test_authentication_results_from_an_untrusted_server_are_ignored() -> None:
    forged = AR_PASS.replace("mx.rusttet.fi", "mx.evil.test")
    result = assess(mail(from_=MAIJA, headers=[("Authentication-Results", forged)]))
    assert result.level == "claimed"
    assert "untrusted_authres" in result.flags


def test_only_the_topmost_trusted_authentication_results_header_counts() -> None:
    ours = "mx.rusttet.fi; dkim=none; spf=softfail smtp.mailfrom=evil.test; dmarc=fail"
    raw = mail(from_=MAIJA, headers=[("Authentication-Results", ours),
                                     ("Received", "from evil.test by mx.rusttet.fi"),
                                     ("Authentication-Results", AR_PASS)])
    result = assess(raw)
    assert result.level == "claimed"
    assert "forged_authres" in result.flags


def test_dkim_pass_for_another_domain_is_not_aligned() -> None:
    ar = "mx.rusttet.fi; dkim=pass header.d=evil.test; dmarc=fail header.from=example.fi"
    assert assess(mail(from_=MAIJA, headers=[("Authentication-Results", ar)])).level == "claimed"


def test_dkim_pass_for_a_parent_domain_is_aligned_relaxed() -> None:
    ar = "mx.rusttet.fi; dkim=pass header.d=example.fi"
    raw = mail(from_="pekka+shop@example.org", headers=[("Authentication-Results",
                                                        ar.replace("example.fi",
                                                                   "mail.example.org"))])
    assert assess(raw).level == "authenticated"


def test_spf_alone_does_not_authenticate() -> None:
    ar = "mx.rusttet.fi; spf=pass smtp.mailfrom=maija.meikalainen@example.fi"
    assert assess(mail(from_=MAIJA, headers=[("Authentication-Results", ar)])).level == "claimed"


def test_unreadable_trusted_authentication_results_count_as_nothing() -> None:
    raw = mail(from_=MAIJA, headers=[("Authentication-Results", "mx.rusttet.fi; ;;; ===")])
    result = assess(raw)
    assert result.level == "claimed"


def test_no_trusted_servers_configured_means_headers_never_count() -> None:
    customers = register()
    parsed = parse(mail(from_=MAIJA, headers=[("Authentication-Results", AR_PASS)]))
    result = assess_identity(parsed, by_email(customers, MAIJA), [],
                             settings(trusted_authserv_ids=[]))
    assert result.level == "claimed"


def test_directly_verified_aligned_dkim_authenticates() -> None:
    world = dkim_world()
    raw = world.sign(mail(from_=MAIJA), "example.fi")
    result = assess(raw, raw=raw, dns=world.dns)
    assert result.level == "authenticated"


def test_dkim_signed_with_a_wrong_key_fails() -> None:
    world = dkim_world()
    raw = world.sign(mail(from_=MAIJA), "example.fi", key_of="evil.test")
    assert verify_dkim(raw, "example.fi", world.dns)[0] is False
    assert assess(raw, raw=raw, dns=world.dns).level == "claimed"


def test_dkim_signature_with_body_length_limit_is_not_counted() -> None:
    world = dkim_world()
    raw = world.sign(mail(from_=MAIJA), "example.fi", length=True)
    raw += b"\r\nPS. Send everything to attacker@evil.test\r\n"
    ok, why = verify_dkim(raw, "example.fi", world.dns)
    assert not ok and "part of the body" in why


def test_dkim_on_malformed_input_never_raises() -> None:
    assert verify_dkim(b"\x00\x01garbage", "example.fi", dkim_world().dns)[0] is False


def test_several_from_headers_void_the_match_and_authentication() -> None:
    world = dkim_world()
    raw = raw_mail([f"From: {MAIJA}", "From: attacker@evil.test", f"To: {OUR_ADDRESS}",
                    "Subject: x", "Message-ID: <m@x>"])
    raw = prepend(raw, [("Authentication-Results", AR_PASS)])
    result = assess(raw, raw=raw, dns=world.dns)
    assert result.level == "none"
    assert "several_from_headers" in result.flags


# -- look-alikes ---------------------------------------------------------------------------


def test_org_domain_handles_common_multi_label_suffixes() -> None:
    assert org_domain("mail.example.fi") == "example.fi"
    assert org_domain("a.b.example.co.uk") == "example.co.uk"
    assert org_domain("example.fi") == "example.fi"


def test_skeleton_equates_homoglyphs() -> None:
    assert skeleton("exаmple.fi") == skeleton("example.fi")  # Cyrillic а
    assert skeleton("examp1e.fi") == skeleton("example.fi")
    assert skeleton("rnaija") == skeleton("maija")


def test_one_edit_apart_includes_swaps() -> None:
    assert one_edit_apart("exmaple.fi", "example.fi")
    assert one_edit_apart("example.fi", "exampl.fi")
    assert not one_edit_apart("example.fi", "example.fi")
    assert not one_edit_apart("example.fi", "elpmaxe.fi")


@pytest.mark.parametrize(("domain", "code"), [
    ("xn--xample-2of.fi", "punycode_domain"),
    ("еxample.fi", "confusable_domain"),
    ("еxample.fi", "mixed_script_domain"),
    ("examp1e.fi", "confusable_domain"),
    ("exampel.fi", "one_edit_domain"),
    ("mail.example.fi", "subdomain_of_known"),
    ("example.fi.evil.test", "known_domain_embedded"),
    ("example-fi.com", "known_domain_embedded"),
])
def test_lookalike_domains_are_flagged(domain: str, code: str) -> None:
    assert code in {f.code for f in domain_flags(domain, ["example.fi"])}


def test_the_known_domain_itself_is_not_flagged() -> None:
    assert domain_flags("example.fi", ["example.fi"]) == []


def test_subaddress_of_a_registered_address_is_flagged() -> None:
    flags = {f.code for f in address_flags("maija.meikalainen+x@example.fi", [MAIJA])}
    assert "subaddress" in flags


def test_display_name_with_another_address_is_flagged_and_never_matched() -> None:
    result = assess(mail(from_=f'"{MAIJA}" <attacker@evil.test>'))
    assert result.level == "none"
    assert "display_name_other_address" in result.flags


def test_reply_to_differing_from_from_is_flagged() -> None:
    result = assess(mail(from_=MAIJA, reply_to="attacker@evil.test"))
    assert "reply_to_differs" in result.flags


def test_our_own_domain_imitated_is_flagged() -> None:
    result = assess(mail(from_="info@rustet.fi"))
    assert "one_edit_domain" in result.flags


def test_reasons_never_contain_addresses() -> None:
    raw = mail(from_=f'"{MAIJA}" <attacker@evil.test>', reply_to="x@evil.test",
               body="Send it to new@evil.test, customer number 100001",
               headers=[("Authentication-Results", AR_PASS.replace("rusttet", "evil"))])
    result = assess(raw)
    assert result.reasons
    assert not any("@" in r or "evil" in r or "100001" in r for r in result.reasons)


# -- signatures lift the level -------------------------------------------------------------


def test_trusted_signature_for_the_registered_address_verifies() -> None:
    tsk = pgp_key(f"Maija <{MAIJA}>")
    raw = mail(from_=MAIJA, body=clearsign(tsk, "Pyydän tietoni.\n"))
    sig = check_signatures(parse(raw), trust(pgp=[tsk]))
    result = assess(raw, signature=sig)
    assert result.level == "verified"


def test_trusted_signature_of_someone_else_does_not_verify() -> None:
    tsk = pgp_key("Matti <matti.virtanen@example.fi>")
    raw = mail(from_=MAIJA, body=clearsign(tsk, "Pyydän tietoni.\n"))
    sig = check_signatures(parse(raw), trust(pgp=[tsk]))
    result = assess(raw, signature=sig)
    assert result.level == "claimed"
    assert "signer_not_customer" in result.flags


# -- the rule above all --------------------------------------------------------------------


def test_personal_data_goes_only_to_the_registered_address_of_a_verified_customer() -> None:
    maija = register()[0]
    verified = mark_verified(assess(mail(from_=MAIJA)), 1, "challenge confirmed")
    assert may_send_personal_data(verified, MAIJA, maija)
    assert may_send_personal_data(verified, MAIJA.upper(), maija)
    assert not may_send_personal_data(verified, "maija.meikalainen+x@example.fi", maija)
    assert not may_send_personal_data(verified, "attacker@evil.test", maija)
    assert not may_send_personal_data(verified, f"Maija <{MAIJA}>", maija)
    assert not may_send_personal_data(verified, f"{MAIJA}, attacker@evil.test", maija)
    assert not may_send_personal_data(verified, f"{MAIJA}\r\nBcc: attacker@evil.test", maija)
    # NFKC would fold these onto the registered address; a mail server would not.
    assert not may_send_personal_data(verified, "ｍaija.meikalainen@example.fi", maija)
    assert not may_send_personal_data(verified, "maija.meikalainen@ｅxample.fi", maija)


@pytest.mark.parametrize("level", ["none", "claimed", "authenticated"])
def test_nothing_is_sent_and_nothing_changes_below_verified(level: str) -> None:
    maija = register()[0]
    assessment = IdentityAssessment(level=level, customer_id=1)  # type: ignore[arg-type]
    assert not may_send_personal_data(assessment, MAIJA, maija)
    assert not may_change_register(assessment)


def test_verified_for_one_customer_never_sends_another_customers_data() -> None:
    matti = register()[1]
    verified = IdentityAssessment(level="verified", customer_id=1)
    assert not may_send_personal_data(verified, matti.email, matti)


def test_erased_customer_gets_nothing() -> None:
    maija = register()[0]
    maija.anonymised_at = NOW
    verified = IdentityAssessment(level="verified", customer_id=1)
    assert not may_send_personal_data(verified, MAIJA, maija)


def test_register_changes_only_when_verified() -> None:
    assert may_change_register(IdentityAssessment(level="verified", customer_id=1))
    assert not may_change_register(IdentityAssessment(level="verified", customer_id=None))


def test_case_assessment_reads_the_recorded_verification() -> None:
    case = Case(id="DSR-2026-0001", requester="x", received_at=NOW, due_date=NOW.date(),
                created_at=NOW, updated_at=NOW, customer_id=1, verification_level="verified")
    assert case_assessment(case).level == "verified"
    case.verification_level = "bogus"
    assert case_assessment(case).level == "none"
