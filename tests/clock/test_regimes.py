"""Regime files: every shipped file loads, malformed files fail with file, line and field; applies()."""

import re
from datetime import datetime
from pathlib import Path

import pytest

from app.clock.deadlines import DeadlineKind, compute_due, earliest
from app.clock.regimes import (
    AppliesWhen,
    Facts,
    applicable_stages,
    applies,
    load_regime_file,
    load_regimes,
)
from app.core.errors import InputError

REGIME_DIR = Path(__file__).resolve().parents[2] / "playbooks" / "regimes"
EXPECTED_IDS = {
    "gdpr-art33-2", "gdpr-art33", "gdpr-art34", "uk-gdpr", "nis2-art23", "dora-art19", "hipaa-ba",
    "hipaa-ce", "nydfs-500-17", "sec-8k-1-05", "ca-1798-82", "br-lgpd", "ca-pipeda", "au-ndb", "sg-pdpa",
    "in-dpdp", "ch-fadp", "cn-pipl", "jp-appi", "eu-cra-art14",
}
# Rows of REGULATORY.md §4 marked ?, S? or S/?.
UNVERIFIED = {"hipaa-ba", "hipaa-ce", "sec-8k-1-05", "ca-pipeda", "au-ndb", "in-dpdp", "ch-fadp", "cn-pipl",
              "jp-appi", "eu-cra-art14"}


@pytest.fixture(scope="module")
def regimes():
    return load_regimes(REGIME_DIR)


def test_every_shipped_regime_loads_with_the_expected_ids(regimes):
    assert set(regimes) == EXPECTED_IDS
    assert {p.stem for p in REGIME_DIR.glob("*.yaml")} == EXPECTED_IDS


def test_unverified_rows_are_flagged(regimes):
    assert {rid for rid, r in regimes.items() if not r.verified} == UNVERIFIED


def test_every_stage_cites_its_source_and_every_regime_has_sources(regimes):
    for regime in regimes.values():
        assert regime.sources
        for stage in regime.stages:
            assert stage.source.strip(), f"{regime.id}/{stage.id}"
            if stage.backstop:
                assert stage.backstop.source.strip()


def test_stage_defaults_come_from_the_regime(regimes):
    stage = regimes["uk-gdpr"].stage("notify-ico")
    assert (stage.notifier, stage.recipient, stage.per_recipient) == ("controller", "supervisory_authority",
                                                                      "incident")
    stage = regimes["uk-gdpr"].stage("processor-to-controller")
    assert (stage.notifier, stage.recipient, stage.per_recipient) == ("processor", "controller", "controller")


def test_key_legal_numbers(regimes):
    assert regimes["gdpr-art33"].stage("notify-sa").deadline.hours == 72
    assert regimes["gdpr-art33-2"].stages[0].deadline.kind is DeadlineKind.CONTRACT
    assert regimes["gdpr-art34"].stages[0].deadline.kind is DeadlineKind.NO_FIXED_DEADLINE
    lgpd = regimes["br-lgpd"].stage("notify-anpd").deadline
    assert (lgpd.business_days, lgpd.holiday_country) == (3, "BR")
    sec = regimes["sec-8k-1-05"].stage("file-8k").deadline
    assert (sec.business_days, sec.holiday_country) == (4, "US")
    nis2 = regimes["nis2-art23"]
    assert [s.deadline.hours for s in nis2.stages[:2]] == [24, 72]
    assert nis2.stage("final-report").deadline.months == 1


def test_no_fixed_deadline_rows_never_carry_a_legal_number(regimes):
    # Rows whose law says only "without undue delay / immediately / as soon as ..." (REGULATORY.md §4).
    for rid in ("gdpr-art34", "ca-pipeda", "ch-fadp", "cn-pipl"):
        for stage in regimes[rid].stages:
            assert stage.deadline.kind is DeadlineKind.NO_FIXED_DEADLINE, f"{rid}/{stage.id}"
            assert stage.deadline.internal_target_hours


def test_dora_backstop_wins_when_classification_is_late(regimes):
    stage = regimes["dora-art19"].stage("initial-notification")
    aware, classified = datetime.fromisoformat("2026-06-01T08:00:00+00:00"), \
        datetime.fromisoformat("2026-06-02T06:00:00+00:00")
    due = earliest(compute_due(classified, stage.deadline), compute_due(aware, stage.backstop.deadline))
    assert due == datetime.fromisoformat("2026-06-02T08:00:00+00:00")


GOOD = """\
id: {id}
title: Test regime
verified: true
jurisdiction: EU
notifier: controller
recipient: supervisory_authority
per_recipient: incident
stages:
  - id: notify
    title: Notify someone
    anchor: aware_at
    deadline: {{hours: 72}}
    source: Test Art. 1
sources:
  - citation: Test Act
"""


def write(tmp_path, text, name="test-regime"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path) -> InputError:
    with pytest.raises(InputError) as info:
        load_regime_file(path)
    return info.value


def test_a_good_test_file_loads(tmp_path):
    assert load_regime_file(write(tmp_path, GOOD.format(id="test-regime"))).id == "test-regime"


