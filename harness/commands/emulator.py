"""`sfharness emulator serve`: run a local Salesforce org until interrupted."""

from __future__ import annotations

import typer

app = typer.Typer(help="The embedded Salesforce org emulator.", no_args_is_help=True)


def _parse_seed(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.strip().isdigit():
            raise typer.BadParameter(f"--seed expects OBJECT=COUNT, got {value!r}")
        out[name.strip()] = int(count)
    return out


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it on loopback)."),
    port: int = typer.Option(0, help="Port; 0 picks a free one."),
    tls: bool = typer.Option(True, "--tls/--no-tls", help="HTTPS with a throwaway CA (default) or plain HTTP."),
    db: str | None = typer.Option(None, help="SQLite file to keep the org's data in (default: a temp dir)."),
    seed: list[str] = typer.Option([], help="Seed synthetic records, e.g. --seed Byline__c=100000 (repeatable)."),
    profile: str = typer.Option(
        "instant",
        help="Org profile: instant, realistic, heavy-automation, or a profile JSON file (docs/org-profile.md).",
    ),
    time_scale: float | None = typer.Option(None, help="Run the profile this many times faster than real time."),
    edition: str = typer.Option(
        "developer", help="developer (15,000 calls/day), enterprise (100,000) or sandbox (5,000,000)."
    ),
    faults: str | None = typer.Option(None, help="Fault injection, e.g. 'http_503_rate=0.05,seed=7'."),
    schema: list[str] = typer.Option([], help="Extra schema JSON file(s) declaring more objects."),
) -> None:
    """Serve an emulated org; prints one JSON line with its URLs and credentials, then serves until Ctrl-C or SIGTERM (either removes its temporary folder: keys and database)."""
    from emulator.profiles import FaultConfig, get_profile
    from emulator.server import serve_forever

    try:
        fault_config = FaultConfig.parse(faults) if faults else None
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--faults") from None
    try:
        org_profile = get_profile(profile)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--profile") from None
    serve_forever(
        host=host,
        port=port,
        tls=tls,
        db=db,
        seed=_parse_seed(seed),
        profile=org_profile,
        time_scale=time_scale,
        edition=edition,
        faults=fault_config,
        schema_files=tuple(schema),
    )
