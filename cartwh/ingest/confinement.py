"""Keeping delivered data where it belongs: inside the landing area, and in the warehouse's
private temporary folder while it is transcoded (never a shared ``/tmp``).

Symbolic links are never followed: a path is only opened after :func:`inside` has checked
that it resolves inside its root. A temporary copy of delivered data lives in one folder per
process, ``<private_tmp>/<pid>`` (mode 0700), deleted when the work ends; folders of dead
processes (killed mid-load) are removed the next time a load starts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cartwh.warehouse import process_alive

SYMLINK_REASON = "symbolic link, not followed: copy the files into the folder"


class OutsideLanding(Exception):
    """A path that is a symbolic link or resolves outside the folder it was found in; the
    message says which (the caller names the file)."""


def inside(path: Path, root: Path) -> Path:
    """``path`` itself if it resolves inside ``root`` and is no symbolic link, else raise.

    Raises
    ------
    OutsideLanding
        The path is a symbolic link or resolves outside ``root``.
    """
    if path.is_symlink():
        raise OutsideLanding(SYMLINK_REASON)
    resolved, base = path.resolve(), root.resolve()
    if resolved != base and base not in resolved.parents:
        raise OutsideLanding(f"resolves outside {root}: not read")
    return path


def remove_leftovers(private_tmp: Path) -> list[Path]:
    """Delete the work folders of processes that are no longer alive; returns them."""
    if not private_tmp.is_dir():
        return []
    removed = []
    for entry in private_tmp.iterdir():
        pid = int(entry.name) if entry.name.isdigit() else None
        if pid is not None and pid != os.getpid() and not process_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def private_workdir(private_tmp: Path) -> Iterator[Path]:
    """This process's folder under ``private_tmp`` (mode 0700), deleted on the way out.

    Leftovers of dead processes are removed first. Nested uses share the folder; the
    outermost one deletes it.
    """
    remove_leftovers(private_tmp)
    private_tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(private_tmp, 0o700)
    workdir = private_tmp / str(os.getpid())
    outermost = not workdir.exists()
    workdir.mkdir(mode=0o700, exist_ok=True)
    try:
        yield workdir
    finally:
        if outermost:
            shutil.rmtree(workdir, ignore_errors=True)
