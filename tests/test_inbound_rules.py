"""The pure inbound SIP rules: names, Twilio's credential rules, the IP whitelist, SIP addresses,
the webhook's classification and the import/export check. No app, no database."""
from types import SimpleNamespace

import pytest

from sipflask.core import inbound, ip_whitelist
from sipflask.core.inbound import Decision, classify

NUMBER = "+18882223333"


# --- names ---------------------------------------------------------------------------------------

def test_domain_names_from_the_base_name():
    assert inbound.domain_names("acme") == ("acme.sip.twilio.com", "acme-ip.sip.twilio.com")


@pytest.mark.parametrize("name", ["acme", "a", "acme-calls-2", "0day", "a" * 60])
def test_good_names(name):
    assert inbound.name_problem(name) is None


@pytest.mark.parametrize("name,part", [
    ("", "Enter a base name"),
    ("acme.sip.twilio.com", "only the first part"),
    ("-acme", "start and end"),
    ("acme-", "start and end"),
    ("ac_me", "letters a-z, digits and '-'"),
    ("ac.me", "letters a-z"),
    ("acmé", "letters a-z"),
    ("a" * 61, "at most 60"),
    ("xn--bcher-kva", "reserved"),
])
def test_bad_names(name, part):
    assert part in inbound.name_problem(name)


def test_names_are_lower_cased_and_trimmed():
    assert inbound.normalise_name("  Acme ") == "acme"


# --- credentials --------------------------------------------------------------------------------

@pytest.mark.parametrize("username", ["alice", "partner.01", "a" * 32, "x_y-z+1"])
def test_good_usernames(username):
    assert inbound.username_problem(username) is None


@pytest.mark.parametrize("username,part", [
    ("", "Enter a username"), ("a" * 33, "at most 32"), ("has space", "no spaces"),
    ("a@b", "letters, digits"), ("a:b", "letters, digits"),
])
def test_bad_usernames(username, part):
    assert part in inbound.username_problem(username)


def test_twilio_password_rule():
    assert inbound.password_problem("IWasAtSignal2018") is None  # Twilio's own example
    assert inbound.password_problem("Abcdefghijk1") is None  # exactly 12
    assert "at least 12 characters (it has 11)" in inbound.password_problem("Abcdefghij1")
    assert "a digit" in inbound.password_problem("Abcdefghijkl")
    assert "an upper-case letter" in inbound.password_problem("abcdefghijk1")
    assert "a lower-case letter" in inbound.password_problem("ABCDEFGHIJK1")
    assert "spaces" in inbound.password_problem("Abcdef ghijk1")
    assert "at most 128" in inbound.password_problem("Ab1" * 50)
    assert inbound.password_problem("") == "Enter a password."


# --- IP whitelist ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,address,prefix,shown", [
    ("203.0.113.7", "203.0.113.7", 32, "203.0.113.7"),
    ("203.0.113.7/32", "203.0.113.7", 32, "203.0.113.7"),
    (" 203.0.113.0/24 ", "203.0.113.0", 24, "203.0.113.0/24"),
    ("10.0.0.0/8", "10.0.0.0", 8, "10.0.0.0/8"),
])
def test_good_ips(text, address, prefix, shown):
    entry = ip_whitelist.parse_ip(text)
    assert (entry.address, entry.prefix, entry.text) == (address, prefix, shown)


@pytest.mark.parametrize("text,part", [
    ("", "Enter an IPv4"),
    ("203.0.113.7/24", "host bits set: the range is 203.0.113.0/24"),
    ("2001:db8::1", "IPv6"),
    ("203.0.113", "not an IPv4 address"),
    ("example.com", "not an IPv4 address"),
    ("203.0.113.0/33", "prefix length must be from 8 to 32"),
    ("203.0.113.0/x", "prefix length"),
    ("0.0.0.0/0", "too wide"),
    ("2.0.0.0/7", "too wide"),
    ("127.0.0.1", "loopback"),
    ("224.0.0.1", "multicast"),
    ("169.254.1.1", "link-local"),
    ("0.0.0.0", "reserved"),
])
def test_bad_ips(text, part):
    with pytest.raises(ValueError) as info:
        ip_whitelist.parse_ip(text)
    assert part in str(info.value)


def test_ip_list_errors_by_row_duplicates_and_the_limit():
    entries, errors, whole = ip_whitelist.check_ip_list(
        ["203.0.113.0/24", "", "nope", "203.0.113.0/24", "198.51.100.7/32", "198.51.100.7"])
    assert [e.text if e else None for e in entries] == [
        "203.0.113.0/24", None, None, None, "198.51.100.7", None]
    assert set(errors) == {2, 3, 5}
    assert errors[3] == "203.0.113.0/24 is already in row 1."
    assert whole is None
    many = [f"198.51.{i // 256}.{i % 256}" for i in range(101)]
    assert ip_whitelist.check_ip_list(many[:100])[2] is None
    assert "at most 100" in ip_whitelist.check_ip_list(many)[2]