@pytest.mark.parametrize("old, new, line, field, message", [
    ("    source: Test Art. 1\n", "    source: Test Art. 1\n    colour: red\n", 14, "stages[0].colour",
     "Extra inputs"),
    ("{hours: 72}", "{hours: seventy-two}", 12, "stages[0].deadline.hours", "valid integer"),
    ("{hours: 72}", "{weeks: 2}", 12, "stages[0].deadline.weeks", "Extra inputs"),
    ("{hours: 72}", "{hours: 72, months: 1}", 12, "stages[0].deadline", "exactly one"),
    ("verified: true", "verified: maybe", 3, "verified", "valid boolean"),
    ("anchor: aware_at", "anchor: lunch_at", 11, "stages[0].anchor", "unknown anchor"),
    ("anchor: aware_at", "anchor: stage:notify", 11, "stages[0].anchor", "earlier stage"),
    ("id: test-regime", "id: other-regime", 1, "id", "file name"),
])
def test_malformed_file_names_file_line_and_field(tmp_path, old, new, line, field, message):
    path = write(tmp_path, GOOD.format(id="test-regime").replace(old, new))
    error = load_error(path)
    problem = error.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), line, field)
    assert message in problem.message
    assert f"{path}:{line}: {field}:" in str(error)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, GOOD.format(id="test-regime").replace("deadline: {hours: 72}", "deadline: {hours: 72"))
    error = load_error(path)
    assert error.problems[0].file == str(path)
    assert error.problems[0].line and error.problems[0].line >= 12
    assert re.search(rf"{re.escape(str(path))}:\d+: malformed YAML", str(error))


def test_load_regimes_reports_every_bad_file(tmp_path):
    write(tmp_path, GOOD.format(id="good"), name="good")
    write(tmp_path, GOOD.format(id="bad-one").replace("notifier: controller", "notifier: someone"), name="bad-one")
    write(tmp_path, GOOD.format(id="bad-two").replace("EU", "Europe"), name="bad-two")
    with pytest.raises(InputError) as info:
        load_regimes(tmp_path)
    assert [(Path(p.file).name, p.field) for p in info.value.problems] == [
        ("bad-one.yaml", "notifier"), ("bad-two.yaml", "jurisdiction")]
    with pytest.raises(InputError, match="does not exist"):
        load_regimes(tmp_path / "missing")


PROCESSOR_EU = Facts(our_roles={"processor"}, jurisdictions={"EU"}, personal_data=True, subjects=1200)


def test_applies_processor_for_an_eu_customer(regimes):
    assert applies(regimes["gdpr-art33-2"], PROCESSOR_EU)
    assert not applies(regimes["gdpr-art34"], PROCESSOR_EU)
    assert [s.id for s in applicable_stages(regimes["gdpr-art33"], PROCESSOR_EU)] == ["customer-notify-sa"]
    assert not applies(regimes["uk-gdpr"], PROCESSOR_EU)
    # A security incident without personal data is not a GDPR breach.
    assert not applies(regimes["gdpr-art33-2"], Facts(our_roles={"processor"}, jurisdictions={"EU"}))


def test_applies_high_risk_needs_a_decision(regimes):
    own = Facts(our_roles={"controller"}, jurisdictions={"EU"}, personal_data=True)
    assert not applies(regimes["gdpr-art34"], own)
    assert applies(regimes["gdpr-art34"], Facts(our_roles={"controller"}, jurisdictions={"EU"},
                                                personal_data=True, high_risk=True))
    assert not applies(regimes["gdpr-art34"], Facts(our_roles={"controller"}, jurisdictions={"EU"},
                                                    personal_data=True, high_risk=False))


def test_applies_company_and_incident_flags(regimes):
    dora = regimes["dora-art19"]
    customer_bank = Facts(our_roles={"processor"}, sectors={"financial"}, incident_flags={"major_incident"})
    assert [s.id for s in applicable_stages(dora, customer_bank)] == ["assist-financial-entity"]
    ourselves = Facts(company_flags={"dora_financial_entity"}, incident_flags={"major_incident"})
    assert [s.id for s in applicable_stages(dora, ourselves)] == [
        "initial-notification", "intermediate-report", "final-report"]
    jp = regimes["jp-appi"]
    facts = Facts(our_roles={"controller"}, jurisdictions={"JP"}, personal_data=True)
    assert [s.id for s in applicable_stages(jp, facts)] == ["preliminary-report", "final-report"]
    wrongful = Facts(our_roles={"controller"}, jurisdictions={"JP"}, personal_data=True,
                     incident_flags={"wrongful_purpose"})
    assert [s.id for s in applicable_stages(jp, wrongful)] == ["preliminary-report", "final-report-wrongful-purpose"]


def test_applies_subject_thresholds_and_subdivisions():
    cond = AppliesWhen(controller_jurisdictions_any=["US"], min_subjects=500)
    assert applies(cond, Facts(jurisdictions={"US-CA"}, subjects=500))
    assert not applies(cond, Facts(jurisdictions={"US-CA"}, subjects=499))
    assert not applies(cond, Facts(jurisdictions={"USA"}, subjects=900))
    assert not applies(AppliesWhen(controller_jurisdictions_any=["US-CA"]), Facts(jurisdictions={"US"}))
    assert applies(AppliesWhen(max_subjects=499, special_categories=True),
                   Facts(subjects=10, special_categories=True))
    assert applies(None, Facts())
    assert applies(AppliesWhen(), Facts())
