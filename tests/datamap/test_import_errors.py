"""Bad data-map input exits non-zero, names file, line and field, and writes nothing."""

import pytest

from mapdata import SMALL_MAP

TABLES = ["controller", "system", "processing_record", "contact", "controller_jurisdiction", "datamap_version"]


def _snapshot(count_rows):
    return {t: count_rows(t) for t in TABLES}


CASES = [
    # (name, file name, text, expected fragments of the message)
    ("unknown taxonomy key", "map.yaml",
     SMALL_MAP.replace("[user.health_and_medical, user.contact.email]", "[user.health_and_medical, user.contact.emial]"),
     ["map.yaml:35", "processing[0].data_categories[1]", "unknown taxonomy key 'user.contact.emial'"]),
    ("unknown subject key", "map.yaml", SMALL_MAP.replace("[patient]", "[patients]"),
     ["map.yaml:36", "processing[0].subject_categories[0]", "'patients'"]),
    ("unknown controller", "map.yaml", SMALL_MAP.replace("  - controller: brightbank", "  - controller: brightbnk"),
     ["map.yaml:39", "processing[1].controller", "unknown controller 'brightbnk'"]),
    ("unknown system", "map.yaml", SMALL_MAP.replace("system: patient-portal\n", "system: patient-portl\n"),
     ["map.yaml:33", "processing[0].system", "unknown system 'patient-portl'"]),
    ("missing field", "map.yaml", SMALL_MAP.replace("    name: Bright Bank Ltd\n", ""),
     ["map.yaml:15", "controllers[1].name", "Field required"]),
    ("wrong type", "map.yaml", SMALL_MAP.replace("est_subjects: 5000", "est_subjects: lots"),
     ["map.yaml:44", "processing[1].est_subjects", "valid integer"]),
    ("duplicate key", "map.yaml", SMALL_MAP.replace("key: brightbank", "key: acme-health"),
     ["map.yaml:15", "controllers[1].key", "duplicate key 'acme-health'"]),
    ("duplicate mapping key", "map.yaml", SMALL_MAP.replace("    sector: financial\n", "    sector: financial\n    sector: bank\n"),
     ["map.yaml:20", "controllers[1].sector", "duplicate key 'sector'"]),
    ("malformed YAML", "map.yaml", SMALL_MAP.replace("jurisdictions: [UK]", "jurisdictions: [UK"),
     ["map.yaml:", "malformed YAML"]),
    ("bad contract", "map.yaml", SMALL_MAP.replace("contract: {notify_within_business_days: 2, holiday_country: GB}",
                                                   "contract: {notify_within_business_days: 2}"),
     ["map.yaml:20", "controllers[1].contract", "holiday_country"]),
    ("bad time zone", "map.yaml", SMALL_MAP.replace("Europe/Berlin", "Europe/Berln"),
     ["map.yaml:8", "controllers[0].timezone", "not an IANA time zone"]),
    ("unknown field", "map.yaml", SMALL_MAP.replace("    sector: saas\n", "    sector: saas\n    colour: blue\n"),
     ["map.yaml:28", "controllers[2].colour", "Extra inputs are not permitted"]),
    ("unknown file type", "map.txt", SMALL_MAP, ["map.txt", "unknown file type"]),
]

CSV_HEADER = ("controller,controller_name,country,jurisdictions,sector,locale,timezone,system,system_name,role,"
              "data_categories,subject_categories,est_subjects,est_records\n")
CSV_CASES = [
    ("csv unknown key", CSV_HEADER + "c1,C One,DE,EU,retail,de,Europe/Berlin,s1,S1,processor,user.contact.email,customer,1,1\n"
     "c1,C One,DE,EU,retail,de,Europe/Berlin,s1,S1,controller,user.nope,customer,1,1\n",
     ["map.csv:3", "processing[1].data_categories[0]", "unknown taxonomy key 'user.nope'"]),
    ("csv wrong type", CSV_HEADER + "c1,C One,DE,EU,retail,de,Europe/Berlin,s1,S1,processor,user.contact.email,customer,many,1\n",
     ["map.csv:2", "est_subjects", "valid integer"]),
    ("csv missing column", "controller,system,role\nc1,s1,processor\n", ["map.csv:1", "missing column"]),
    ("csv inconsistent controller", CSV_HEADER
     + "c1,C One,DE,EU,retail,de,Europe/Berlin,s1,S1,processor,user.contact.email,customer,1,1\n"
     + "c1,C Uno,DE,EU,retail,de,Europe/Berlin,s2,S2,processor,user.contact.email,customer,1,1\n",
     ["map.csv:3", "name", "differs from line 2"]),
    ("csv ragged row", CSV_HEADER + "c1,C One,DE,EU,retail,de,Europe/Berlin,s1,S1,processor,user.contact.email,customer,1,1,extra\n",
     ["map.csv:2", "more cells than the header"]),
]


@pytest.mark.parametrize("name,filename,text,expected", CASES, ids=[c[0] for c in CASES])
def test_bad_yaml_is_rejected_with_location_and_nothing_written(runner, tmp_path, count_rows, name, filename, text,
                                                                 expected):
    before = _snapshot(count_rows)
    path = tmp_path / filename
    path.write_text(text)
    result = runner.invoke(args=["datamap", "import", str(path)])
    assert result.exit_code == 1
    message = result.output
    assert "nothing was imported" in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert _snapshot(count_rows) == before


@pytest.mark.parametrize("name,text,expected", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_bad_csv_is_rejected_with_row_and_column(runner, tmp_path, count_rows, name, text, expected):
    before = _snapshot(count_rows)
    path = tmp_path / "map.csv"
    path.write_text(text)
    result = runner.invoke(args=["datamap", "import", str(path)])
    assert result.exit_code == 1
    for fragment in expected:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"
    assert _snapshot(count_rows) == before


def test_error_late_in_a_valid_looking_file_rolls_back_earlier_upserts(runner, tmp_path, count_rows):
    """References are checked before writing; a failure during apply rolls back everything too."""
    path = tmp_path / "map.yaml"
    path.write_text(SMALL_MAP)
    runner.invoke(args=["datamap", "import", str(path)])
    before = _snapshot(count_rows)
    bad = SMALL_MAP.replace("name: Acme Health GmbH", "name: Acme Health AG").replace("[customer]\n    est_subjects: 300",
                                                                                     "[nobody]\n    est_subjects: 300")
    path.write_text(bad)
    assert runner.invoke(args=["datamap", "import", str(path)]).exit_code == 1
    assert _snapshot(count_rows) == before
    export = runner.invoke(args=["datamap", "export"]).output
    assert "Acme Health GmbH" in export and "Acme Health AG" not in export


def test_missing_file(runner, tmp_path):
    result = runner.invoke(args=["datamap", "import", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: cannot read file" in result.output
