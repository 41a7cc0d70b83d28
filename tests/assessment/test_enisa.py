"""ENISA 2013 severity: DPC, EI, CB, score and bands (REGULATORY.md §3)."""

from decimal import Decimal

import pytest

from app.assessment import enisa
from app.assessment.enisa import (AvailabilityLoss as A, Band, ConfidentialityLoss as C, EnisaType,
                                  Identifiability, IntegrityLoss as I)

D = Decimal


@pytest.mark.parametrize("score, expected", [
    (D("0"), Band.low), (D("1.99"), Band.low), (D("2.0"), Band.medium), (D("2"), Band.medium),
    (D("2.99"), Band.medium), (D("3.0"), Band.high), (D("3.99"), Band.high),
    (D("4.0"), Band.very_high), (D("5.5"), Band.very_high),
])
def test_band_lower_bounds_are_inclusive(score, expected):
    assert enisa.band(score) is expected


def test_exactly_two_is_medium_through_the_whole_formula():
    # DPC 2 (behavioural) x EI 0.75 = 1.5, + 0.25 + 0.25 = 2.0 exactly; binary floats would risk 1.9999.
    s = enisa.severity(["user.location.precise"], 0, Identifiability.significant,
                       C.known_recipients, I.none, A.temporary, False)
    assert s.score == D("2") and s.band is Band.medium
    assert "= 2," in s.score_explanation


def test_exactly_three_is_high_and_four_very_high():
    three = enisa.severity(["user.financial"], 0, Identifiability.significant,
                           C.known_recipients, I.none, A.none, True)  # 3 x 0.75 + 0.25 + 0.5
    four = enisa.severity(["user.financial"], 0, Identifiability.maximum,
                          C.none, I.misused_recoverable, A.temporary, True)  # 3 x 1 + 0.25 + 0.25 + 0.5
    assert (three.score, three.band) == (D("3"), Band.high)
    assert (four.score, four.band) == (D("4"), Band.very_high)


def test_highest_type_wins():
    assert enisa.dpc(["user.contact.email", "user.location", "user.financial.credit_card"]).value == 3
    assert enisa.dpc(["user.contact.email", "user.health_and_medical"]).value == 4
    assert enisa.base_type(["user.name"])[0] is EnisaType.simple


def test_credentials_take_the_type_of_the_other_data():
    # Online-banking credentials open financial data; the set says so.
    kind, why = enisa.base_type(["user.authorization.password", "user.financial.bank_account"])
    assert kind is EnisaType.financial
    assert "credentials" in why and "give access to" in why
    # Credentials alone default to simple (ENISA: a music-store login scores 1).
    assert enisa.base_type(["user.authorization.credentials"])[0] is EnisaType.simple
    assert enisa.dpc(["system.authentication", "user.location.precise"]).value == 2


def test_no_categories_yet_is_simple():
    assert enisa.dpc([]).value == 1


# ENISA 2013, Annex A: DPC examples per data type (the base score plus the contextual adjustment
# the document gives for each example).
@pytest.mark.parametrize("example, categories, adjustment, expected", [
    ("supermarket customer list", ["user.name", "user.contact.phone_number"], 0, 1),
    ("customer list of a luxury goods seller (financial status)", ["user.name", "user.contact"], 1, 2),
    ("delivery addresses of an adult book store (sexual life)", ["user.contact.address"], 2, 3),
    ("list of undercover officers (personal safety)", ["user.name", "user.workplace"], 3, 4),
    ("one year of call history (profile of daily life)", ["user.behavior"], 1, 3),
    ("calls to a psychological support line (health)", ["user.behavior"], 2, 4),
    ("ISP helpdesk incoming-call log (no insight)", ["user.behavior"], -1, 1),
    ("letter showing someone is a bank customer (no insight)", ["user.financial"], -2, 1),
    ("full card details enabling payments", ["user.financial.credit_card"], 1, 4),
    ("fact that general blood tests were performed", ["user.health_and_medical"], -3, 1),
    ("test for a specific disease, no result", ["user.health_and_medical"], -1, 3),
])
def test_enisa_annex_dpc_examples(example, categories, adjustment, expected):
    assert enisa.dpc(categories, adjustment).value == expected, example


