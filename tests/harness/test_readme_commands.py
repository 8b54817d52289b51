"""Every command line in the README's ```bash blocks runs as written against the embedded emulator.

Lines marked ``# real org`` (they name an org or an sf CLI alias) and ``# long`` (minutes of benchmarks or the
whole test suite) are skipped, as the README says; every other line must be an `sfharness` command, or setup
(venv, activate, pip) chained before one. Volumes are made small (``--records 30``) so the test stays quick;
reports and outcome files go to a temporary folder. The README's exit-code table is checked against
`harness.failures.EXIT_CODES` too.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emulator.profiles import get_profile, save_profile
from harness.cli import app
from harness.failures import EXIT_CODES

README = Path(__file__).resolve().parents[2] / "README.md"
SETUP = ("python3.11 -m venv", ". .venv/bin/activate", "pip install")
SMALL = "30"
ORG_FLAGS = ("--target-org", "-o ", "--instance-url", "--username", "--client-id")


def _command_lines() -> list[tuple[str, str | None]]:
    """(command, marker) for every command line of every ```bash block."""
    lines: list[tuple[str, str | None]] = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for raw in block.splitlines():
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            command, _, comment = text.partition("   #") if "   #" in text else (text, "", "")
            if not comment and " # " in text:
                command, _, comment = text.rpartition(" # ")
            marker = next((m for m in ("real org", "long") if comment.strip().startswith(m)), None)
            lines.append((command.strip(), marker))
    return lines


LINES = _command_lines()


def test_the_readme_has_command_lines_of_each_kind():
    markers = {marker for _line, marker in LINES}
    assert {None, "real org", "long"} <= markers
    for line, marker in LINES:
        if marker == "real org":
            assert any(flag in line + " " for flag in ORG_FLAGS), f"marked real org but names no org: {line}"


def _small(argv: list[str], reports: Path) -> list[str]:
    """The command with small volumes and its files in `reports`: what the README says, quicker."""
    command = argv[0]
    out = list(argv)
    if command in ("compare", "bench"):
        if "--records" in out:
            out[out.index("--records") + 1] = SMALL
        else:
            out += ["--records", SMALL]
        out += ["--reports-dir", str(reports)]
    return out


@pytest.mark.parametrize("line", [line for line, marker in LINES if marker is None])
def test_readme_line_runs(line, tmp_path, monkeypatch, fast_polls):
    for var in ("SF_INSTANCE_URL", "SF_ACCESS_TOKEN", "SF_TARGET_ORG", "SF_USERNAME", "SF_CLIENT_ID", "SF_CA_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    segments = [s.strip() for s in line.split("&&")]
    commands = [s for s in segments if not s.startswith(SETUP)]
    assert commands, f"a README line with no sfharness command: {line}"
    for segment in commands:
        words = shlex.split(segment)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            monkeypatch.setenv(name, value)
        assert words[0] == "sfharness", f"not an sfharness command (mark it `# long` or `# real org`): {segment}"
        argv = words[1:]
        _profile_files_for(argv)
        if argv[:2] == ["emulator", "serve"]:
            _serve_briefly(argv)
            continue
        result = CliRunner().invoke(app, _small(argv, tmp_path / "reports"))
        assert result.exit_code == 0, f"{segment}\n{result.output}"


def _profile_files_for(argv: list[str]) -> None:
    """A `--profile FILE` the README's `calibrate` line (a real org) would have written: here a profile file
    of the same format, the built-in `realistic` profile saved under that name, so the line runs as written."""
    if "--profile" not in argv:
        return
    name = argv[argv.index("--profile") + 1]
    if name.endswith(".json") and not Path(name).exists():
        save_profile(get_profile("realistic"), Path(name))


def _serve_briefly(argv: list[str]) -> None:
    """`emulator serve` runs until stopped: start it (seeding a few records), read its line, stop it."""
    argv = [re.sub(r"=(\d+)$", "=" + SMALL, a) if a.startswith("Byline__c=") else a for a in argv]
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        info = json.loads(proc.stdout.readline() if proc.stdout else "{}")
        edition = argv[argv.index("--edition") + 1] if "--edition" in argv else "developer"
        assert {"instance_url", "access_token", "ca_file", "edition"} <= info.keys() and info["edition"] == edition
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_readme_exit_codes_match_the_code():
    text = README.read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d) \| (.+?) \|$", text, flags=re.M))
    assert {int(code): meaning for code, meaning in table.items()} == EXIT_CODES
