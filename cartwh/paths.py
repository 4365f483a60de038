"""Where the project's own files are: the ground floor every other module may import."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_MAPPINGS_DIR = PROJECT_ROOT / "mappings"
VENDOR_DIR = PROJECT_ROOT / "vendor"
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
