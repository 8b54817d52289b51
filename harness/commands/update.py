"""`sfharness update` (production mode) and `sfharness resume`: run one strategy, picked by a flag.

Order of checks, so that bad input never reaches the org: the strategy name, the input file and its Id
column, then (one describe call) the object and every row's fields and Ids, then the budget guard (one
/limits call). `--dry-run` stops there. Outcome files go to `--out`: success.csv, failed.csv,
unprocessed.csv; every run keeps its journal in `--out/.state`, from which `resume --run` completes it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from strategies import registry
from strategies.errors import ApiError, RecordValidationError, RunFailed, RunInterrupted, StrategyError
from strategies.records import Validator, prepare, read_records
from strategies.resume import journaled_strategy, resume_run
from strategies.sinks import CsvResultSink

from .. import formatting as fmt
from .. import options as opt
from ..costmodel import predict
from ..orgs import OrgConnection, OrgOptions
from ..strategy_options import poll_options, real_time_policy
from .limits import fetch_limits


def _check_input(path: Path) -> None:
    if not path.is_file():
        opt.fail(f"input file not found: {path}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        opt.fail(f"{path} is empty: expected a header row with an Id column")
    if "Id" not in header:
        opt.fail(f"{path} has no Id column (header: {', '.join(header[:8])}{'...' if len(header) > 8 else ''})")


def _validate(conn: OrgConnection, sobject: str, path: Path) -> tuple[int, list[str]]:
    """Describe the object (1 call) and check every row; returns (row count, field names)."""
    session = conn.session()
    try:
        with session.phase("describe"):
            body = session.get_json(session.rest_url(f"sobjects/{sobject}/describe"))
    except ApiError as err:
        opt.fail(f"unknown object {sobject!r} on this org ({err.status} {err.error_code})")
    finally:
        session.close()
    fields = [f["name"] for f in body.get("fields", [])]
    count = 0
    try:
        prepared = prepare(read_records(path), validator=Validator(known_fields=fields), need_count=False)
        try:
            for _ in prepared:
                count += 1
        finally:
            prepared.close()
    except RecordValidationError as err:
        opt.fail(f"{path}: {err}")
    return count, fields


@opt.with_org_options
def update(
    sobject: str = typer.Option(..., "--sobject", help="The object to update, e.g. Byline__c."),
    input_file: Path = typer.Option(..., "--input", help="CSV (header with Id) or JSON Lines file of records."),
    strategy: Optional[str] = typer.Option(None, "--strategy", envvar=registry.ENV_VAR,
                                           help="Strategy name; auto allowed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the input and print the plan and predicted cost; write nothing."),
    api_reserve: float = typer.Option(10.0, "--api-reserve", min=0, max=100, help="Refuse to start if the run would leave less than this % of the daily API allocation."),
    out: Path = typer.Option(Path("out"), "--out", help="Directory for success.csv, failed.csv, unprocessed.csv."),
    serial: bool = typer.Option(False, "--serial", help="Bulk 1.0: Serial concurrency mode (avoids lock contention)."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, max=32, help="rest: parallel requests over one session."),
    wait: float = typer.Option(3600.0, "--wait", min=0, help="Bulk: seconds to wait for a job; after that it keeps running and `sfharness resume` collects it."),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Update records from a file with one strategy; exits 1 when any record failed or was not processed."""
    if not strategy:
        opt.fail(f"choose a strategy with --strategy or {registry.ENV_VAR} ({', '.join(registry.names())})")
    if strategy not in registry.names():
        opt.fail(f"unknown strategy {strategy!r}; choose from {', '.join(registry.names())}")
    _check_input(input_file)
    options = org
    if not options.wants_real_org:
        opt.fail("update needs an org: give --target-org, or --instance-url with --access-token, or other credentials (see --help)")
    with opt.open_org(options) as conn:
        count, fields = _validate(conn, sobject, input_file)
        limits = fetch_limits(conn)
        api = limits["DailyApiRequests"]
        chosen = strategy
        if strategy == "auto":
            chosen, _ = registry.strategy_class("auto").choose(count, remaining_calls=api["Remaining"])  # type: ignore[attr-defined]
        prediction = predict(chosen, count, _profile())
        reserve = int(api["Max"] * api_reserve / 100)
        plan = {"strategy": strategy, "runs_as": chosen, "records": count, "predicted_calls": prediction.calls,
                "predicted_batches": prediction.batches, "api_remaining": api["Remaining"], "api_max": api["Max"], "reserve": reserve}
        if api["Remaining"] - prediction.calls < reserve:
            opt.fail(f"budget guard: {chosen} needs about {prediction.calls:,} API calls; {api['Remaining']:,} of {api['Max']:,} remain "
                     f"and --api-reserve keeps {reserve:,} ({api_reserve:g}%). Nothing was written.", code=3)
        if dry_run:
            _print({"dry_run": True, "plan": plan}, json_out, f"dry run: {count:,} valid records; {chosen} would use about "
                   f"{prediction.calls:,} API calls and {prediction.batches:,} Bulk batches; {api['Remaining']:,} calls remain. Nothing was written.")
            return
        summary = _run(conn, strategy, sobject, input_file, out, fields, json_out, _strategy_options(strategy, out, serial, concurrency, wait))
    _report(summary, plan, out, json_out)


def _profile():
    from emulator.profiles import get_profile

    return get_profile("realistic")


