"""``cartwh``: the command line of the warehouse."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

from cartwh.console import frame_records, print_json
from cartwh.exitcodes import ExitCode, epilog
from cartwh.settings import Settings, SettingsError, read_settings

#: written by `cartwh generate` into the folder it fills (hidden: the loader ignores it)
GENERATED_MARKER = ".cartwh-generated"


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.demo import generate_consortium
    from cartwh.ingest.registry import CANONICAL_CENTRES_FILE, load_registry

    out = Path(args.out).resolve() if args.out else settings.landing
    if out.is_dir() and any(out.iterdir()) and not args.force:
        made_here = "" if (out / GENERATED_MARKER).exists() else " and was not written by it"
        raise SettingsError(
            f"{out} is not empty{made_here}: `cartwh generate` replaces the centre folders it "
            "writes; choose an empty folder with --out, or add --force"
        )
    try:
        summary = generate_consortium(
            out,
            patients=args.patients,
            centres=args.centres,
            deliveries=args.deliveries,
            seed=args.seed,
            toxicity_hr=args.toxicity_hr,
            clean=args.clean,
            imperfection_rate=args.imperfection_rate,
            cutoff=date.fromisoformat(args.cutoff) if args.cutoff else settings.cutoff,
            children_fraction=args.children_fraction,
            truth_dir=Path(args.truth).resolve() if args.truth else None,
            progress=print,
        )
    except (FileExistsError, ValueError) as exc:
        raise SettingsError(str(exc)) from None
    (out / GENERATED_MARKER).write_text(
        "written by `cartwh generate`: synthetic demo data\n", encoding="utf-8"
    )
    print(
        f"generated {sum(summary.patients_per_centre.values())} patients in "
        f"{len(summary.deliveries)} deliveries under {out}"
    )
    registry = load_registry(settings.mappings)
    unregistered = sorted(set(summary.patients_per_centre) - set(registry.centres))
    if unregistered:
        print(
            f"note: centres {', '.join(unregistered)} are not in the registry: list them in "
            f"{settings.mappings / CANONICAL_CENTRES_FILE} to load them"
        )
    return ExitCode.OK


#: kept for callers of the old name
EXIT_DATA_WARNINGS = ExitCode.DATA_WARNINGS


def _require_key(settings: Settings) -> None:
    """Refuse (SettingsError) without a usable key; in demo mode say which key is used."""
    _ = settings.secret  # raises SettingsError naming CARTWH_SECRET and the fix
    if settings.uses_demo_key and not (settings.landing / GENERATED_MARKER).exists():
        raise SettingsError(
            f"CARTWH_DEMO=1 uses the published demo key, but {settings.landing} was not written "
            "by `cartwh generate`: set CARTWH_SECRET (32 characters or more) for real data"
        )
    if settings.uses_demo_key:
        print(
            "demo mode: using the published demo key; set CARTWH_SECRET for real data",
            file=sys.stderr,
        )


def _disk_full_is_one_line(command):
    """A write that finds the disk full (or the file size limit reached) ends the command with
    one line naming what it was writing, exit 1; no traceback, nothing retried."""

    @functools.wraps(command)
    def guarded(args: argparse.Namespace, settings: Settings) -> int:
        from cartwh.runlog import disk_full_line

        try:
            return command(args, settings)
        except Exception as exc:  # an OSError, or SQLite's "disk I/O error" through SQLAlchemy
            line = disk_full_line(exc, settings)
            if line is None:
                raise
            _record_stopped(settings, "disk full")
            print(f"cartwh: {line}", file=sys.stderr)
            return ExitCode.FAILED

    return guarded


def _record_stopped(settings: Settings, reason: str) -> None:
    """A refresh of this process that stopped on an error (a full disk, an unexpected error)
    is recorded as failed, not left "started", as far as the disk still allows."""
    from cartwh.refresh_status import read_status, record_failed

    status = read_status(settings.work)
    if status is None or status.state != "started" or status.pid != os.getpid():
        return
    try:
        record_failed(settings.work, status.run_id, reason)
    except OSError:
        pass  # the status says "started" and no process runs it: reported as "did not finish"


@_disk_full_is_one_line
def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    _require_key(settings)
    if args.lock:
        from cartwh.datalock import locked_settings

        settings = locked_settings(settings, args.lock)
        print(f"rebuilding lock {args.lock} in {settings.warehouse.parent}")
    if not settings.landing.is_dir():
        raise SettingsError(
            f"landing folder {settings.landing} does not exist: create it, or point "
            "CARTWH_LANDING at the folder the centres deliver to"
        )
    from cartwh.runlog import new_log_path, prune_logs

    log_path = new_log_path(settings.work)
    if not args.quiet:
        print(f"refresh of {settings.warehouse}; full log: {log_path}", flush=True)
    from cartwh.ingest.registry import load_registry  # pandas and pandera: after the first line
    from cartwh.refresh_plan import plan_refresh
    from cartwh.refresh_status import read_status, unfinished

    registry = load_registry(settings.mappings)
    started = time.monotonic()
    if unfinished(read_status(settings.work), writer_active=False):
        from orchestration.refresh import recover_killed_refresh

        recover_killed_refresh(settings)
    plan = plan_refresh(settings, registry, full=args.full)
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:
        print(plan.summary, file=log)
        if not args.quiet:
            print(plan.summary, flush=True)
        if plan.mode == "nothing":
            result = None
        else:
            result = _run_refresh_logged(args, settings, log, log_path, plan)
    prune_logs(log_path.parent, settings.keep_runs)
    if plan.mode == "nothing":
        return _nothing_new(args, plan)
    if result is None:
        return ExitCode.FAILED
    return _refresh_outcome(args, settings, registry, result, log_path, time.monotonic() - started)


def _run_refresh_logged(args, settings: Settings, log, log_path: Path, plan):
    """The refresh with every output of Dagster and dbt in ``log``; stage lines on the terminal.
    None after an unexpected error (its stack trace is in the log, one line on stderr)."""
    import traceback

    from cartwh.console import StageWriter
    from cartwh.runlog import output_into

    with output_into(log, args.verbose) as (out, err):
        writer = StageWriter(out, quiet=args.quiet, live=not args.verbose)
        writer.status("preparing")  # Dagster, dbt's project and the definitions load
        try:
            from orchestration.progress import Stages, refresh_logger
            from orchestration.refresh import run_refresh

            stages = Stages(writer)
            result = run_refresh(
                settings,
                args.log_level,
                plan,
                refresh_logger(sys.stdout, stages, args.log_level),
                say=lambda message: (writer.clear(), print(message, file=err, flush=True)),
            )
            stages.finish()
            return result
        except Exception as exc:
            from cartwh.runlog import disk_full_line

            full = disk_full_line(exc, settings)
            _record_stopped(settings, "disk full" if full else f"error: {type(exc).__name__}")
            try:
                traceback.print_exc(file=log)
            except OSError:
                pass  # the log's disk is full too: the line below says so
            writer.clear()
            first = (str(exc).splitlines() or [""])[0]
            print(
                f"cartwh: {full}; the refresh was stopped, what is published is from the last "
                f"good refresh"
                if full
                else f"cartwh: the refresh failed unexpectedly ({type(exc).__name__}: {first}); "
                f"the stack trace is in {log_path}",
                file=err,
                flush=True,
            )
            return None


def _refresh_outcome(args, settings, registry, result, log_path: Path, elapsed: float) -> int:
    say = (lambda *a, **k: None) if args.quiet else print
    if result.busy and result.run_id is None:  # it could not start
        print(f"cartwh: {result.busy}", file=sys.stderr)
        return ExitCode.BUSY
    for check in result.blocking_failures:
        print(_blocking_message(check, settings, log_path), file=sys.stderr)
    warned = [
        f"{c.asset} {c.check}"
        for c in result.failed_checks
        if not c.blocking and c not in result.data_warning_checks
    ]
    if warned:
        say(f"quality warnings: {', '.join(warned)} (see `cartwh quality`)")
    if settings.warehouse.exists():
        from cartwh.quality.summary import cohort_summary
        from cartwh.warehouse import read_connection

        with read_connection(settings.warehouse) as conn:
            say("\n".join(["", "cohort:", *cohort_summary(conn, list(registry.centres)).lines()]))
    if result.data_warnings:  # with --quiet too: they decide the exit status
        print(
            "\ndata warnings:\n" + "\n".join(f"- {w}" for w in result.data_warnings),
            file=sys.stderr if args.quiet else sys.stdout,
        )
    if not result.success:
        if result.disk_full:
            print(f"cartwh: {result.disk_full}", file=sys.stderr)
        elif not result.blocking_failures:
            print(
                f"cartwh: the refresh failed at {result.failed_step}: {result.failure or ''}; "
                f"the details are in {log_path}",
                file=sys.stderr,
            )
        print(
            f"refresh failed after {elapsed:.0f} s: what is published is from the last good "
            f"refresh, marked as such; log: {log_path}",
            file=sys.stderr,
        )
        return ExitCode.BUSY if result.busy else ExitCode.FAILED
    say(
        f"\nrefresh done in {elapsed:.0f} s\n  warehouse: {settings.warehouse}\n"
        f"  report:    {settings.output / 'report.html'}\n  output:    {settings.output}\n"
        f"  log:       {log_path}"
    )
    from cartwh.ingest.landing_state import record_data_warnings

    if result.run_id:
        record_data_warnings(settings.work, result.run_id, result.data_warnings)
    if result.data_warnings:
        if not args.accept_data_warnings:
            print(
                f"completed with data warnings ({len(result.data_warnings)}): fix them, or "
                "accept them with `cartwh refresh --accept-data-warnings`",
                file=sys.stderr,
            )
            return ExitCode.DATA_WARNINGS
    return ExitCode.OK


def _blocking_message(check, settings: Settings, log_path: Path) -> str:
    """A failed blocking check: the check, its rule, the rows or patients, where to look."""
    lines = (check.description or "").splitlines() or ["(no description)"]
    return "\n".join(
        [
            f"check failed: {check.asset} {check.check}: {lines[0]}",
            *(f"  {line}" for line in lines[1:]),
            f"  the analyses did not run; see `cartwh quality`, the report "
            f"{settings.output / 'report.html'} and the log {log_path}",
        ]
    )


def _nothing_new(args: argparse.Namespace, plan) -> int:
    """Nothing to rebuild; the intake warnings of the published refresh still stand."""
    warnings = plan.published.data_warnings if plan.published else []
    if warnings and not args.accept_data_warnings:
        print("\ndata warnings:\n" + "\n".join(f"- {w}" for w in warnings))
        print(
            f"completed with data warnings ({len(warnings)}): fix them, or "
            "accept them with `cartwh refresh --accept-data-warnings`",
            file=sys.stderr,
        )
        return ExitCode.DATA_WARNINGS
    return ExitCode.OK


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read now; the message is one line for the user."""

    def __init__(self, message: str, exit_code: ExitCode):
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def _open_warehouse(settings: Settings, wait_s: float):
    """A read-only connection under the readers' lock, waiting up to ``wait_s`` for a refresh
    (one line on stderr); :class:`WarehouseUnavailable` when there is none or it stays busy."""
    import duckdb

    from cartwh.warehouse import WarehouseBusy, read_connection

    with ExitStack() as stack:
        try:
            conn = stack.enter_context(
                read_connection(settings.warehouse, wait_s, log=lambda m: print(m, file=sys.stderr))
            )
        except FileNotFoundError as exc:
            raise WarehouseUnavailable(str(exc), ExitCode.USAGE) from None
        except (WarehouseBusy, duckdb.IOException) as exc:
            raise WarehouseUnavailable(str(exc).splitlines()[0], ExitCode.BUSY) from None
        yield conn


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    import duckdb

    from cartwh.analyst import ANALYST_DATABASE

    analyst = settings.analyst / ANALYST_DATABASE
    try:
        if args.warehouse:
            with _open_warehouse(settings, args.wait) as conn:
                frame = conn.execute(args.query).df()
        elif not analyst.exists():
            raise WarehouseUnavailable(
                f"no analyst database at {analyst}: run `cartwh refresh` or `cartwh publish`, "
                "or query the warehouse with --warehouse",
                ExitCode.USAGE,
            )
        else:  # replaced by a rename, never written in place: no lock to wait for
            with duckdb.connect(str(analyst), read_only=True) as conn:
                frame = conn.execute(args.query).df()
    except duckdb.Error as exc:
        print(f"query failed: {' '.join(str(exc).split())}", file=sys.stderr)
        return ExitCode.FAILED
    if args.format == "json":
        print_json(
            {"columns": list(frame.columns), "rows": frame_records(frame), "row_count": len(frame)}
        )
    elif args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif frame.empty:
        print(" | ".join(frame.columns) + "\n(0 rows)")
    else:
        print(frame.to_string(index=False, max_rows=args.max_rows))
        print(f"({len(frame)} rows)")
    return ExitCode.OK


