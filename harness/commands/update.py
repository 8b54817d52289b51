"""`sfharness update` (production mode) and `sfharness resume`: run one strategy, picked by a flag.

Order of checks, so that bad input never reaches the org: the strategy name, the input file and its
header (an Id column, no column twice, UTF-8), then (one describe call) the object and every row: as many
cells as columns, UTF-8, JSON scalars, known fields, well-formed Ids of this object (its key prefix), no
Id twice, at least one record. Each refusal names row, field and reason and exits 2. Then the budget
guard (one /limits call). `--dry-run` stops there. Each run writes its own folder under `--out`
(`harness.run_folder`: outcome files, bulk resume state, run.json), and `resume` adds a job's outcomes to
the folder of the run that started it. Every run keeps its write-ahead journal in the folder's `.state`,
from which `resume --run FOLDER` completes a run killed at any moment. How each way of ending maps
to an exit code is `_ending`'s, with `harness.failures`.

`--operation upsert --external-id FIELD` upserts instead (`strategies.operation` has the rules): the header
must hold FIELD and no Id column, the describe must show FIELD as an external id, every row names a key
and no key twice; run.json records the operation and key, so `resume` continues the upsert; success.csv
adds `created`, and the summary counts created and updated records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from strategies import registry
from strategies.base import RunSummary, UpdateStrategy
from strategies.errors import (
    ApiError,
    ConfigurationError,
    RecordValidationError,
    RunFailed,
    RunInterrupted,
    StrategyError,
)
from strategies.operation import UPDATE_BY_ID, Operation
from strategies.records import Validator, prepare
from strategies.resume import journaled_strategy
from strategies.sinks import FAILED, SUCCEEDED, UNPROCESSED, ResultSink
from strategies.transport import OrgSession

from .. import formatting as fmt
from .. import options as opt
from .. import output
from ..costmodel import predict
from ..failures import (
    EXIT_BUDGET,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_PENDING,
    EXIT_RECORDS,
    JOB_FAILURE_CODES,
    Failure,
    classify,
    did_you_mean,
)
from ..failures import fail as failure
from ..input_file import InputFile, delimiter_of, line_ending_of
from ..orgs import OrgConnection, OrgOptions
from ..outcome_files import OutcomeFiles
from ..progress import RunWatch, new_progress
from ..run_folder import RunFolder
from ..strategy_options import auto_options, concurrency_options, poll_options, real_time_policy
from .limits import fetch_limits

BULK_STRATEGIES = ("bulk2-csv", "bulk1-xml", "auto")


def _check_input(source: InputFile, operation: Operation = UPDATE_BY_ID) -> None:
    path = source.path
    if not path.is_file():
        opt.fail(f"input file not found: {path}")
    if source.is_jsonl:
        return
    try:
        header = source.header()
    except RecordValidationError as err:
        opt.fail(f"{path}: {err}")
    if not header:
        opt.fail(f"{path} is empty: expected a header row with an {operation.key} column")
    if operation.is_upsert:
        names = [name.lower() for name in header]
        if "id" in names:
            opt.fail(
                f"{path} has an Id column: an upsert matches records on {operation.key}, so an Id would name the "
                "record twice",
                hint=f"remove the Id column, or update by Id (without --operation upsert --external-id {operation.key})",
            )
        if operation.key.lower() in names:
            return
        shown = ", ".join(header[:8]) + ("..." if len(header) > 8 else "")
        opt.fail(f"{path} has no {operation.key} column, the key of this upsert (header: {shown})")
    if "id" not in (name.lower() for name in header):
        if len(header) == 1 and source.delimiter not in header[0] and any(d in header[0] for d in ";\t|"):
            opt.fail(
                f"{path} has no Id column (header: {header[0][:60]})",
                hint="is the file delimited by something other "
                "than a comma? say which with --column-delimiter (SEMICOLON, TAB, PIPE, ...)",
            )
        opt.fail(f"{path} has no Id column (header: {', '.join(header[:8])}{'...' if len(header) > 8 else ''})")


def _validate(
    conn: OrgConnection, sobject: str, source: InputFile, operation: Operation = UPDATE_BY_ID
) -> tuple[int, list[str], Operation]:
    """Describe the object (1 call) and check every row (fields, Ids of this object, no Id twice, at least
    one record; an upsert's key instead of Ids; see `records.prepare`); returns (row count, field names,
    the operation with the key field's case rule from the describe)."""
    session = conn.session()
    try:
        with session.phase("describe"):
            body = session.get_json(session.rest_url(f"sobjects/{sobject}/describe"))
    except ApiError as err:
        if err.status != 404:
            raise
        _unknown_object(conn, sobject, err)
    finally:
        session.close()
    fields = [f["name"] for f in body.get("fields", [])]
    described = [f for f in body.get("fields", []) if isinstance(f, dict)]
    opt.check_upsert_key(operation, sobject, described)
    operation = operation.described(described)
    count = 0
    try:
        validator = Validator(known_fields=fields, key_prefix=body.get("keyPrefix") or None, operation=operation)
        prepared = prepare(source.records(), validator=validator, need_count=False)
        try:
            for _ in prepared:
                count += 1
        finally:
            prepared.close()
    except RecordValidationError as err:
        raise _bad_rows(source.path, err, fields) from None
    if count == 0:
        opt.fail(
            f"{source.path}: no records: "
            + ("the file holds no JSON lines" if source.is_jsonl else "the file has a header row but no data rows")
            + ". Nothing was written."
        )
    return count, fields, operation


def _unknown_object(conn: OrgConnection, sobject: str, err: ApiError) -> None:
    """Fail on an object the org does not have, naming the closest one it has (one describe-global call)."""
    session = conn.session()
    try:
        with session.phase("describe"):
            names = [o["name"] for o in session.get_json(session.rest_url("sobjects")).get("sobjects", [])]
    except ApiError:
        names = []
    finally:
        session.close()
    guess = did_you_mean(sobject, names)
    opt.fail(
        f"unknown object {sobject!r} on this org ({err.status} {err.error_code})",
        name="UnknownObject",
        hint=f"did you mean {guess!r}? (-s {guess})"
        if guess
        else "check the object's API name (custom objects end in __c)",
    )


def _bad_rows(path: Path, err: RecordValidationError, fields: list[str]) -> Exception:
    """The failure for rows refused before any call; for a field the object lacks, the closest it has."""
    known = {f.lower() for f in fields}
    unknown = sorted(
        {p.field for p in err.problems if p.field and p.field.lower() != "id" and p.field.lower() not in known}
    )
    guesses = [f"{name!r} -> {guess!r}" for name in unknown if (guess := did_you_mean(name, fields))]
    if unknown:
        hint = (
            f"did you mean {', '.join(guesses)}? Rename the column(s) and run again"
            if guesses
            else "check the field API names (custom fields end in __c); nothing was written"
        )
        return failure(f"{path}: {err}", EXIT_INPUT, name="UnknownField", hint=hint)
    return failure(
        f"{path}: {err}", EXIT_INPUT, name="BadInput", hint="correct the rows named and run again; nothing was written"
    )


@opt.with_org_options
def update(
    sobject: str = typer.Option(..., "--sobject", "-s", help="The object to update, e.g. Byline__c."),
    input_path: Path = typer.Option(
        ...,
        "--input",
        "-f",
        help="CSV (header with Id) or JSON Lines file of records; a corrected failed.csv works as it is.",
    ),
    strategy: str | None = typer.Option(
        None, "--strategy", envvar=registry.ENV_VAR, help="Strategy name; auto allowed."
    ),
    operation_name: str = typer.Option(
        "update",
        "--operation",
        help="update (by Id, the default) or upsert (by --external-id: existing records updated, new ones created).",
    ),
    external_id: str | None = typer.Option(
        None, "--external-id", help="Upsert: the external id field every row is matched on, e.g. Url__c."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate the input and print the plan and predicted cost; write nothing."
    ),
    api_reserve: float = typer.Option(
        10.0,
        "--api-reserve",
        min=0,
        max=100,
        help="Refuse to start if the run would leave less than this % of the daily API allocation.",
    ),
    out: Path = typer.Option(
        Path("out"),
        "--out",
        help="Each run writes a new <out>/<timestamp>/ folder: success.csv, failed.csv, unprocessed.csv, run.json.",
    ),
    serial: bool = typer.Option(False, "--serial", help="Bulk 1.0: Serial concurrency mode (avoids lock contention)."),
    concurrency: int | None = opt.Concurrency,
    profile: str = opt.PlanningProfile,
    wait: float = typer.Option(
        60.0,
        "--wait",
        "-w",
        min=0,
        help="Bulk: minutes to wait for a job; after that it keeps running and `sfharness resume` collects it.",
    ),
    run_async: bool = typer.Option(
        False, "--async", help="Bulk: return once the job is submitted (exit 5); collect it with `sfharness resume`."
    ),
    column_delimiter: str = typer.Option(
        "COMMA",
        "--column-delimiter",
        help="CSV input: COMMA, SEMICOLON, TAB, PIPE, CARET, BACKQUOTE (or the character). Outcome files use it too.",
    ),
    line_ending: str = typer.Option(
        "LF", "--line-ending", help="CSV input: LF or CRLF (either is read); the outcome files are written with it."
    ),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Update records from a file with one strategy. Exit 0 all succeeded, 1 some failed or were not
    processed, 2 bad input, 3 budget guard, 4 org unreachable or credentials refused, 5 job left processing."""
    if not strategy:
        opt.fail(f"choose a strategy with --strategy or {registry.ENV_VAR} ({', '.join(registry.names())})")
    if strategy not in registry.names():
        guess = did_you_mean(strategy, registry.names())
        opt.fail(
            f"unknown strategy {strategy!r}; choose from {', '.join(registry.names())}",
            hint=f"did you mean {guess}?" if guess else None,
        )
    try:
        operation = Operation.parse(operation_name, external_id)
    except ConfigurationError as err:
        opt.fail(str(err), hint="e.g. --operation upsert --external-id Url__c")
    try:
        source = InputFile(input_path, delimiter_of(column_delimiter), line_ending_of(line_ending))
    except ValueError as err:
        opt.fail(str(err))
    _check_input(source, operation)
    model = opt.load_profile(profile)
    if not org.wants_real_org:
        opt.fail(
            "update needs an org: give --target-org, or --instance-url with --access-token, or other credentials (see --help)"
        )
    with opt.open_org(org) as conn:
        count, fields, operation = _validate(conn, sobject, source, operation)
        limits = fetch_limits(conn)
        api = limits["DailyApiRequests"]
        chosen = strategy
        weighed = auto_options(strategy, count, model)  # auto's polls as this org's profile predicts them
        # A CSV input's characters per row stand for a Bulk job's (the same cells, written alike), so the plan
        # sees a one-request job where the run will (it counts its own CSV's characters).
        row_chars = None if source.is_jsonl else source.path.stat().st_size / max(count, 1)
        if strategy == "auto":
            chosen, _ = registry.strategy_class("auto").choose(  # type: ignore[attr-defined]
                count, remaining_calls=api["Remaining"], operation=operation.name, row_chars=row_chars, **weighed
            )
        prediction = predict(
            chosen,
            count,
            model,
            concurrency=concurrency,
            operation=operation.name,
            row_bytes=round(row_chars) if row_chars else None,
        )
        reserve = int(api["Max"] * api_reserve / 100)
        plan = {
            "strategy": strategy,
            "runs_as": chosen,
            **operation.to_dict(),
            "records": count,
            "predicted_calls": prediction.calls,
            "predicted_batches": prediction.batches,
            "api_remaining": api["Remaining"],
            "api_max": api["Max"],
            "reserve": reserve,
        }
        if api["Remaining"] - prediction.calls < reserve:
            raise failure(
                f"budget guard: {chosen} needs about {prediction.calls:,} API calls; {api['Remaining']:,} of {api['Max']:,} "
                f"remain and --api-reserve keeps {reserve:,} ({api_reserve:g}%). Nothing was written.",
                EXIT_BUDGET,
                hint="choose a cheaper strategy (`sfharness plan`), lower --api-reserve, or wait for the allocation to recover",
                result={"plan": plan},
            )
        if dry_run:
            output.text(
                f"dry run: {count:,} valid records; {chosen} would use about {prediction.calls:,} API calls and "
                f"{prediction.batches:,} Bulk batches; {api['Remaining']:,} calls remain. Nothing was written."
            )
            output.finish({"dry_run": True, "plan": plan})
            return
        folder = RunFolder.create(
            out,
            command="update",
            strategy=strategy,
            sobject=sobject,
            input=source.to_dict(),
            records=count,
            **operation.to_dict(),
        )
        doing = f"upserting {sobject} by {operation.key}" if operation.is_upsert else f"updating {sobject}"
        output.text(f"{doing} from {source.path} with {strategy}; outcomes go to {folder}/")
        minutes = 0.0 if run_async else wait
        options = {**_strategy_options(strategy, folder, serial, concurrency, minutes), **weighed}
        run = _run(
            conn,
            folder,
            source,
            lambda session: _described(
                registry.get(
                    strategy,
                    session,
                    known_fields=fields,
                    on_job=_announcer(folder),
                    **operation.options(),
                    **options,
                ),
                operation,
            ),
            lambda chosen, sink, watch: chosen.update(sobject, watch.records(source.records()), sink),
            total=count,
            description=f"{strategy} {sobject}",
            upsert=operation.is_upsert,
        )
    _report(run, plan, folder)


def _described(strategy: UpdateStrategy, operation: Operation) -> UpdateStrategy:
    """`strategy` with the operation `_validate` read from the describe (the key field's case rule)."""
    strategy.operation = operation
    return strategy


def _strategy_options(
    name: str, folder: RunFolder, serial: bool, concurrency: int | None, wait_minutes: float
) -> dict[str, Any]:
    """The flags as the strategy's options: every run keeps its journal in the run folder (`resume --run`
    completes it from there) and Bulk runs wait `wait_minutes`."""
    options = poll_options(name, replace(real_time_policy(), timeout=wait_minutes * 60))
    options["state_dir"] = folder.state_dir
    if name == "bulk1-xml":
        options["serial"] = serial
    return {**options, **concurrency_options(name, concurrency)}


def _announcer(folder: RunFolder) -> Callable[[str], None]:
    def announce(job_id: str) -> None:
        folder.add_job(job_id)
        output.text(
            f"job {job_id} created (if this run is interrupted: sfharness resume --job-id {job_id} --out {folder.path.parent})"
        )

    return announce


@dataclass
class _Finished:
    """A run as the command reports it: the strategy's summary, the files written, why it stopped early."""

    summary: RunSummary
    files: dict[str, dict[str, Any]]
    job_failures: int  # rows left unprocessed because the org failed or aborted their bulk job or batch
    stop: Failure | None


def _run(
    conn: OrgConnection,
    folder: RunFolder,
    source: InputFile | None,
    build: Callable[[OrgSession], UpdateStrategy],
    act: Callable[[UpdateStrategy, ResultSink, RunWatch], RunSummary],
    *,
    total: int | None,
    description: str,
    append: bool = False,
    upsert: bool = False,
) -> _Finished:
    """`act(strategy, sink, watch)` with the folder's outcome files as the sink, under live progress; a run
    that stopped early still reports every record (`RunFailed` / `RunInterrupted` carry the summary)."""
    files = OutcomeFiles(folder.path, source, append=append, upsert=upsert)
    strategy: UpdateStrategy | None = None
    stop: Failure | None = None
    with new_progress(transient=False) as bar:
        watch = RunWatch(bar, description, total)
        session = watch.attach(conn.session())
        try:
            strategy = build(session)
            summary = act(strategy, watch.sink(files), watch)
        except RunInterrupted as exc:
            summary, stop = (
                exc.summary,
                Failure(
                    EXIT_INTERRUPTED,
                    "Interrupted",
                    "interrupted (Ctrl-C)",
                    "records not sent are in unprocessed.csv; a job already submitted keeps running: "
                    "collect it with `sfharness resume`",
                ),
            )
        except RunFailed as exc:
            summary, stop = exc.summary, classify(exc)
        finally:
            files.close()
            if strategy is not None:
                strategy.close()
            session.close()
            watch.refresh()
    job_failures = sum(n for code, n in files.codes.items() if code in JOB_FAILURE_CODES)
    return _Finished(summary, files.files(), job_failures, stop)


def _ending(run: _Finished, folder: RunFolder) -> Failure | None:
    """How the run ended, as the exit code says it: a stop's own cause first (2, 3, 4, 130), then a job
    left processing (5), then records that failed or were not processed (1)."""
    summary, stop = run.summary, run.stop
    resubmit = [Path(run.files[s]["path"]).name for s in (FAILED, UNPROCESSED) if run.files[s]["records"]]
    again = f"correct {' and '.join(resubmit)} in {folder} and pass it back with --input" if resubmit else None
    if stop is not None:
        if stop.status == EXIT_RECORDS and again:
            return Failure(stop.status, stop.name, stop.message, f"{stop.hint}; {again}" if stop.hint else again)
        return stop
    if summary.pending:
        job = summary.job_ids[-1] if summary.job_ids else "JOB_ID"
        return Failure(
            EXIT_PENDING,
            "JobPending",
            f"{summary.pending:,} record(s) are still processing in bulk job {job}",
            f"collect them later with: sfharness resume --job-id {job} --out {folder.path.parent}",
        )
    if run.job_failures:
        reason = next((n for n in summary.notes if " ended " in n), "the org failed the bulk job")
        return Failure(
            EXIT_RECORDS,
            "JobFailed",
            f"{reason} ({run.job_failures:,} record(s) not processed)",
            again or "see the job in Setup > Bulk Data Load Jobs",
        )
    if summary.failed or summary.unprocessed:
        return Failure(
            EXIT_RECORDS,
            "RecordsFailed",
            f"{summary.failed:,} record(s) failed and {summary.unprocessed:,} were not processed, of {summary.submitted:,}",
            again,
        )
    return None


def _report(run: _Finished, plan: dict[str, Any], folder: RunFolder) -> None:
    summary = run.summary
    data = {"plan": plan, "summary": summary.to_dict(), "outcome_folder": str(folder), "outcome_files": run.files}
    if not output.current().json:
        upsert = summary.operation == "upsert"
        title = f"{summary.strategy}: {summary.sobject}" + (f" (upsert by {summary.external_id})" if upsert else "")
        table = Table(title=title)
        columns = ["submitted", "succeeded", "failed", "unprocessed", "pending", "API calls", "batches", "seconds"]
        counts = [
            summary.submitted,
            summary.succeeded,
            summary.failed,
            summary.unprocessed,
            summary.pending,
            summary.api_calls,
            summary.batches,
        ]
        if upsert:  # of the succeeded: created and updated (and, for lost answers read back, unknown)
            columns[2:2] = ["created", "updated"] + (["created?"] if summary.created_unknown else [])
            counts[2:2] = [summary.created, summary.updated] + (
                [summary.created_unknown] if summary.created_unknown else []
            )
        for col in columns:
            table.add_column(col, justify="right")
        table.add_row(*map(fmt.count, counts), fmt.seconds(summary.wall_seconds))
        opt.console.print(table)
        phases = ", ".join(f"{k} {fmt.count(v)}" for k, v in summary.calls_by_phase.items())
        output.text(f"calls by phase: {phases}")
        for note in summary.notes:
            output.text(f"note: {note}")
        if summary.job_ids:
            output.text("job ids: " + ", ".join(summary.job_ids))
        output.text(f"outcomes in {folder}/:")
        for status in (SUCCEEDED, FAILED, UNPROCESSED):
            output.text(
                f"  {Path(run.files[status]['path']).name:<18} {fmt.count(run.files[status]['records']):>9} record(s)"
            )
    output.finish(data, _ending(run, folder))


@opt.with_org_options
def resume(
    run_dir: Path | None = typer.Option(
        None,
        "--run",
        help="The folder of an interrupted update (any run, killed at any moment): completes it from its journal.",
    ),
    job_id: str | None = typer.Option(
        None, "--job-id", "-i", help="The bulk job id printed by an interrupted update (or of a job started elsewhere)."
    ),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="The strategy that started the job (default: the run's, from its run.json; else bulk2-csv).",
    ),
    out: Path = typer.Option(
        Path("out"), "--out", help="The --out of the update that started the job (or that run's own folder)."
    ),
    wait: float = typer.Option(
        60.0, "--wait", "-w", min=0, help="Minutes to wait for the job; it keeps running after that."
    ),
    json_out: bool = opt.JsonOut,
    org: OrgOptions = None,  # type: ignore[assignment]  # filled in by with_org_options
) -> None:
    """Complete an interrupted update from its folder (--run), or wait for a bulk job an earlier update left
    running and add its outcomes to that run's folder (--job-id)."""
    if run_dir is not None:
        _resume_run(run_dir, wait, org)
        return
    if job_id is None:
        opt.fail("give --run (the folder of the interrupted update) or --job-id")
    folder = RunFolder.for_job(out, job_id)
    if folder is None:
        output.warn(
            f"no run folder under {out} started job {job_id}: its outcomes go to a new folder, without input rows"
        )
        folder = RunFolder.create(out, command="resume", strategy=strategy or "bulk2-csv", job_ids=[job_id])
    name = strategy or folder.manifest.get("strategy") or "bulk2-csv"
    if name not in BULK_STRATEGIES:
        opt.fail(f"resume works for {', '.join(BULK_STRATEGIES)} runs; this one used {name}")
    operation = Operation.parse(folder.manifest.get("operation"), folder.manifest.get("external_id"))
    _resume_into(
        folder,
        org,
        name,
        operation.options(),
        lambda chosen, sink, _watch: chosen.resume(job_id, sink),  # type: ignore[attr-defined]
        wait=wait,
        announce=f"collecting job {job_id} ({name}); outcomes go to {folder}/",
        description=f"{name} job {job_id}",
        plan={"job_id": job_id, "strategy": name},
        append=True,
    )


def _resume_run(path: Path, wait: float, org: OrgOptions) -> None:
    """`resume --run`: the journal in the folder names the strategy and its options; the folder's outcome
    files are rewritten with every input row exactly once (outcomes already known, rows in doubt looked up,
    rows never sent sent now)."""
    folder = RunFolder.at(path)
    try:
        name, saved = journaled_strategy(folder.state_dir)
    except StrategyError as exc:
        opt.fail(f"{path}: {exc}")
    _resume_into(
        folder,
        org,
        name,
        saved,
        lambda chosen, sink, _watch: chosen.resume_run(sink),
        wait=wait,
        announce=f"completing the {name} run in {folder}/ from its journal",
        description=f"{name} resume",
        plan={"run": str(path), "strategy": name},
        append=False,
    )


def _resume_into(
    folder: RunFolder,
    org: OrgOptions,
    name: str,
    options: dict[str, Any],
    act: Callable[[UpdateStrategy, ResultSink, RunWatch], RunSummary],
    *,
    wait: float,
    announce: str,
    description: str,
    plan: dict[str, Any],
    append: bool,
) -> None:
    """Both ways of resuming: strategy `name` (with `options`, polling up to `wait` minutes) resumes into
    the run folder's outcome files (`append`: add to them; else rewrite them), and the run is reported."""
    if not org.wants_real_org:
        opt.fail("resume needs the org the run updated (see --help for credentials)")
    output.text(announce)
    policy = replace(real_time_policy(), timeout=wait * 60)
    with opt.open_org(org) as conn:
        run = _run(
            conn,
            folder,
            folder.input_file,
            lambda session: registry.get(
                name, session, state_dir=folder.state_dir, **{**options, **poll_options(name, policy)}
            ),
            act,
            total=None,
            description=description,
            append=append,
            upsert=options.get("operation") == "upsert",
        )
    _report(run, plan, folder)
