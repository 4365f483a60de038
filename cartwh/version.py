"""The code version printed in reports: package version plus git commit when available."""

from __future__ import annotations

import subprocess

from cartwh import __version__
from cartwh.project import PROJECT_ROOT


def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown commit"
    return f"cartwh {__version__} ({commit})"
