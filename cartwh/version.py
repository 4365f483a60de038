"""The code version printed in reports: package version plus git commit when available."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cartwh import __version__


def code_version() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown commit"
    return f"cartwh {__version__} ({commit})"