@pytest.mark.parametrize("categories, adjustment, expected, clamped", [
    (["user.name"], 3, 4, False),
    (["user.name"], -1, 1, True),  # simple allows 0..+3 only
    (["user.health_and_medical"], 2, 4, True),  # sensitive allows -3..0 only
    (["user.health_and_medical"], -3, 1, False),
    (["user.financial"], -3, 1, True),  # financial allows -2..+1
    (["user.location"], 3, 4, True),  # behavioural allows -1..+2
])
def test_dpc_is_bounded_and_out_of_range_adjustments_are_explained(categories, adjustment, expected, clamped):
    factor = enisa.dpc(categories, adjustment)
    assert 1 <= factor.value <= 4 and factor.value == expected
    assert ("outside ENISA's range" in factor.explanation) is clamped


def test_adjustment_beyond_three_steps_is_an_error():
    with pytest.raises(ValueError, match="between -3 and \\+3"):
        enisa.dpc(["user.name"], 4)


def test_unknown_category_is_named():
    with pytest.raises(ValueError, match="user.not_a_thing"):
        enisa.dpc(["user.name", "user.not_a_thing"])


@pytest.mark.parametrize("level, value", [
    (Identifiability.negligible, "0.25"), (Identifiability.limited, "0.5"),
    (Identifiability.significant, "0.75"), (Identifiability.maximum, "1"),
])
def test_ei_values(level, value):
    factor = enisa.ei(level)
    assert factor.value == D(value)
    assert level.value in factor.explanation


@pytest.mark.parametrize("conf, integ, avail, malicious, total", [
    (C.none, I.none, A.none, False, "0"),
    (C.exposed_no_evidence, I.none, A.none, False, "0"),
    (C.known_recipients, I.none, A.none, False, "0.25"),
    (C.unknown_recipients, I.none, A.none, False, "0.5"),
    (C.none, I.recovered_before_use, A.none, False, "0"),
    (C.none, I.misused_recoverable, A.none, False, "0.25"),
    (C.none, I.misused_unrecoverable, A.none, False, "0.5"),
    (C.none, I.none, A.recoverable, False, "0"),
    (C.none, I.none, A.temporary, False, "0.25"),
    (C.none, I.none, A.full_no_backup, False, "0.5"),
    (C.none, I.none, A.none, True, "0.5"),
    (C.unknown_recipients, I.misused_unrecoverable, A.full_no_backup, True, "2"),
    (C.known_recipients, I.misused_recoverable, A.temporary, False, "0.75"),
])
def test_cb_sums_the_graded_circumstances(conf, integ, avail, malicious, total):
    # Not "+0.25 per C/I/A flat": each grade has its own value (REGULATORY.md §3).
    assert enisa.cb(conf, integ, avail, malicious).value == D(total)


def test_every_factor_explains_itself():
    s = enisa.severity(["user.financial.credit_card", "user.authorization.password"], 1,
                       Identifiability.maximum, C.unknown_recipients, I.none, A.none, True)
    assert s.score == D("5") and s.band is Band.very_high
    assert set(s.explanations) == {"dpc", "ei", "cb", "se"}
    assert "financial data" in s.explanations["dpc"] and "+1" in s.explanations["dpc"]
    assert "unknown number of recipients" in s.explanations["cb"]
    assert "malicious intent +0.5" in s.explanations["cb"]
    assert "very high" in s.explanations["se"]


def test_fmt_drops_trailing_zeros():
    assert enisa.fmt(D("4.00")) == "4" and enisa.fmt(D("0.50")) == "0.5" and enisa.fmt(D("10")) == "10"
