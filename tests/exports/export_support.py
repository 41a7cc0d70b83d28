"""Shared setup for export tests: a map of many customers with distinctive names, keys and counts."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

ANIMALS = ["Quokka", "Narwhal", "Axolotl", "Pangolin", "Okapi", "Capybara", "Fennec", "Ibex", "Jerboa", "Kinkajou",
           "Lemur", "Margay", "Numbat", "Ocelot", "Pika", "Quetzal", "Serval", "Tapir", "Uakari", "Vicuna",
           "Wombat", "Xerus", "Yak", "Zorilla", "Aardwolf", "Bongo", "Caracal", "Dugong", "Echidna", "Gharial",
           "Hoatzin", "Ibis"]
COLOURS = ["Amber", "Cobalt", "Crimson", "Jade", "Saffron", "Teal", "Umber", "Violet"]


def customers(n: int = 32) -> list[dict]:
    """n customers whose names, keys and counts appear nowhere else."""
    return [{"key": f"{ANIMALS[i].lower()}-{COLOURS[i % len(COLOURS)].lower()}-{i:02d}",
             "name": f"{ANIMALS[i]} {COLOURS[i % len(COLOURS)]} Holdings {i:02d}",
             "subjects": 7_300_000 + i * 10_007, "records": 8_100_000 + i * 20_011,
             "email": f"privacy@{ANIMALS[i].lower()}-{i:02d}.example"} for i in range(n)]


def map_yaml(items: list[dict]) -> str:
    """The canonical YAML data map: every customer on one shared system, as our processor customers."""
    lines = ["controllers:"]
    for c in items:
        lines += [f"  - key: {c['key']}", f"    name: {c['name']}", "    country: DE", "    jurisdictions: [EU]",
                  "    timezone: Europe/Berlin", "    contract: {notify_within_hours: 24}",
                  f"    channels: {{email: [{c['email']}]}}"]
    lines += ["systems:", "  - {key: shared-db, name: Shared database, region: eu-central-1}", "processing:"]
    for i, c in enumerate(items):
        categories = "[user.contact.email, user.name]" if i % 2 else "[user.contact.email, user.financial.bank_account]"
        lines += [f"  - controller: {c['key']}", "    system: shared-db", "    role: processor",
                  f"    data_categories: {categories}", "    subject_categories: [customer]",
                  f"    est_subjects: {c['subjects']}", f"    est_records: {c['records']}"]
    return "\n".join(lines) + "\n"


def import_map(runner, tmp_path, items: list[dict]) -> None:
    """Import the map through the CLI."""
    path = tmp_path / "many.yaml"
    path.write_text(map_yaml(items))
    result = runner.invoke(args=["datamap", "import", str(path)])
    assert result.exit_code == 0, result.output


INCIDENT = {"title": "Shared database exposed", "incident_type": "web-app-exfiltration",
            "detected_at": "2026-03-01T08:00:00+00:00", "aware_at": "2026-03-01T10:00:00+00:00",
            "breach_types": ["confidentiality"], "scope": {"systems": ["shared-db"]}}


def declare(client, headers, **overrides) -> str:
    """Declare an incident through the API; returns its reference."""
    response = client.post("/api/v1/incidents", json={**INCIDENT, **overrides}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ref"]


def settle_customer(app, ref: str, key: str, *, hours_after_aware: float, delay_reasons: str = "",
                    notify: bool = True, ack: bool = True) -> str | None:
    """Mark the customer's Art. 33(2) obligation met, with a delivered notice and its acknowledgement; returns the ack token."""
    from sqlmodel import select

    from app.clock.models import Obligation
    from app.clock.settle import mark_met
    from app.db import session_scope
    from app.incidents.models import Incident
    from app.notifications.acks import ack_token
    from app.notifications.models import Acknowledgement, Channel, Notification, NotificationStatus, OutboxItem
    from app.timeline import service as timeline

    with app.app_context(), session_scope() as s:
        incident = s.exec(select(Incident).where(Incident.ref == ref)).one()
        ob = s.exec(select(Obligation).where(Obligation.incident_id == incident.id, Obligation.recipient_key == key,
                                             Obligation.recipient_kind == "controller",
                                             Obligation.informational.is_(False))).first()
        met_at = incident.aware_at + timedelta(hours=hours_after_aware)
        mark_met(session=s, obligation=ob, met_at=met_at, actor="lead@example.org", delay_reasons=delay_reasons)
        timeline.append(session=s, incident_id=incident.id, kind="obligation.met", actor="lead@example.org",
                        summary=f"{ob.title}: met", recorded_at=met_at, controller_id=ob.controller_id)
        if not notify:
            return None
        uid = f"n-{key}"
        n = Notification(uid=uid, incident_id=incident.id, obligation_id=ob.id, controller_id=ob.controller_id,
                         recipient_key=key, kind="processor_to_controller", phase="initial",
                         status=NotificationStatus.delivered, subject="Breach notice", text="...",
                         issued_at=met_at, drafted_by="responder@example.org", drafted_at=met_at, updated_at=met_at,
                         approved_by="lead@example.org", approved_at=met_at, queued_at=met_at, delivered_at=met_at,
                         reasons_for_delay=delay_reasons)
        s.add(n)
        s.flush()
        s.add(OutboxItem(notification_id=n.id, channel=Channel.email, addresses=["x@example.org"], status="delivered",
                         next_attempt_at=met_at, give_up_at=met_at + timedelta(hours=24), created_at=met_at,
                         done_at=met_at))
        if ack:
            s.add(Acknowledgement(notification_id=n.id, controller_id=ob.controller_id,
                                  acknowledged_at=met_at + timedelta(hours=1), contact_name="Dana Privacy",
                                  contact="dana@customer.example"))
        return ack_token(secret_key="test-secret", uid=uid, signed_at=met_at)


def pdf_text(path) -> str:
    """The text of a PDF (poppler's pdftotext)."""
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def page_ink(pdf_path, tmp_path, page: int = 1) -> tuple[int, int]:
    """(non-white pixels, all pixels) of one page rendered by pdftoppm at 50 dpi."""
    prefix = tmp_path / f"page{page}"
    subprocess.run(["pdftoppm", "-r", "50", "-f", str(page), "-l", str(page), "-gray", str(pdf_path), str(prefix)],
                   check=True)
    image = next(tmp_path.glob(f"page{page}*.pgm"))
    data = image.read_bytes()
    # Binary PGM: "P5\n<w> <h>\n<max>\n" then one byte per pixel.
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5", parts[0]
    width, height = int(parts[1]), int(parts[2])
    pixels = parts[4][-width * height:]
    return sum(1 for b in pixels if b < 200), width * height


@pytest.fixture
def lead_headers(make_user, token_for):
    """An API token of a lead."""
    return token_for(make_user("lead"))