# --- SIP addresses ------------------------------------------------------------------------------

def test_sip_addresses_of_a_number():
    on = SimpleNamespace(enabled=True, name="acme")
    assert inbound.sip_addresses(NUMBER, on) == [
        "sip:+18882223333@acme.sip.twilio.com", "sip:+18882223333@acme-ip.sip.twilio.com"]
    assert inbound.sip_addresses(SimpleNamespace(number=NUMBER), on)[0].startswith("sip:+1888")
    assert inbound.sip_addresses(NUMBER, SimpleNamespace(enabled=False, name="acme")) == []
    assert inbound.sip_addresses(NUMBER, SimpleNamespace(enabled=True, name="")) == []
    assert inbound.sip_addresses(NUMBER, None) == []


# --- classify -----------------------------------------------------------------------------------

def on_domain(user, domain="acme.sip.twilio.com", **extra):
    return {"To": f"sip:{user}@{domain}", "From": "sip:partner@203.0.113.9",
            "SipDomain": domain, **extra}


def test_phone_calls_route_by_to():
    assert classify({"To": NUMBER, "From": "+14155552671"}, "acme", True) == Decision(NUMBER)
    assert classify({"To": NUMBER}, None, False) == Decision(NUMBER)


@pytest.mark.parametrize("domain", ["acme.sip.twilio.com", "acme-ip.sip.twilio.com",
                                    "ACME.sip.twilio.com"])
def test_calls_on_our_domains_route_by_the_user_part(domain):
    decision = classify(on_domain(NUMBER, domain), "acme", True)
    assert decision.number == NUMBER and not decision.rejected
    assert decision.sip_domain == domain.lower()


def test_uri_parameters_and_an_encoded_plus_are_fine():
    params = on_domain(NUMBER)
    params["To"] += ";transport=udp"
    assert classify(params, "acme", True).number == NUMBER
    assert classify(on_domain("%2B18882223333"), "acme", True).number == NUMBER


@pytest.mark.parametrize("user,part", [
    ("18882223333", "with + and the country code"),
    ("8882223333", "with + and the country code"),
    ("agent", "with + and the country code"),
    ("+1555", "not a valid phone number"),
    ("+1(888)2223333", "exactly the E.164 number"),
])
def test_user_parts_that_are_not_e164_are_rejected(user, part):
    decision = classify(on_domain(user), "acme", True)
    assert decision.number is None and part in decision.reject_reason


def test_foreign_domain_and_disabled_are_rejected():
    foreign = classify(on_domain(NUMBER, "evil.sip.twilio.com"), "acme", True)
    assert foreign.rejected and "evil.sip.twilio.com" in foreign.reject_reason
    assert "not one of sipflask's inbound SIP domains" in foreign.reject_reason
    assert classify(on_domain(NUMBER), "acme", False).reject_reason == (
        "SIP call on acme.sip.twilio.com, but inbound SIP is disabled.")
    assert classify(on_domain(NUMBER), None, True).rejected
    assert classify(on_domain(NUMBER), "", True).rejected


def test_a_sip_to_without_sip_domain_is_judged_by_its_host():
    assert classify({"To": f"sip:{NUMBER}@pbx.example.com"}, "acme", True).rejected
    assert classify({"To": f"sip:{NUMBER}@acme.sip.twilio.com"}, "acme", True).number == NUMBER


def test_reasons_are_short_and_one_line():
    decision = classify(on_domain("x\r\n" + "9" * 900), "acme", True)
    assert decision.rejected and len(decision.reject_reason) < 500
    assert "\n" not in decision.reject_reason and "\r" not in decision.reject_reason


# --- import check -------------------------------------------------------------------------------

def test_check_settings_accepts_the_export_shape():
    assert inbound.check_settings(
        {"enabled": True, "name": "acme", "ip_whitelist": ["203.0.113.0/24"]}).ok
    assert inbound.check_settings({}).ok
    assert inbound.check_settings({"enabled": False, "name": "", "ip_whitelist": []}).ok


def test_check_settings_errors_by_path():
    report = inbound.check_settings({"enabled": "yes", "name": "bad_name",
                                     "ip_whitelist": ["203.0.113.0/24", "nope"], "extra": 1})
    assert set(report.errors) == {"enabled", "name", "ip_whitelist[1]", "extra"}
    assert "without a base name" in inbound.check_settings(
        {"enabled": True, "name": ""}).errors["name"][0]
    assert "never imported" in inbound.check_settings(
        {"credentials": [{"username": "a"}]}).errors["credentials"][0]
    assert inbound.check_settings([]).errors
    assert "ip_whitelist" in inbound.check_settings({"ip_whitelist": "203.0.113.0/24"}).errors
    too_many = [f"198.51.{i // 256}.{i % 256}" for i in range(101)]
    assert "at most 100" in inbound.check_settings(
        {"ip_whitelist": too_many}).errors["ip_whitelist"][0]
