"""The refresh's Dagster logger: every record goes to the run's log file; Dagster's step,
materialisation and check events become one line per stage on the terminal."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TextIO

from dagster import LoggerDefinition, logger

from cartwh.console import StageWriter

#: what the dbt asset logs as its nodes finish (``dbt_progress``), read back by the stages
_DBT_PROGRESS = re.compile(r"^dbt progress: (\d+) of (\d+) nodes, (\d+) failed, (\d+) warned$")
_LOADED = re.compile(r"^\S+/\S+: loaded \(")


def dbt_progress(done: int, total: int, failed: int, warned: int) -> str:
    return f"dbt progress: {done} of {total} nodes, {failed} failed, {warned} warned"


def stage_of(step_key: str) -> str:
    """The stage a step belongs to (one line each on the terminal)."""
    if step_key == "raw__landing_folders":
        return "landing"
    if step_key.startswith("raw_"):
        return f"load {step_key.removeprefix('raw_')}"
    if step_key == "cartwh_dbt_models":
        return "dbt build"
    if step_key == "analysis__report":
        return "report"
    if step_key == "analysis__published":
        return "published"
    if step_key.endswith("_analysis"):
        return "analysis"
    return "quality"


@dataclass
class Stage:
    name: str
    started: float
    ended: float = 0.0
    steps: int = 0
    failed_steps: list[str] = field(default_factory=list)
    materialised: dict = field(default_factory=dict)  # asset key -> metadata
    checks: list = field(default_factory=list)  # AssetCheckEvaluation
    loaded_deliveries: int = 0
    dbt: tuple[int, int, int, int] | None = None
    row_counts: dict = field(default_factory=dict)  # asset key -> rows (dbt's tables)

    def summary(self) -> str:
        if self.name == "landing":
            skipped = _value(next(iter(self.materialised.values()), {}), "skipped_folders", 0)
            return f"{skipped} folders skipped"
        if self.name.startswith("load "):
            meta = next(iter(self.materialised.values()), {})
            current = _value(meta, "current_delivery", None) or "none"
            rows = sum(_value(m, "rows_all_deliveries", 0) for m in self.materialised.values())
            return (
                f"current delivery {current}, {self.loaded_deliveries} new deliveries loaded, "
                f"{rows} raw rows"
            )
        if self.name == "dbt build":
            done, total, failed, warned = self.dbt or (0, 0, 0, 0)
            return (
                f"{done} of {total} nodes, {failed} failed, {warned} warnings; "
                f"{len(self.materialised)} assets, {sum(self.row_counts.values())} rows in "
                f"{len(self.row_counts)} tables"
            )
        if self.name == "quality":
            failed = [c for c in self.checks if not c.passed]
            blocking = [c for c in failed if c.severity.value == "ERROR"]
            return (
                f"{len(self.checks)} checks, {len(failed) - len(blocking)} warnings, "
                f"{len(blocking)} blocking failed"
            )
        if self.name == "analysis":
            rows = sum(_value(m, "rows", 0) for m in self.materialised.values())
            return f"{len(self.materialised)} tables, {rows} rows"
        if self.name == "report":
            return "written"
        tables = _value(next(iter(self.materialised.values()), {}), "tables", 0)
        return f"{tables} tables, files and analyst package"


def _value(metadata: dict, key: str, default):
    value = metadata.get(key)
    return default if value is None else getattr(value, "value", value)


class Stages:
    """Tracks the run's steps and prints a stage's line when the next stage starts."""

    def __init__(self, writer: StageWriter):
        self.writer = writer
        self.current: Stage | None = None
        self.done: list[Stage] = []

    def record(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        message = meta.get("orig_message") or ""
        if event is None:
            if self.current and (progress := _DBT_PROGRESS.match(message)):
                self.current.dbt = tuple(int(g) for g in progress.groups())
                self.writer.status(self.current.name, self.current.dbt[0], self.current.dbt[1])
            elif self.current and _LOADED.match(message):
                self.current.loaded_deliveries += 1
            return
        kind = event.event_type_value
        if kind == "STEP_START" and step:
            name = stage_of(step)
            if self.current is None or self.current.name != name:
                self.finish()
                self.current = Stage(name, record.created)
            self.writer.status(name)
        elif self.current is None:
            return
        elif kind == "ASSET_MATERIALIZATION":
            data = event.event_specific_data.materialization
            self.current.materialised[data.asset_key.to_user_string()] = dict(data.metadata)
        elif kind == "ASSET_OBSERVATION":
            data = event.event_specific_data.asset_observation
            if "dagster/row_count" in data.metadata:
                self.current.row_counts[data.asset_key.to_user_string()] = _value(
                    data.metadata, "dagster/row_count", 0
                )
        elif kind == "ASSET_CHECK_EVALUATION":
            self.current.checks.append(event.event_specific_data)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.current.steps += 1
            self.current.ended = record.created
            if kind == "STEP_FAILURE":
                self.current.failed_steps.append(step)
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            self.finish()

    def finish(self) -> None:
        stage, self.current = self.current, None
        if stage is None:
            return
        self.done.append(stage)
        ended = stage.ended or time.time()
        if stage.failed_steps:
            text, style = f"failed ({', '.join(stage.failed_steps)})", "red"
        else:
            text, style = stage.summary(), None
        self.writer.line(stage.name, text, ended - stage.started, style)


class _StageHandler(logging.Handler):
    def __init__(self, stages: Stages):
        super().__init__(logging.DEBUG)
        self.stages = stages

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stages.record(record)
        except Exception:  # the terminal lines must never fail the run
            self.handleError(record)


def refresh_logger(log: TextIO, stages: Stages, level: str) -> LoggerDefinition:
    """A Dagster logger writing every record of ``level`` or above to ``log`` and the events
    to ``stages``."""

    @logger(description="cartwh refresh: the run's log file and its stage lines")
    def cartwh_refresh(init_context) -> logging.Logger:
        out = logging.Logger("cartwh_refresh", logging.DEBUG)
        to_file = logging.StreamHandler(log)
        to_file.setLevel(level)
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        out.addHandler(to_file)
        out.addHandler(_StageHandler(stages))
        return out

    return cartwh_refresh