def _strategy_options(name: str, out: Path, serial: bool, concurrency: int, wait: float) -> dict[str, Any]:
    """The flags as the strategy's options: every run keeps its journal in `out/.state` (`resume --run`
    completes it from there) and Bulk runs wait `wait` s."""
    options = poll_options(name, replace(real_time_policy(), timeout=wait))
    options["state_dir"] = _state_dir(out)
    if name == "bulk1-xml":
        options["serial"] = serial
    if name == "rest":
        options["concurrency"] = concurrency
    return options


def _state_dir(out: Path) -> str:
    return str(out / ".state")


def _run(conn: OrgConnection, name: str, sobject: str, path: Path, out: Path, fields: list[str], json_out: bool, options: dict[str, Any]):
    session = conn.session()
    sink = CsvResultSink(out)
    def announce(job_id: str) -> None:
        if not json_out:
            opt.console.print(f"job {job_id} created (if this run is interrupted: sfharness resume --job-id {job_id} --strategy {name} --out {out})")

    strategy = registry.get(name, session, known_fields=fields, on_job=announce, **options)
    try:
        if not json_out:
            opt.console.print(f"updating {sobject} from {path} with {name}; outcomes go to {out}/")
        return strategy.update(sobject, read_records(path), sink)
    except (RunFailed, RunInterrupted) as exc:
        return exc.summary
    except StrategyError as exc:
        opt.fail(f"{type(exc).__name__}: {exc}")
    finally:
        sink.close()
        closer = getattr(strategy, "close", None)
        if closer:
            closer()
        session.close()


def _report(summary, plan: dict[str, Any], out: Path, json_out: bool) -> None:
    data = {"plan": plan, "summary": summary.to_dict(), "outcome_files": {k: str(out / k) for k in ("success.csv", "failed.csv", "unprocessed.csv")}}
    if json_out:
        print(json.dumps(data))
    else:
        table = Table(title=f"{summary.strategy}: {summary.sobject}")
        for col in ("submitted", "succeeded", "failed", "unprocessed", "pending", "API calls", "batches", "seconds"):
            table.add_column(col, justify="right")
        counts = (summary.submitted, summary.succeeded, summary.failed, summary.unprocessed, summary.pending,
                  summary.api_calls, summary.batches)
        table.add_row(*map(fmt.count, counts), fmt.seconds(summary.wall_seconds))
        opt.console.print(table)
        phases = ", ".join(f"{k} {fmt.count(v)}" for k, v in summary.calls_by_phase.items())
        opt.console.print(f"calls by phase: {phases}")
        for note in summary.notes:
            opt.console.print(f"note: {note}")
        if summary.job_ids:
            opt.console.print("job ids: " + ", ".join(summary.job_ids) + (f"  (resume with: sfharness resume --job-id {summary.job_ids[-1]} --out {out})" if summary.pending else ""))
    if summary.failed or summary.unprocessed or summary.pending or summary.error:
        raise typer.Exit(1)


def _print(data: dict[str, Any], json_out: bool, text: str) -> None:
    if json_out:
        print(json.dumps(data))
    else:
        opt.console.print(text)


@opt.with_org_options
def resume(
    run: Optional[Path] = typer.Option(None, "--run", help="The --out folder of an interrupted update: completes that run from its journal."),
    job_id: Optional[str] = typer.Option(None, "--job-id", help="The bulk job id printed by an interrupted update (or of a job started elsewhere)."),
    strategy: str = typer.Option("bulk2-csv", "--strategy", help="The strategy that started the job: bulk2-csv, bulk1-xml or auto."),
    out: Path = typer.Option(Path("out"), "--out", help="The --out directory of the interrupted run (holds its resume state)."),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Complete an interrupted update from its --out folder (--run), or collect one bulk job (--job-id)."""
    if run is not None:
        _resume_run(run, json_out, org)
        return
    if job_id is None:
        opt.fail("give --run (the --out folder of the interrupted update) or --job-id")
    if strategy not in ("bulk2-csv", "bulk1-xml", "auto"):
        opt.fail("resume works for bulk2-csv, bulk1-xml and auto runs")
    options = org
    if not options.wants_real_org:
        opt.fail("resume needs the org the job runs on (see --help for credentials)")
    with opt.open_org(options) as conn:
        session = conn.session()
        resumed_dir = out / f"resume-{job_id}"
        sink = CsvResultSink(resumed_dir)
        strat = registry.get(strategy, session, state_dir=_state_dir(out), **poll_options(strategy, real_time_policy()))
        try:
            summary = strat.resume(job_id, sink)  # type: ignore[attr-defined]
        except (RunFailed, RunInterrupted) as exc:
            summary = exc.summary
        except StrategyError as exc:
            opt.fail(f"{type(exc).__name__}: {exc}")
        finally:
            sink.close()
            session.close()
    _report(summary, {"job_id": job_id, "strategy": strategy}, resumed_dir, json_out)


def _resume_run(run: Path, json_out: bool, options: OrgOptions) -> None:
    """`resume --run`: the journal in `run/.state` names the strategy; the outcome files in `run` are rebuilt."""
    try:
        name, _saved = journaled_strategy(_state_dir(run))
    except StrategyError as exc:
        opt.fail(f"{run}: {exc}")
    if not options.wants_real_org:
        opt.fail("resume needs the org the run updated (see --help for credentials)")
    with opt.open_org(options) as conn:
        session = conn.session()
        sink = CsvResultSink(run)
        try:
            summary = resume_run(_state_dir(run), session, sink, **poll_options(name, real_time_policy()))
        except (RunFailed, RunInterrupted) as exc:
            summary = exc.summary
        except StrategyError as exc:
            opt.fail(f"{type(exc).__name__}: {exc}")
        finally:
            sink.close()
            session.close()
    _report(summary, {"run": str(run), "strategy": name}, run, json_out)
