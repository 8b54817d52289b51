"""Conventions users know from the sf CLI: --version, -h, short flags, --records read one way everywhere,
the baselines extra named when missing, and `limits` saying when it reads the embedded emulator."""

from __future__ import annotations

import importlib.util
import json
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from harness import options
from harness.cli import app
from harness.commands import compare as compare_cmd

runner = CliRunner()


def test_version_and_short_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith(f"sfharness {version('sf-update-harness')}")
    for args in (["-h"], ["update", "-h"], ["compare", "-h"], ["limits", "-h"]):
        shown = runner.invoke(app, args)
        assert shown.exit_code == 0 and "Usage:" in shown.stdout
    update_help = runner.invoke(app, ["update", "-h"]).stdout
    assert all(flag in update_help for flag in ("-o", "-s", "-f", "--async", "--column-delimiter", "--line-ending"))


@pytest.mark.parametrize(
    ("text", "several", "single"),
    [
        ("250000", [250000], 250000),
        ("250,000", [250000], 250000),
        ("250_000", [250000], 250000),
        ("1,250,000", [1250000], 1250000),
        ("2,500", [2, 500], 2500),  # a list where commas separate counts; one number where one is expected
        ("100,2000,10000", [100, 2000, 10000], None),
        ("1,000 20,000", [1000, 20000], None),
        ("1000;20000", [1000, 20000], None),
    ],
)
def test_records_are_read_one_way(text, several, single):
    assert options.positive_ints(text, "--records") == several
    if single is not None:
        assert options.positive_int(text, "--records") == single


def test_plan_and_compare_read_thousands_separators_alike(monkeypatch):
    plan = json.loads(runner.invoke(app, ["plan", "--records", "250,000", "--json"]).stdout)
    assert plan["result"]["records"] == 250000
    bad = runner.invoke(app, ["compare", "--records", "ten", "--json"])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["name"] == "BadInput"


def test_baselines_without_their_libraries_name_the_extra(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        compare_cmd.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("simple_salesforce", "salesforce_bulk") else real(name, *a),
    )
    result = runner.invoke(app, ["compare", "--baselines", "--records", "10", "--reports-dir", str(tmp_path), "--json"])
    assert result.exit_code == 2
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "MissingLibrary" and ".[baselines]" in envelope["hint"]
    assert "salesforce-bulk and simple-salesforce" in envelope["message"]
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written


def test_limits_without_org_options_says_it_reads_the_emulator(monkeypatch):
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(app, ["limits"])
    assert result.exit_code == 0 and "reading the embedded emulator" in result.output
    as_json = json.loads(runner.invoke(app, ["limits", "--json"]).stdout)
    assert any("embedded emulator" in w for w in as_json["warnings"]) and as_json["result"]["org"]["kind"] == "emulator"


def test_target_org_short_flag_reaches_the_sf_cli(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no sf CLI on this machine's PATH
    result = runner.invoke(app, ["limits", "-o", "my-sandbox", "--json"])
    assert result.exit_code == 4
    envelope = json.loads(result.stdout)
    assert envelope["name"] == "SfCliFailed" and "sf CLI is not installed" in envelope["message"]
