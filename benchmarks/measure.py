"""Run a command and measure it: wall time, peak memory of its whole process tree, and the
arrival time of each line it prints (for the stage lines of ``cartwh refresh``).

Memory is sampled from ``/proc`` (``VmRSS`` of the process and all its descendants, summed)
every :data:`SAMPLE_SECONDS`; dbt and other children count. A peak between two samples can be
missed, so the figure is a lower bound of the true peak.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.2

#: a stage line of `cartwh refresh` (orchestration/progress.py, cartwh/console.StageWriter)
STAGE_LINE = re.compile(
    r"^(?P<stage>landing|load \S+|dbt build|quality|analysis|report|published)"
    r"\s+(?P<text>.*?)\s+\((?P<seconds>\d+(?:\.\d+)?) s\)$"
)
#: the benchmark's stage groups: cartwh's stage names by group
STAGE_GROUPS = {
    "raw_load": ("landing", "load "),
    "dbt_build": ("dbt build",),
    "checks": ("quality",),
    "analyses": ("analysis",),
    "report": ("report",),
    "publish": ("published",),
}


def _children() -> dict[int, list[int]]:
    """Every process's children, from the parent pid field of ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: fields follow the last ")"
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(root: int) -> int:
    """Resident memory of ``root`` and all its descendants now, in KiB."""
    children = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(children.get(pid, ()))
    return total


@dataclass
class Measured:
    command: list[str]
    exit: int
    seconds: float
    peak_rss_mb: float
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, line)
    stderr: str = ""

    def summary(self) -> dict:
        return {
            "exit": self.exit,
            "seconds": round(self.seconds, 2),
            "peak_rss_mb": round(self.peak_rss_mb),
        }

    def stages(self) -> dict:
        """Seconds per stage group from the stage lines, start-up (process start to the first
        stage's start) and the rest (between stages, and after the last one)."""
        found = [(at, STAGE_LINE.match(text)) for at, text in self.lines]
        found = [(at, m) for at, m in found if m]
        # a stage that did not run (after a failed step) stays None
        groups: dict[str, float | None] = dict.fromkeys(STAGE_GROUPS)
        for _, match in found:
            for group, prefixes in STAGE_GROUPS.items():
                if match["stage"].startswith(prefixes):
                    groups[group] = (groups[group] or 0.0) + float(match["seconds"])
        ran = {k: round(v, 1) for k, v in groups.items() if v is not None}
        out = {"startup": None, **groups, **ran, "other": None}
        if found:
            first_at, first = found[0]
            startup = max(0.0, first_at - float(first["seconds"]))
            out["startup"] = round(startup, 1)
            out["other"] = round(self.seconds - startup - sum(ran.values()), 1)
        return out


def run(command: list[str], env: dict, cwd: Path) -> Measured:
    """Run ``command`` to its end, sampling its process tree's memory in a thread."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kib(process.pid))
            done.wait(SAMPLE_SECONDS)

    errors: list[str] = []
    sampler = threading.Thread(target=sample, daemon=True)
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    sampler.start()
    reader.start()
    lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in process.stdout]
    exit_code = process.wait()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    reader.join()
    return Measured(command, exit_code, seconds, peak / 1024, lines, "".join(errors))
