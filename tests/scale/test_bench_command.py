"""`breachline bench` runs end to end on a small map and writes the JSON the issue specifies."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from app.bench import bench_command

KEYS = {"id", "title", "value", "baseline", "ratio", "goal", "met", "unit", "peak_rss_mb"}


@pytest.mark.slow
def test_bench_small_writes_the_table_and_the_json(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(bench_command, ["--scale", "small", "--only", "b,h", "--json", str(out),
                                                "--database-url", f"sqlite:///{tmp_path / 'bench.db'}"])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["scale"] == "small" and document["database"] == "sqlite"
    assert [r["id"] for r in document["results"]] == ["b", "h"]
    for row in document["results"]:
        assert set(row) == KEYS
        assert row["value"] > 0 and row["baseline"] > 0 and row["ratio"] == pytest.approx(
            row["value"] / row["baseline"], rel=0.05, abs=1.0)
    assert "ratio" in result.output and "h not met" in result.output or document["results"][1]["met"]


def test_bench_refuses_unknown_items():
    result = CliRunner().invoke(bench_command, ["--only", "a,z"])
    assert result.exit_code != 0 and "unknown item(s) z" in result.output
