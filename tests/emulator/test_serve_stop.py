"""`sfharness emulator serve` removes its temporary folder however it is stopped (issue 16, "Secrets on disk").

The folder holds the TLS private key, the JWT private key and the database. Ctrl-C (SIGINT) always removed
it; SIGTERM, what `kill`, process managers and container runtimes send, left it behind. Each test starts
the real command in a child process, uses the org, stops it with the signal and looks at the disk.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests


def _start() -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "harness", "emulator", "serve", "--port", "0"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _connection_info(proc: subprocess.Popen[str]) -> dict:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        pytest.fail(f"the emulator printed no connection line; stderr: {proc.communicate()[1]}")
    return json.loads(line)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_stopped_emulator_leaves_no_secrets_on_disk(signum):
    proc = _start()
    folder: Path | None = None
    try:
        info = _connection_info(proc)
        folder = Path(info["ca_file"]).parent
        secrets = [Path(info["jwt_key_file"]), folder / "emulator-key.pem", folder / "org.db"]
        assert all(path.is_file() and path.parent == folder for path in secrets), sorted(os.listdir(folder))
        # The org is really serving: a request over verified TLS succeeds.
        versions = requests.get(info["instance_url"] + "/services/data/", verify=info["ca_file"], timeout=30)
        assert versions.status_code == 200

        os.kill(proc.pid, signum)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
        assert not folder.exists(), sorted(os.listdir(folder))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if folder is not None and folder.exists():  # a failed run must not leave keys behind either
            shutil.rmtree(folder, ignore_errors=True)
