"""What a run ran on, recorded beside its figures (`compare`'s results.json, `bench`'s bench.json).

Figures are only comparable with the machine and library versions that produced them, so both commands
record the same facts, gathered here once.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

import psutil

LIBRARIES = ("requests", "urllib3", "starlette", "uvicorn", "psutil", "simple-salesforce", "salesforce-bulk")
"""The libraries whose versions move the figures: the HTTP stack on both sides, and the baselines."""


def package_version(name: str) -> str | None:
    """The installed version of distribution `name`, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    return {name: package_version(name) for name in names}


def machine() -> dict[str, Any]:
    """The machine: platform, CPU model and count, memory and Python version."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": sys.version.split()[0],
        "tool_version": package_version("sf-update-harness"),
    }
