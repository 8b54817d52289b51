"""One folder per `update` run: its outcome files, its bulk resume state and a manifest `resume` reads.

A run writes `<--out>/<YYYYMMDD-HHMMSS>/` (with `-2`, `-3`... when the name is taken; `<--out>/latest`
points at the newest), so a run never overwrites an earlier one's files. ``run.json`` records what ran
(strategy, object, the input file and how it is written) and every bulk job id as soon as the job
exists, so `sfharness resume --job-id ID --out <--out>` finds the run, its ledger (``.state/``) and its
input, and adds the job's outcomes to the same files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .input_file import InputFile
from .report import new_timestamped_folder

MANIFEST = "run.json"
STATE_DIR = ".state"


@dataclass
class RunFolder:
    path: Path
    manifest: dict[str, Any]

    @classmethod
    def create(cls, root: Path, **manifest: Any) -> RunFolder:
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        folder = cls(new_timestamped_folder(root, started), {"started_at": started, "job_ids": [], **manifest})
        folder.save()
        return folder

    @classmethod
    def for_job(cls, out: Path, job_id: str) -> RunFolder | None:
        """The run folder that started `job_id`: `out` itself, or one of its run folders (newest first)."""
        if not out.is_dir():
            return None
        candidates = [out, *sorted((p for p in out.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True)]
        for folder in candidates:
            manifest = _read(folder / MANIFEST)
            if manifest is not None and job_id in manifest.get("job_ids", []):
                return cls(folder, manifest)
        return None

    @classmethod
    def at(cls, path: Path) -> RunFolder:
        """The run folder at `path` (its manifest, or an empty one for a folder an older version wrote)."""
        return cls(path, _read(path / MANIFEST) or {"job_ids": []})

    @property
    def state_dir(self) -> str:
        return str(self.path / STATE_DIR)

    @property
    def input_file(self) -> InputFile | None:
        data = self.manifest.get("input")
        return InputFile.from_dict(data) if data else None

    def add_job(self, job_id: str) -> None:
        """Record a bulk job id the moment it exists (a run killed later can still be resumed by id)."""
        if job_id not in self.manifest["job_ids"]:
            self.manifest["job_ids"].append(job_id)
            self.save()

    def save(self) -> None:
        tmp = self.path / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path / MANIFEST)

    def __str__(self) -> str:
        return str(self.path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
