"""Importing and exporting the data map through the CLI: formats, idempotence, versions, round trips."""

import json
from pathlib import Path

import yaml

from mapdata import SMALL_MAP

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _versions(client, headers):
    return client.get("/api/v1/datamap/versions", headers=headers).get_json()


def test_import_canonical_yaml_creates_a_version_and_is_idempotent(runner, tmp_path, count_rows):
    path = _write(tmp_path, "map.yaml", SMALL_MAP)
    first = runner.invoke(args=["datamap", "import", path])
    assert first.exit_code == 0, first.output
    assert "3 controllers, 2 systems, 3 processing records" in first.output
    assert "new data-map version 1" in first.output
    assert count_rows("processing_record") == 3
    assert count_rows("processing_data_category") == 5
    second = runner.invoke(args=["datamap", "import", path])
    assert second.exit_code == 0
    assert "unchanged" in second.output
    assert count_rows("datamap_version") == 1
    assert count_rows("processing_record") == 3


def test_changed_map_gets_a_new_version_and_drops_removed_records(runner, tmp_path, count_rows):
    runner.invoke(args=["datamap", "import", _write(tmp_path, "map.yaml", SMALL_MAP)])
    changed = SMALL_MAP.replace("est_subjects: 12000", "est_subjects: 13000")
    # brightbank now only in billing as sub-processor: its processor record must go away.
    changed = changed.replace("    system: billing\n    role: processor", "    system: billing\n    role: sub-processor")
    result = runner.invoke(args=["datamap", "import", _write(tmp_path, "map2.yaml", changed)])
    assert result.exit_code == 0, result.output
    assert "new data-map version 2" in result.output
    assert count_rows("processing_record") == 3
    assert count_rows("datamap_version") == 2


def test_yaml_export_then_import_gives_the_same_map_and_hash(runner, app, tmp_path):
    runner.invoke(args=["datamap", "import", _write(tmp_path, "map.yaml", SMALL_MAP)])
    out = tmp_path / "export.yaml"
    assert runner.invoke(args=["datamap", "export", "--format", "yaml", "-o", str(out)]).exit_code == 0
    exported = yaml.safe_load(out.read_text())
    assert [c["key"] for c in exported["controllers"]] == ["acme-health", "brightbank", "northwind"]
    assert "secret" not in out.read_text(), "webhook secrets are credentials, not map content"
    again = runner.invoke(args=["datamap", "import", str(out)])
    assert "unchanged" in again.output, again.output


def test_csv_export_imports_into_an_empty_database_with_the_same_hash(runner, app, tmp_path, database_url):
    from app import create_app

    runner.invoke(args=["datamap", "import", _write(tmp_path, "map.yaml", SMALL_MAP)])
    csv_path = tmp_path / "export.csv"
    assert runner.invoke(args=["datamap", "export", "--format", "csv", "-o", str(csv_path)]).exit_code == 0
    yaml_path = tmp_path / "export.yaml"
    runner.invoke(args=["datamap", "export", "-o", str(yaml_path)])
    header = csv_path.read_text().splitlines()[0]
    assert header.startswith("controller,controller_name,country,jurisdictions")
    # Re-import the CSV into the same database: nothing differs, so no new version.
    result = runner.invoke(args=["datamap", "import", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output


def test_json_export_is_accepted_as_input(runner, tmp_path):
    runner.invoke(args=["datamap", "import", _write(tmp_path, "map.yaml", SMALL_MAP)])
    out = tmp_path / "map.json"
    runner.invoke(args=["datamap", "export", "--format", "json", "-o", str(out)])
    assert json.loads(out.read_text())["systems"][0]["key"] == "billing"
    assert "unchanged" in runner.invoke(args=["datamap", "import", str(out)]).output


def test_fides_manifest_with_assignments(runner, tmp_path, count_rows):
    manifest = _write(tmp_path, "systems.yml", """\
system:
  - fides_key: crm
    name: CRM
    description: Customer relationship management
    privacy_declarations:
      - name: Account management
        data_categories: [user.contact.email, user.name]
        data_subjects: [customer]
        data_use: essential.service
      - name: Support
        data_categories: [user.contact.phone_number]
        data_subjects: [customer]
        data_use: essential.service
""")
    assignments = _write(tmp_path, "assignments.csv",
                         "controller,controller_name,country,jurisdictions,sector,locale,timezone,system,role,"
                         "est_subjects,est_records,region\n"
                         "shopco,Shop Co,FR,EU,retail,fr,Europe/Paris,crm,processor,100,250,eu-west-3\n")
    result = runner.invoke(args=["datamap", "import", manifest, "--assignments", assignments])
    assert result.exit_code == 0, result.output
    assert count_rows("processing_data_category") == 3
    assert count_rows("system") == 1


def test_shipped_examples_import(runner):
    for args in (["datamap", "import", str(EXAMPLES / "datamap-small.yaml")],
                 ["datamap", "import", str(EXAMPLES / "datamap.csv")],
                 ["datamap", "import", str(EXAMPLES / "fides" / "systems.yml"), "--assignments",
                  str(EXAMPLES / "fides" / "assignments.csv")]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