@_disk_full_is_one_line
def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.analyst import PublishError, publish_package

    folder = Path(args.out).resolve() if args.out else settings.analyst
    try:
        with _open_warehouse(settings, args.wait) as conn:
            package = publish_package(conn, folder)
    except PublishError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    print(
        f"published the analyst package of refresh {package.run_id}: {package.tables} tables, "
        f"{package.columns} columns in {package.folder}"
    )
    return ExitCode.OK


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from cartwh.history import history_lines, refresh_history

    with _open_warehouse(settings, args.wait) as conn:
        refreshes = refresh_history(conn, args.limit)
    if args.format == "json":
        print(json.dumps(refreshes, indent=2, default=str))
    else:
        print("\n".join(history_lines(refreshes)))
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from analysis_assets.study import SMALL_CELL_THRESHOLD
    from cartwh.external_report import EXTERNAL_FOLDER, MINIMUM_THRESHOLD, write_external_report

    if not args.external:
        print(
            "cartwh: report: give --external (the internal report is written by `cartwh "
            f"refresh` to {settings.output / 'report.html'})",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    threshold = SMALL_CELL_THRESHOLD if args.threshold is None else args.threshold
    if threshold < MINIMUM_THRESHOLD:
        print(
            f"cartwh: report: --threshold {threshold} suppresses nothing; give "
            f"{MINIMUM_THRESHOLD} or more (the study's default is {SMALL_CELL_THRESHOLD})",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    out = Path(args.out) if args.out else settings.output / EXTERNAL_FOLDER
    try:
        with _open_warehouse(settings, args.wait) as conn:
            report, policy = write_external_report(conn, out, threshold)
    except LookupError as exc:
        print(f"cartwh: report: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except OSError as exc:
        print(f"cartwh: report: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.USAGE
    written = int(policy["written"].sum())
    print(
        f"external report (small cells suppressed, threshold {threshold}): {report}\n"
        f"{written} of {len(policy)} analysis tables written to {report.parent / 'tables'}; "
        f"decisions in {report.parent / 'disclosure.csv'}"
    )
    return ExitCode.OK


def cmd_lock(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.datalock import lock_file, take_lock

    _require_key(settings)  # the lock keeps a check of the key
    lock_file(settings, args.name)  # a bad name is refused before waiting for the warehouse
    with _open_warehouse(settings, args.wait) as conn:
        path = take_lock(conn, settings, args.name)
    print(f"lock {args.name}: {path}; rebuild it with `cartwh refresh --lock {args.name}`")
    return 0


def cmd_rekey(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.rekey import NEW_SECRET_VARIABLE, RekeyError, rekey
    from cartwh.warehouse import WarehouseBusy

    try:
        rotation = rekey(settings, os.environ.get(NEW_SECRET_VARIABLE) or None)
    except RekeyError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except WarehouseBusy as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.BUSY
    print(
        f"re-keyed {rotation.patients} patients: {rotation.rows} rows in "
        f"{len(rotation.tables)} tables; recorded in history.key_rotations. Now set "
        f"CARTWH_SECRET to the new key and run `cartwh refresh` (it re-renders the outputs)"
    )
    return ExitCode.OK


@_disk_full_is_one_line
def cmd_erase(args: argparse.Namespace, settings: Settings) -> int:
    """`cartwh erase --centre C --patient ID`: consent withdrawn (:mod:`cartwh.erasure`)."""
    _require_key(settings)
    from cartwh.erasure.erase import ErasureError
    from cartwh.erasure.procedure import erase_everywhere
    from cartwh.erasure.rewrite import RewriteError
    from cartwh.ingest.mapping import MappingError
    from cartwh.ingest.registry import load_registry
    from cartwh.warehouse import WarehouseBusy

    registry = load_registry(settings.mappings)
    if args.centre not in registry.centres:
        known = ", ".join(registry.centres) or "none"
        raise SettingsError(f"unknown centre {args.centre!r} (registered: {known})")
    try:
        mapping = registry.mapping(args.centre)
    except MappingError as exc:
        raise SettingsError(f"the mapping of centre {args.centre} is unusable: {exc}") from None
    if not settings.warehouse.exists():
        raise SettingsError(f"no warehouse at {settings.warehouse}: nothing to erase")
    rebuild = argparse.Namespace(
        full=True,
        lock=None,
        quiet=args.quiet,
        verbose=False,
        log_level="INFO",
        accept_data_warnings=True,  # the centres' own warnings are not the erasure's outcome
    )
    try:
        outcome = erase_everywhere(
            settings,
            mapping,
            args.patient,
            lambda: cmd_refresh(rebuild, settings),
            args.wait,
            say=(lambda m: None) if args.quiet else print,
        )
    except ErasureError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return exc.exit_code
    except RewriteError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except WarehouseBusy as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.BUSY
    erasure, residue = outcome.erasure, outcome.residue
    if not args.quiet:
        print(
            f"\nerasure {erasure.erasure_id} recorded in history.erasures: "
            f"{erasure.rows_total} rows removed, warehouse file sha256 "
            f"{outcome.sha256_before[:16]}… -> {outcome.sha256_after[:16]}…; later loads "
            f"withhold the patient's rows (restricted.erased_patients)"
        )
        if residue.redacted or residue.runs_deleted:
            print(
                f"identifiers removed from {len(residue.redacted)} files and "
                f"{len(residue.runs_deleted)} Dagster runs beside the warehouse"
            )
    status = ExitCode.OK
    if outcome.rebuild_status not in (ExitCode.OK, ExitCode.DATA_WARNINGS):
        print(
            "cartwh: the patient is erased from the warehouse, but the rebuild failed: fix "
            "what it names and run `cartwh refresh --full`",
            file=sys.stderr,
        )
        status = ExitCode.FAILED
    if residue.remaining:
        shown = ", ".join(str(p) for p in residue.remaining[:5])
        print(
            f"cartwh: {len(residue.remaining)} files beside the warehouse still name the "
            f"patient ({shown}): delete them",
            file=sys.stderr,
        )
        status = ExitCode.FAILED
    return status


def cmd_mapping_check(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.ingest.mapping import MappingError
    from cartwh.ingest.mapping_check import check_mapping

    try:
        mapping, findings = check_mapping(
            Path(args.file), Path(args.delivery), settings.private_tmp
        )
    except MappingError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    blocking = [f for f in findings if f.blocking]
    status = ExitCode.FAILED if blocking else ExitCode.OK
    if args.format == "json":
        print_json(
            {
                "mapping": args.file,
                "centre": mapping.centre_code,
                "delivery": args.delivery,
                "problems": len(blocking),
                "notes": len(findings) - len(blocking),
                "findings": [
                    {
                        "severity": "error" if f.blocking else "note",
                        "entity": f.entity,
                        "kind": f.kind,
                        "detail": f.detail,
                    }
                    for f in findings
                ],
            }
        )
        return status
    print(f"mapping {args.file} (centre {mapping.centre_code}) on delivery {args.delivery}:")
    for finding in findings:
        print(f"  {'ERROR' if finding.blocking else 'note '} {finding}")
    print(f"{len(blocking)} problems, {len(findings) - len(blocking)} notes")
    return status


def cmd_quality(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.quality import results
    from cartwh.refresh_status import last_refresh_notice

    with _open_warehouse(settings, args.wait) as conn:
        summary = results.centre_summary(conn)
        failures = results.failed_checks(conn)
        notice = last_refresh_notice(settings)
    blocking = int(summary["blocking_failed"].sum()) if len(summary) else 1
    if args.format == "json":
        print_json(
            {
                "notice": notice,
                "centres": frame_records(summary),
                "failed_checks": frame_records(failures),
                "blocking_failed": blocking if len(summary) else None,
            }
        )
    else:
        _print_quality(notice, summary, failures)
    if not len(summary):
        print("no quality results: run `cartwh refresh` first", file=sys.stderr)
    elif blocking:
        print(f"\n{blocking} blocking check(s) failed: the analyses will not run", file=sys.stderr)
    return ExitCode.FAILED if blocking else ExitCode.OK


def _print_quality(notice, summary, failures) -> None:
    if notice:
        print(notice + "\n")
    print(summary.to_string(index=False))
    if len(failures):
        print("\nfailed checks:")
        columns = [
            "centre_code",
            "check_name",
            "table_name",
            "severity",
            "numerator",
            "denominator",
            "pct_failing",
        ]
        print(failures[columns].to_string(index=False))


def cmd_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    """`cartwh deliveries list|accept|withdraw`: each centre's deliveries and a person's
    decisions on held ones (:mod:`cartwh.ingest.decisions`)."""
    from cartwh.ingest import decisions
    from cartwh.warehouse import WarehouseBusy, connect_for_writing, write_lock

    if args.deliveries_command == "list":
        with _open_warehouse(settings, args.wait) as conn:
            history = decisions.delivery_history(conn, args.centre)
        for line in decisions.history_lines(history):
            print(line)
        return ExitCode.OK
    decide = {"accept": decisions.accept_delivery, "withdraw": decisions.withdraw_delivery}
    if not settings.warehouse.exists():
        print(
            f"cartwh: no warehouse at {settings.warehouse}: run `cartwh refresh` first",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    try:
        with (
            write_lock(settings.warehouse, args.wait, log=say),
            connect_for_writing(settings.warehouse, args.wait, log=say) as conn,
        ):
            status = decide[args.deliveries_command](conn, args.centre, args.delivery)
    except decisions.DecisionError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except WarehouseBusy as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.BUSY
    from cartwh.ingest.landing_state import forget_centre

    forget_centre(settings.work, args.centre)
    print(
        f"{args.centre}/{args.delivery} is now {status}; run `cartwh refresh` to rebuild "
        "the warehouse with it"
    )
    return ExitCode.OK


def cmd_dbt(args: argparse.Namespace, settings: Settings) -> int:
    import subprocess

    from cartwh.ingest.registry import load_registry
    from cartwh.transform.prepare import dbt_environment, generate_staging

    project = str(generate_staging(settings, load_registry(settings.mappings)))
    dbt_args = [a for a in args.dbt_args if a != "--"]
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *dbt_args,
        "--project-dir",
        project,
        "--profiles-dir",
        project,
    ]
    if dbt_args and dbt_args[0] in ("build", "run", "test", "compile", "parse", "seed", "docs"):
        command += ["--vars", settings.study.dbt_vars()]
    return subprocess.call(command, env={**os.environ, **dbt_environment(settings)})


def cmd_ui(args: argparse.Namespace, settings: Settings) -> int:
    from cartwh.project import PROJECT_ROOT, WORKSPACE_FILE
    from orchestration.refresh import dagster_instance

    _require_key(settings)
    dagster_instance(settings).dispose()  # creates DAGSTER_HOME with its dagster.yaml
    command = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-w",
        str(WORKSPACE_FILE),
        "-p",
        str(args.port),
        "-h",
        args.host,
    ]
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)})
    return 0  # not reached


#: readers wait this long for a running refresh to end
WAIT_OPTION = dict(
    type=float,
    default=300.0,
    metavar="SECONDS",
    help=f"wait this long for a running refresh to end (default 300), then exit "
    f"{int(ExitCode.BUSY)}",
)


class _Version(argparse.Action):
    """``--version``: the package version and the code version (git), computed when asked."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from cartwh import __version__
        from cartwh.version import code_version

        print(f"cartwh {__version__}\ncode: {code_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cartwh",
        description=__doc__,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a synthetic consortium's deliveries")
    gen.add_argument("--out", help="landing folder to write (default: $CARTWH_LANDING)")
    gen.add_argument("--patients", type=int, default=93)
    gen.add_argument("--centres", type=int, default=4)
    gen.add_argument(
        "--deliveries",
        type=int,
        default=2,
        help="growing snapshots per centre, the last at the cut-off",
    )
    gen.add_argument("--seed", type=int, default=20240927)
    gen.add_argument(
        "--toxicity-hr",
        type=float,
        default=1.0,
        help="true hazard ratio of relapse/death for patients with CRS or ICANS",
    )
    gen.add_argument("--clean", action="store_true", help="no injected imperfections")
    gen.add_argument("--imperfection-rate", type=float, default=0.01)
    gen.add_argument("--cutoff", help="data cut-off (default: $CARTWH_CUTOFF)")
    gen.add_argument("--children-fraction", type=float, default=0.0)
    gen.add_argument("--truth", help="folder for the latent truth (never inside --out)")
    gen.add_argument(
        "--force", action="store_true", help="write into a non-empty folder (replaces its centres)"
    )
    gen.set_defaults(func=cmd_generate)

    refresh = commands.add_parser("refresh", help="materialise every asset, in-process")
    refresh.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the run's log file (default INFO)",
    )
    loudness = refresh.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="also stream the full log to the terminal"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    refresh.add_argument(
        "--accept-data-warnings",
        action="store_true",
        help="exit 0 although folders were skipped or a newest delivery was rejected "
        f"(else exit {int(ExitCode.DATA_WARNINGS)}: completed with data warnings)",
    )
    refresh.add_argument(
        "--full",
        action="store_true",
        help="rebuild everything (by default only the centres whose deliveries or mapping "
        "changed since the last published refresh, and what depends on them)",
    )
    refresh.add_argument(
        "--lock",
        metavar="NAME",
        help="rebuild the state frozen by `cartwh lock NAME` in its own folder "
        "(<work>/locks/NAME/)",
    )
    refresh.set_defaults(func=cmd_refresh)

    sql = commands.add_parser(
        "sql", help="run a read-only query on the analyst database (the warehouse: --warehouse)"
    )
    sql.add_argument("query")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument("--max-rows", type=int, default=200)
    sql.add_argument(
        "--warehouse",
        action="store_true",
        help="query the warehouse itself (raw, staging, restricted: identifying data) instead "
        "of the analyst database ($CARTWH_ANALYST/analyst.duckdb)",
    )
    sql.add_argument("--wait", **WAIT_OPTION)
    sql.set_defaults(func=cmd_sql)

    publish = commands.add_parser(
        "publish",
        help="write the PHI-free analyst package (DuckDB, Parquet, codebook) from the warehouse",
    )
    publish.add_argument("--out", help="the package's folder (default: $CARTWH_ANALYST)")
    publish.add_argument("--wait", **WAIT_OPTION)
    publish.set_defaults(func=cmd_publish)

    history = commands.add_parser(
        "history", help="published refreshes, newest first: deliveries, changes, check trends"
    )
    history.add_argument("--limit", type=int, help="only the newest N refreshes")
    history.add_argument("--format", choices=["text", "json"], default="text")
    history.add_argument("--wait", **WAIT_OPTION)
    history.set_defaults(func=cmd_history)

    report = commands.add_parser(
        "report", help="write the external report: analysis tables with small cells suppressed"
    )
    report.add_argument(
        "--external",
        action="store_true",
        help="suppress small cells for outputs that leave the consortium (required)",
    )
    report.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="counts from 1 to THRESHOLD-1 are shown as <THRESHOLD (default: the study's, 5)",
    )
    report.add_argument("--out", help="folder to write (default: $CARTWH_OUTPUT/external)")
    report.add_argument("--wait", **WAIT_OPTION)
    report.set_defaults(func=cmd_report)

    lock = commands.add_parser(
        "lock", help="freeze the current deliveries, cut-off, code and key as <work>/locks/NAME"
    )
    lock.add_argument("name")
    lock.add_argument("--wait", **WAIT_OPTION)
    lock.set_defaults(func=cmd_lock)

    rekey = commands.add_parser(
        "rekey",
        help="rotate the pseudonymisation key: every patient_key from CARTWH_SECRET (old key) "
        "to CARTWH_NEW_SECRET (new key), in one transaction",
    )
    rekey.set_defaults(func=cmd_rekey)

    erase = commands.add_parser(
        "erase",
        help="consent withdrawn: remove a patient from every layer, raw history and outputs "
        "included, and withhold them from later loads",
    )
    erase.add_argument("--centre", required=True, help="the centre code, e.g. xz")
    erase.add_argument("--patient", required=True, help="the patient id as the centre delivers it")
    erase.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    erase.add_argument("--wait", **WAIT_OPTION)
    erase.set_defaults(func=cmd_erase)

    mapping = commands.add_parser("mapping", help="centre mapping files")
    mapping_commands = mapping.add_subparsers(dest="mapping_command", required=True)
    check = mapping_commands.add_parser(
        "check", help="dry-run a mapping on a delivery: unmapped columns, unknown codes, units"
    )
    check.add_argument("file", help="the mapping file (mappings/<centre>.yml)")
    check.add_argument("--delivery", required=True, help="a delivery folder")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.set_defaults(func=cmd_mapping_check)

    quality = commands.add_parser(
        "quality", help="per-centre quality summary; exits non-zero when a blocking check fails"
    )
    quality.add_argument("--wait", **WAIT_OPTION)
    quality.add_argument("--format", choices=["table", "json"], default="table")
    quality.set_defaults(func=cmd_quality)

    deliveries = commands.add_parser(
        "deliveries", help="each centre's deliveries; accept or withdraw a held delivery"
    )
    deliveries_commands = deliveries.add_subparsers(dest="deliveries_command", required=True)
    listing = deliveries_commands.add_parser("list", help="every delivery, its status and patients")
    listing.add_argument("--centre", help="only this centre")
    listing.add_argument("--wait", **WAIT_OPTION)
    for name, what in (
        ("accept", "a held delivery becomes the centre's current one"),
        ("withdraw", "a loaded or held delivery stops being used (the previous one is current)"),
    ):
        decide = deliveries_commands.add_parser(name, help=what)
        decide.add_argument("centre")
        decide.add_argument("delivery", help="the delivery id, e.g. 2023-03-01")
        decide.add_argument("--wait", **WAIT_OPTION)
    deliveries.set_defaults(func=cmd_deliveries)

    dbt = commands.add_parser("dbt", help="run dbt on this warehouse (generated staging included)")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt arguments, e.g. build -s x")
    dbt.set_defaults(func=cmd_dbt)

    ui = commands.add_parser("ui", help="start the Dagster UI on this warehouse")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = read_settings()
        from cartwh.warehouse import configure

        configure(settings.duckdb_memory)
        return args.func(args, settings)
    except WarehouseUnavailable as exc:  # none yet, or busy past --wait: one line
        print(f"cartwh: {exc}", file=sys.stderr)
        return exc.exit_code
    except SettingsError as exc:
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except Exception as exc:
        from cartwh.ingest.registry import RegistryError

        if not isinstance(exc, RegistryError):
            raise
        print(f"cartwh: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except BrokenPipeError:  # `cartwh sql ... | head`
        sys.stderr.close()
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
