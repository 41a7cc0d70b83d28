"""JSON and CSV timeline exports: the schema, offline verification, tamper detection, Timesketch columns, time zones."""

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from export_support import customers, declare, import_map, lead_headers  # noqa: F401  (fixture)

SCHEMA = Path(__file__).resolve().parents[2] / "app" / "timeline" / "schemas" / "timeline-export.v1.json"


@pytest.fixture
def incident(app, client, runner, tmp_path, lead_headers):  # noqa: F811
    import_map(runner, tmp_path, customers(4))
    ref = declare(client, lead_headers)
    client.post(f"/api/v1/incidents/{ref}/timeline", headers=lead_headers,
                json={"summary": "=HYPERLINK(\"http://evil.example\",\"click\") pasted from a ticket",
                      "occurred_at": "2026-03-01T12:30:00+01:00"})
    client.post(f"/api/v1/incidents/{ref}/timeline", headers=lead_headers,
                json={"summary": "@SUM(A1:A9) and +1-2 in one note — non-ASCII kept: Zürich"})
    return ref


def _export(client, headers, ref, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/api/v1/incidents/{ref}/timeline?{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_json_export_matches_its_schema_and_verifies_offline(client, runner, incident, lead_headers, tmp_path):
    response = _export(client, lead_headers, incident, format="json")
    assert response.mimetype == "application/json" and "attachment" in response.headers["Content-Disposition"]
    document = json.loads(response.get_data(as_text=True))
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["chain"]["complete"] is True and document["scope"]["kind"] == "incident"
    events = document["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["hash"] == document["chain"]["head_hash"] and document["chain"]["head_seq"] == len(events)
    assert document["summary"]["verification"]["ok"] is True and document["summary"]["redactions"]["total"] == 0
    # Everything to recompute the hash is in the event itself: the hashed fields, in the stated order.
    assert set(document["chain"]["hashed_fields"]) <= set(events[0])
    path = tmp_path / "export.json"
    path.write_bytes(response.data)
    result = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert f"chain intact, {len(events)} events, head {document['chain']['head_hash']}" in result.output


def _flip_one_byte(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle) + len(needle) - 1  # the needle's last byte: the JSON stays well-formed
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


@pytest.mark.parametrize("needle", [b"declared", b"Z\xc3\xbcrich", b'"prev_hash":"0000', b'"seq":3'])
def test_a_one_byte_change_is_detected(client, runner, incident, lead_headers, tmp_path, needle):
    data = _export(client, lead_headers, incident, format="json").data
    path = tmp_path / "tampered.json"
    path.write_bytes(_flip_one_byte(data, needle))
    result = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert result.exit_code == 1, result.output
    assert "BROKEN at event" in result.output


def test_dropping_the_last_events_is_detected(client, runner, incident, lead_headers, tmp_path):
    document = json.loads(_export(client, lead_headers, incident, format="json").data)
    document["events"] = document["events"][:-2]
    path = tmp_path / "truncated.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["timeline", "verify", "--file", str(path)])
    assert result.exit_code == 1 and "says it is complete" in result.output


def test_csv_has_timesketch_columns_and_neutralises_formulas(client, incident, lead_headers):
    response = _export(client, lead_headers, incident, format="csv", tz="America/New_York")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    header = list(rows[0])
    assert header[:4] == ["message", "datetime", "timestamp", "timestamp_desc"]
    assert {"seq", "kind", "actor", "recorded_at", "hash", "prev_hash", "controller"} <= set(header)
    events = [r for r in rows if r["kind"] != "export.summary"]
    assert all(r["datetime"].endswith(("-05:00", "-04:00")) for r in events), [r["datetime"] for r in events]
    note = next(r for r in events if "HYPERLINK" in r["message"])
    assert note["message"].startswith("'=HYPERLINK")
    # 12:30 +01:00 is 06:30 in New York (EST, -05:00); Timesketch's timestamp is microseconds since the epoch.
    assert note["datetime"] == "2026-03-01T06:30:00-05:00" and note["timestamp"] == "1772364600000000"
    second = next(r for r in events if "SUM" in r["message"])
    assert second["message"].startswith("'@SUM") and "Zürich" in second["message"]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    summary = rows[-1]
    assert summary["kind"] == "export.summary" and "chain intact" in summary["message"]


def test_formula_neutralising_covers_every_starter():
    from app.exports.csv_export import neutralise

    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(start + "1+1") == "'" + start + "1+1"
    assert neutralise("plain") == "plain" and neutralise(None) == "" and neutralise(42) == "42"


def test_json_local_times_carry_the_offset(client, incident, lead_headers):
    document = json.loads(_export(client, lead_headers, incident, format="json", tz="Asia/Tokyo").data)
    assert document["time_zone"] == "Asia/Tokyo"
    aware = next(e for e in document["events"] if e["kind"] == "incident.aware")
    assert aware["occurred_at"] == "2026-03-01T10:00:00Z"
    assert aware["occurred_at_local"] == "2026-03-01T19:00:00+09:00"


def test_bad_options_are_named(client, incident, lead_headers):
    bad = client.get(f"/api/v1/incidents/{incident}/timeline?format=xml&tz=Mars/Base", headers=lead_headers)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert {e["field"] for e in bad.get_json()["errors"]} == {"format", "tz"}
    # Without ?format the endpoint answers as before (the plain JSON document).
    plain = client.get(f"/api/v1/incidents/{incident}/timeline", headers=lead_headers).get_json()
    assert plain["verified"] is True and plain["items"]


def test_web_export_route_and_panel(client, incident, make_user, login):
    login(make_user("viewer", email="viewer@example.org"))
    page = client.get(f"/incidents/{incident}").get_data(as_text=True)
    assert 'id="export"' in page and f"/incidents/{incident}/export?format=pdf" in page
    response = client.get(f"/incidents/{incident}/export?format=json&tz=Europe/Berlin")
    assert response.status_code == 200 and json.loads(response.data)["time_zone"] == "Europe/Berlin"
    assert client.get(f"/incidents/{incident}/export?format=csv").status_code == 200
    assert client.get("/incidents/INC-2099-9999/export?format=csv").status_code == 404
