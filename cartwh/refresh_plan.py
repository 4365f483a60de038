"""What a refresh must rebuild: nothing, the centres whose landing folders changed (and what
depends on them), or everything. Decided from files alone, before Dagster is even imported, so
that ``cartwh refresh`` with nothing new answers in about a second."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cartwh.ingest.landing_state import LandingState, PublishedState, landing_state, read_published
from cartwh.ingest.registry import CentreRegistry
from cartwh.refresh_status import read_status
from cartwh.settings import Settings

#: run tag naming the landing state a run loads (:func:`cartwh.ingest.landing_state.write_plan`)
PLAN_TAG = "cartwh/plan"


@dataclass(frozen=True)
class RefreshPlan:
    mode: str  # "full" | "centres" | "nothing"
    reason: str
    state: LandingState
    centres: tuple[str, ...] = ()
    landing_folders: bool = False  # the landing area's own folders changed
    published: PublishedState | None = field(default=None, compare=False)

    @property
    def summary(self) -> str:
        if self.mode == "centres":
            what = ", ".join(self.centres) or "the landing area's folders"
            return f"refreshing {what} and what depends on them ({self.reason})"
        if self.mode == "full":
            return f"full refresh ({self.reason})"
        return self.reason


def _when(published: PublishedState) -> str:
    try:
        return datetime.fromisoformat(published.published_at).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return "an unknown time"


def plan_refresh(settings: Settings, registry: CentreRegistry, full: bool = False) -> RefreshPlan:
    state = landing_state(settings, registry)
    published = read_published(settings.work)
    status = read_status(settings.work)

    def plan(mode: str, reason: str, **kwargs) -> RefreshPlan:
        return RefreshPlan(mode, reason, state, published=published, **kwargs)

    if full:
        return plan("full", "asked for")
    if published is None or not settings.warehouse.exists():
        return plan("full", "no published refresh of this landing state yet")
    if status is None or status.state != "finished" or status.run_id != published.run_id:
        return plan("full", "the last refresh did not publish its results")
    if published.setup != state.setup:
        return plan("full", "the code, cut-off, key, gate share or centre registry changed")
    changed = tuple(c for c in registry.centres if state.centres[c] != published.centres.get(c))
    folders = state.folders != published.folders
    if changed or folders:
        reason = "new or changed deliveries" if changed else "landing folders changed"
        return plan("centres", reason, centres=changed, landing_folders=folders)
    deliveries = len(state.deliveries)
    return plan(
        "nothing",
        f"nothing new since the refresh of {_when(published)} ({len(registry.centres)} centres, "
        f"{deliveries} deliveries unchanged): the published results are current",
    )


def run_tags(settings: Settings, state: LandingState, plan_id: str, what: str) -> dict[str, str]:
    """Tags of every refresh run (CLI, sensor, schedule): which warehouse, landing, cut-off,
    deliveries and code, and what it refreshes."""
    from cartwh.version import code_version

    newest: dict[str, str] = {}
    for label in sorted(state.deliveries):
        centre, delivery = label.split("/", 1)
        newest[centre] = delivery
    return {
        "cartwh/warehouse": str(settings.warehouse),
        "cartwh/landing": str(settings.landing),
        "cartwh/cutoff": settings.cutoff.isoformat(),
        "cartwh/newest_deliveries": " ".join(f"{c}:{d}" for c, d in sorted(newest.items())),
        "cartwh/code_version": code_version(),
        "cartwh/refreshes": what,
        PLAN_TAG: plan_id,
    }


#: a delivery whose newest file is younger than this is taken to be still being copied
SETTLE_SECONDS = 60
#: an incomplete delivery (a required file missing, a manifest that does not match) is waited
#: for this long after its last change, then loaded anyway so the gate rejects it with its reason
GRACE_SECONDS = 3600


@dataclass(frozen=True)
class SensorDecision:
    plan: RefreshPlan | None  # None: launch nothing
    cursor: dict
    waiting: tuple[str, ...] = ()  # why a changed centre is not launched yet

    @property
    def skip_reason(self) -> str:
        if self.waiting:
            return "waiting: " + "; ".join(self.waiting)
        return "nothing new in the landing area"


def _not_ready(delivery, seen: dict, now_ns: int) -> str | None:
    age_s = (now_ns - delivery.newest_mtime_ns) / 1e9
    if seen.get(delivery.label) != delivery.digest:
        return f"{delivery.label} is new or changed since the last look"
    if age_s < SETTLE_SECONDS:
        return f"{delivery.label} changed {age_s:.0f} s ago (waiting {SETTLE_SECONDS} s)"
    if delivery.problem and age_s < GRACE_SECONDS:
        return f"{delivery.problem} (waiting up to {GRACE_SECONDS // 60} min for the rest)"
    return None


def sensor_decision(
    settings: Settings, registry: CentreRegistry, cursor: dict, now_ns: int
) -> SensorDecision:
    """What the landing sensor launches: one run for the centres whose deliveries changed since
    the published refresh (or the last launch), once each of their deliveries is complete and
    has stayed the same between two looks; everything when the set-up changed."""
    state = landing_state(settings, registry)
    published = read_published(settings.work)
    launched = cursor.get("launched") or {}
    seen = cursor.get("seen") or {}
    next_cursor = {
        "launched": launched,
        "seen": {label: d.digest for label, d in state.deliveries.items()},
    }

    known = [source for source in (published and published.digests(), launched) if source]

    def pending(current: str, kind: str, centre: str | None = None) -> bool:
        """Neither published nor launched already."""
        return all(
            current != (source["centres"].get(centre) if centre else source.get(kind))
            for source in known
        )

    centres = [c for c in registry.centres if pending(state.centres[c], "centres", c)]
    waiting = []
    ready = []
    for centre in centres:
        problems = [
            problem
            for label, delivery in sorted(state.deliveries.items())
            if label.startswith(centre + "/") and (problem := _not_ready(delivery, seen, now_ns))
        ]
        if problems:
            waiting.extend(problems)
        else:
            ready.append(centre)
    full = not known or pending(state.setup, "setup")
    folders = pending(state.folders, "folders")
    if full and waiting:
        return SensorDecision(None, next_cursor, tuple(waiting))
    if not (full or ready or folders):
        return SensorDecision(None, next_cursor, tuple(waiting))
    base = known[0] if known else {"folders": "", "centres": {}}
    recorded = LandingState(
        state.setup,
        state.folders if (full or folders) else base["folders"],
        {
            c: state.centres[c] if (full or c in ready) else base["centres"].get(c, "")
            for c in state.centres
        },
        state.deliveries,
    )
    if full:
        plan = RefreshPlan("full", "the landing sensor found a new set-up or first data", recorded)
    else:
        plan = RefreshPlan(
            "centres",
            "new or changed deliveries" if ready else "landing folders changed",
            recorded,
            centres=tuple(ready),
            landing_folders=folders,
        )
    next_cursor["launched"] = recorded.digests()
    return SensorDecision(plan, next_cursor, tuple(waiting))
