"""The deadline calculator endpoint: the issue's two worked examples, and bad anchors refused."""

import pytest


@pytest.fixture
def viewer(make_user, token_for):
    return token_for(make_user("viewer"))


def _stages(client, headers, regime, **params):
    response = client.get(f"/api/v1/regimes/{regime}/deadlines", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_gdpr_72_hours_across_the_dst_change(client, viewer):
    body = _stages(client, viewer, "gdpr-art33", anchor="2026-03-28T20:00+01:00", timezone="Europe/Berlin")
    assert body["anchor"] == "2026-03-28T19:00:00Z"
    first = body["stages"][0]
    # 72 real hours; Berlin's clocks jump at 02:00 on 29 March, so the wall time says 21:00, not 20:00.
    assert first["due_at"] == "2026-03-31T19:00:00Z" and first["no_fixed_deadline"] is False


def test_lgpd_three_brazilian_business_days_skip_good_friday(client, viewer):
    body = _stages(client, viewer, "br-lgpd", anchor="2026-04-01T10:00-03:00")
    assert body["timezone"] == "America/Sao_Paulo"
    # Thu 2 Apr = 1; Good Friday 3 Apr and the weekend skipped; Mon 6 = 2; Tue 7 = 3, ending 23:59:59 local.
    assert body["stages"][0]["due_at"] == "2026-04-08T02:59:59Z"


def test_processor_to_controller_has_no_fixed_deadline_without_a_contract(client, viewer):
    body = _stages(client, viewer, "gdpr-art33-2", anchor="2026-03-28T20:00+01:00")
    assert body["stages"][0]["due_at"] is None and body["stages"][0]["no_fixed_deadline"] is True


def test_regimes_list_carries_every_regime_with_citations(client, viewer):
    body = client.get("/api/v1/regimes", headers=viewer).get_json()
    assert body["total"] == 20
    assert all(stage["source"] for regime in body["items"] for stage in regime["stages"])


@pytest.mark.parametrize("anchor", ["2026-03-28T20:00", "yesterday", ""])
def test_naive_or_malformed_anchor_is_a_422_problem(client, viewer, anchor):
    response = client.get("/api/v1/regimes/gdpr-art33/deadlines", query_string={"anchor": anchor}, headers=viewer)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "anchor"


def test_unknown_regime_and_time_zone(client, viewer):
    assert client.get("/api/v1/regimes/nope/deadlines?anchor=2026-01-01T00:00Z", headers=viewer).status_code == 404
    bad_tz = client.get("/api/v1/regimes/gdpr-art33/deadlines?anchor=2026-01-01T00:00Z&timezone=Mars/Olympus",
                        headers=viewer)
    assert bad_tz.status_code == 422 and bad_tz.get_json()["errors"][0]["field"] == "timezone"
