"""`copctl`: the operator CLI of the CoP Platform."""

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Operate the CoP Platform: local stack, events, schemas.", no_args_is_help=True
)
dev = typer.Typer(help="The local stack without Docker (Kafka, MongoDB protocol, Redis, sinks, "
                  "the four services).", no_args_is_help=True)  # fmt: skip
app.add_typer(dev, name="dev")
sources = typer.Typer(
    help="Source systems allowed to send events to the inbound gateway.", no_args_is_help=True
)
app.add_typer(sources, name="sources")
dlq = typer.Typer(help="Messages a service gave up on: list and re-drive.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
knowledge = typer.Typer(help="The knowledge service's artifacts.", no_args_is_help=True)
app.add_typer(knowledge, name="knowledge")
impact = typer.Typer(help="The impact service: who owns which service.", no_args_is_help=True)
app.add_typer(impact, name="impact")

KafkaOption = Annotated[
    str,
    typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers."),
]
EventsUrlOption = Annotated[
    str, typer.Option(envvar="EVENTS_URL", help="The events service's base URL.")
]
LOCAL_TOKEN_SECRET = "local-dev-token-secret-change-me"
SecretOption = Annotated[
    str, typer.Option(envvar="AUTH_TOKEN_SECRET", help="the services' token secret")
]
RecognitionUrlOption = Annotated[
    str, typer.Option("--url", envvar="RECOGNITION_URL", help="The recognition service's base URL.")
]
KnowledgeUrlOption = Annotated[
    str, typer.Option("--url", envvar="KNOWLEDGE_URL", help="The knowledge service's base URL.")
]


@dev.command("up")
def dev_up(
    traces: Annotated[
        bool,
        typer.Option(
            "--traces",
            envvar="COP_TRACE_VIEWER",
            help="also start the trace viewer (Jaeger, built with Go) and export traces to it",
        ),
    ] = False,
) -> None:
    """Start everything on the local defaults and wait until every service is ready."""
    from copctl.devstack.processes import StackError
    from copctl.devstack.stack import up

    began = time.monotonic()
    try:
        infra, urls = up(traces=traces)
    except StackError as e:
        typer.secho(f"dev up failed: {e}", fg="red", err=True)
        raise typer.Exit(1) from e
    from copctl.devstack import mongo
    from copctl.devstack.paths import local_dir

    typer.echo(f"CoP Platform is up ({time.monotonic() - began:.1f}s).")
    for name, note in infra.notes.items():
        typer.echo(f"  {name:<12} {note}")
    typer.echo(f"  Kafka        {infra.kafka_bootstrap_servers}")
    typer.echo(f"  MongoDB      {infra.mongodb_uri} ({mongo.flavour()})")
    typer.echo(f"  Redis        {infra.redis_url}")
    typer.echo("  SMTP sink    127.0.0.1:1025 -> " + str(local_dir() / "mail"))
    typer.echo("  Chat sink    http://127.0.0.1:8090 -> " + str(local_dir() / "chat"))
    for name, url in urls.items():
        # The web service is the pages themselves; the others document their API at /docs.
        about = "  (open this first)" if name == "web" else f"  (docs: {url}/docs)"
        typer.echo(f"  {name:<12} {url}{about}")
    typer.echo(f"  Logs         {local_dir() / 'logs'}")
    if traces:
        typer.echo("  Traces       http://127.0.0.1:16686 (Jaeger API; `copctl trace EVENT_ID`)")
    typer.echo("  Metrics      <service URL>/metrics")
    typer.echo("Stop with: copctl dev down")


@dev.command("down")
def dev_down() -> None:
    """Stop exactly the processes `dev up` started."""
    from copctl.devstack.stack import down

    stopped = down()
    typer.echo("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


@dev.command("restart")
def dev_restart(
    name: Annotated[
        str,
        typer.Argument(
            help="events, knowledge, recognition, notifier, impact, kafka, mongodb or redis",
            show_default=False,
        ),
    ],
    hard: Annotated[
        bool, typer.Option("--hard", help="SIGKILL instead of SIGTERM: restart after a crash")
    ] = False,
) -> None:
    """Restart one process of the local stack the way `dev up` started it; wait until it serves."""
    from copctl.devstack.processes import StackError
    from copctl.devstack.stack import RESTARTABLE, restart

    if name not in RESTARTABLE:
        typer.secho(f"cannot restart {name!r}: one of {', '.join(RESTARTABLE)}", err=True)
        raise typer.Exit(2)
    began = time.monotonic()
    try:
        proc = restart(name, hard=hard)
    except StackError as e:
        typer.secho(f"dev restart failed: {e}", fg="red", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"restarted {name} (pid {proc.pid}) in {time.monotonic() - began:.1f}s")


StackNameArg = Annotated[
    str,
    typer.Argument(
        help="events, knowledge, recognition, notifier, impact, smtp-sink, chat-sink, kafka, "
        "mongodb or redis",
        show_default=False,
    ),
]


@dev.command("stop")
def dev_stop(name: StackNameArg) -> None:
    """Stop one process of the local stack, e.g. a service before `copctl replay`."""
    from copctl.devstack.processes import StackError
    from copctl.devstack.stack import STARTABLE, stop_one

    if name not in STARTABLE:
        typer.secho(f"cannot stop {name!r}: one of {', '.join(STARTABLE)}", err=True)
        raise typer.Exit(2)
    try:
        stopped = stop_one(name)
    except StackError as e:
        typer.secho(f"dev stop failed: {e}", fg="red", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"stopped {name}" if stopped else f"{name} was not running")


@dev.command("start")
def dev_start(name: StackNameArg) -> None:
    """Start one process of the local stack again the way `dev up` started it; wait until it
    serves."""
    from copctl.devstack.processes import StackError, running
    from copctl.devstack.stack import STARTABLE, start_one

    if name not in STARTABLE:
        typer.secho(f"cannot start {name!r}: one of {', '.join(STARTABLE)}", err=True)
        raise typer.Exit(2)
    if (already := running(name)) is not None:
        typer.echo(f"{name} is already running (pid {already.pid})")
        return
    began = time.monotonic()
    try:
        proc = start_one(name)
    except StackError as e:
        typer.secho(f"dev start failed: {e}", fg="red", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"started {name} (pid {proc.pid}) in {time.monotonic() - began:.1f}s")


@dev.command("status")
def dev_status() -> None:
    """What is running, and where."""
    from copctl.devstack.stack import status

    for name, state, detail in status():
        typer.echo(f"{name:<12} {state:<32} {detail}")


@app.command("types")
def types() -> None:
    """List the event types of the catalog with their topics, then the CDEvents families the
    gateway takes from CI/CD systems (any 0.x version of each)."""
    from shared.events.catalog import CATALOG
    from shared.events.cdevents import FAMILIES

    for spec in [*CATALOG.values(), *FAMILIES.values()]:
        typer.echo(f"{spec.type:<36} {spec.topic:<18} {spec.summary}")


@app.command("emit")
def emit(
    event_type: Annotated[str, typer.Argument(help="e.g. cop.member.profile_updated.v1")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            exists=True,
            dir_okay=False,
            help="JSON file: the event's data, or a whole CloudEvent.",
        ),
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="data field as key=value (JSON values allowed)."),
    ] = None,
    source: Annotated[str, typer.Option(help="CloudEvents source.")] = "cop/copctl",
    event_id: Annotated[
        str | None, typer.Option("--id", help="event id (default: new UUID)")
    ] = None,
    topic_prefix: Annotated[str, typer.Option(envvar="KAFKA_TOPIC_PREFIX")] = "",
    bootstrap_servers: KafkaOption = "127.0.0.1:9092",
    dry_run: Annotated[bool, typer.Option(help="print the event, do not send it")] = False,
) -> None:
    """Validate a catalog event and publish it to its topic, keyed as the contract says."""
    from copctl.emit import build_event
    from shared.events.codec import InvalidEvent

    try:
        event = build_event(
            event_type, file=file, assignments=assignments or [], source=source, event_id=event_id
        )
    except InvalidEvent as e:
        typer.secho(json.dumps(e.as_dict(), indent=2), fg="red", err=True)
        raise typer.Exit(2) from e
    typer.echo(event.model_dump_json(indent=2, exclude_none=True))
    if not dry_run:
        from copctl.emit import publish
        from copctl.topics import operator_security

        security = operator_security()
        asyncio.run(publish(event, bootstrap_servers, topic_prefix=topic_prefix, security=security))
        typer.echo(f"published {event.type} {event.id}")


@app.command("schemas")
def schemas(
    out: Annotated[Path, typer.Option(help="output directory")] = Path("docs/schemas"),
) -> None:
    """Write a JSON Schema per event type and the AsyncAPI document, generated from the models."""
    from shared.events.schemas import asyncapi_document, json_schemas

    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, schema in json_schemas().items():
        (out / name).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written += 1
    (out / "asyncapi.json").write_text(json.dumps(asyncapi_document(), indent=2) + "\n")
    typer.echo(f"wrote {written} JSON Schemas and asyncapi.json to {out}")


@app.command("topics")
def topics(
    bootstrap_servers: KafkaOption = "127.0.0.1:9092",
    partitions: Annotated[int, typer.Option(envvar="KAFKA_TOPIC_PARTITIONS")] = 6,
    topic_prefix: Annotated[str, typer.Option(envvar="KAFKA_TOPIC_PREFIX")] = "",
) -> None:
    """Create the contract's topics that are missing."""
    from copctl.topics import operator_security
    from shared.kafka import ensure_topics

    security = operator_security()
    created = asyncio.run(
        ensure_topics(
            bootstrap_servers, partitions=partitions, topic_prefix=topic_prefix, security=security
        )
    )
    typer.echo("created: " + (", ".join(created) if created else "none (all exist)"))


def _operator_call(
    client_type: Callable[[str, str], Any], url: str, secret: str, action: Callable[[Any], Any]
) -> Any:
    """Run `action` with a client (an `OperatorClient`) of a service's admin API; exit on its
    errors."""
    from copctl.operator_http import ServiceError

    try:
        with client_type(url, secret) as client:
            return action(client)
    except ServiceError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(e.exit_code) from e


def _sources_call(events_url: str, secret: str, action: Callable[[Any], Any]) -> Any:
    """Run `action` with a client of the events service's `/sources` API; exit on its errors."""
    from copctl.sources import SourcesClient

    return _operator_call(SourcesClient, events_url, secret, action)


@sources.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="the system's name; its events' CloudEvents source")],
    types: Annotated[str, typer.Option("--types", help="comma-separated event types it may emit")],
    rate_limit: Annotated[
        int | None, typer.Option(help="events per minute (default: the service's setting)")
    ] = None,
    events_url: EventsUrlOption = "http://127.0.0.1:8081",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """Register a source system and print its API key (shown once; only its hash is stored)."""
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    registered = _sources_call(events_url, secret, lambda c: c.add(name, wanted, rate_limit))
    typer.echo(f"registered {registered['name']} for {', '.join(registered['types'])}")
    typer.echo(f"API key (store it now, it is not shown again): {registered['api_key']}")


@sources.command("list")
def sources_list(
    events_url: EventsUrlOption = "http://127.0.0.1:8081",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """The registered source systems (never their keys)."""
    for source in _sources_call(events_url, secret, lambda c: c.all()):
        state = "active" if source["active"] else "revoked"
        typer.echo(f"{source['name']:<24} {state:<8} {source['rate_limit_per_minute']:>6}/min  "
                   f"{', '.join(source['types'])}")  # fmt: skip


@sources.command("rotate")
def sources_rotate(
    name: str,
    overlap: Annotated[
        int | None,
        typer.Option(
            "--overlap",
            metavar="SECONDS",
            help="how long the current key keeps working (0: stop it now; default: the "
            "service's, 24 h)",
        ),
    ] = None,
    events_url: EventsUrlOption = "http://127.0.0.1:8081",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """Give a source a new API key and print it (shown once); the current key keeps working
    until the time printed, so the system can switch to the new one."""
    rotated = _sources_call(events_url, secret, lambda c: c.rotate(name, overlap))
    typer.echo(f"rotated the key of {rotated['name']}")
    typer.echo(f"API key (store it now, it is not shown again): {rotated['api_key']}")
    typer.echo(f"previous_key_valid_until: {rotated['previous_key_valid_until']}")


@sources.command("revoke")
def sources_revoke(
    name: str,
    events_url: EventsUrlOption = "http://127.0.0.1:8081",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """Revoke a source's API key; its later requests get 401."""
    _sources_call(events_url, secret, lambda c: c.revoke(name))
    typer.echo(f"revoked {name}")


@app.command("token")
def token(
    member_id: Annotated[str, typer.Argument(help="the member the token speaks for")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="e.g. admin: may act for any member")
    ] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
    secret: SecretOption = LOCAL_TOKEN_SECRET,
    audience: Annotated[
        str,
        typer.Option(
            envvar="AUTH_TOKEN_AUDIENCE", help="the `aud` claim, when the services require one"
        ),
    ] = "",
) -> None:
    """Print a member's bearer token, signed with the services' AUTH_TOKEN_SECRET."""
    from shared.tokens import issue_token

    try:
        token = issue_token(
            secret, member_id, scopes=tuple(scope or ()), ttl_s=ttl, audience=audience
        )
    except ValueError as e:
        typer.echo(f"cannot issue that token: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


@app.command("health")
def health(
    community: Annotated[str, typer.Argument(help="the community's id")],
    period: Annotated[
        str | None, typer.Option(help="YYYY-MM or YYYY-Qn (default: the current month)")
    ] = None,
    url: RecognitionUrlOption = "http://127.0.0.1:8083",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """A community's health for a month or quarter, beside the previous period's and the change."""
    from rich.console import Console

    from copctl.health import HealthClient, table

    report = _operator_call(HealthClient, url, secret, lambda c: c.health(community, period))
    Console().print(table(report))


ServiceArg = Annotated[
    str, typer.Argument(help="events, knowledge, recognition, notifier or impact")
]


@app.command("replay")
def replay_command(service: ServiceArg) -> None:
    """Rebuild a stopped service's projection from the topics; it re-applies them on its next start.

    Reads the service's settings from the environment (MONGODB_URI, KAFKA_BOOTSTRAP_SERVERS, ...).
    """
    from copctl.replay import REBUILDS, ReplayRefused, replay

    if service not in REBUILDS:
        typer.secho(f"{service} keeps no projection to rebuild", err=True)
        raise typer.Exit(2)
    try:
        done = asyncio.run(replay(service, REBUILDS[service].settings()))
    except ReplayRefused as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"{service}: dropped {', '.join(done['dropped'])}; {done['group']} rewound on "
        f"{done['partitions']} partitions. Start {service} to rebuild (local stack: "
        f"`copctl dev start {service}`)."
    )


@dlq.command("list")
def dlq_list(
    service: ServiceArg,
    bootstrap_servers: KafkaOption = "127.0.0.1:9092",
    topic_prefix: Annotated[str, typer.Option(envvar="KAFKA_TOPIC_PREFIX")] = "",
) -> None:
    """Show every dead letter of a service: where it came from, its event and the error."""
    from copctl.dlq import read_dead_letters
    from copctl.topics import operator_security

    security = operator_security()
    letters = asyncio.run(
        read_dead_letters(bootstrap_servers, service, topic_prefix, security=security)
    )
    for letter in letters:
        typer.echo(json.dumps(letter.summary))
    typer.echo(f"{len(letters)} dead letter(s) on {topic_prefix}cop.dlq.{service}", err=True)


@dlq.command("redrive")
def dlq_redrive(
    service: ServiceArg,
    offsets: Annotated[
        list[str] | None,
        typer.Option("--offset", help="PARTITION@OFFSET as `dlq list` shows; repeatable"),
    ] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="re-drive every dead letter")] = False,
    bootstrap_servers: KafkaOption = "127.0.0.1:9092",
    topic_prefix: Annotated[str, typer.Option(envvar="KAFKA_TOPIC_PREFIX")] = "",
) -> None:
    """Publish dead letters back to their original topic (handlers are idempotent by event id)."""
    from copctl.dlq import read_dead_letters, redrive
    from copctl.topics import operator_security

    if not offsets and not all_letters:
        typer.secho("give --offset PARTITION@OFFSET (repeatable) or --all", err=True)
        raise typer.Exit(2)
    security = operator_security()
    letters = asyncio.run(
        read_dead_letters(bootstrap_servers, service, topic_prefix, security=security)
    )
    if not all_letters:
        wanted = set(offsets or [])
        letters = [d for d in letters if f"{d.partition}@{d.offset}" in wanted]
    sent = asyncio.run(redrive(bootstrap_servers, letters, security=security))
    typer.echo(f"re-drove {sent} dead letter(s)")


@knowledge.command("import")
def knowledge_import(
    directory: Annotated[
        Path,
        typer.Argument(
            exists=True,
            file_okay=False,
            metavar="DIR",
            help="the tree of Markdown files (.md, .markdown)",
        ),
    ],
    community: Annotated[str, typer.Option("--community", help="the community's id")],
    member: Annotated[
        str, typer.Option("--as", help="the member the import acts as (the default author)")
    ],
    admin: Annotated[
        bool,
        typer.Option("--admin", help="act with the admin scope: publish and revise for others"),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would change, change nothing")
    ] = False,
    url: KnowledgeUrlOption = "http://127.0.0.1:8082",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """Publish each Markdown file of DIRECTORY as an artifact of the community; run again to
    revise the files that changed (unchanged ones are left alone, retired ones too).

    The service lets a member publish only in their own name: when a file's
    `authors` do not include the --as member, that file is refused unless
    --admin is given. Revising takes an author, the community's leader or
    --admin. Exits 1 when any file failed.

    Each file's artifact id comes from the community and the file's path, so
    moving or renaming a file publishes a new artifact. A revision cannot
    change the kind or the authors.

    Front matter (YAML, optional):
      kind     pattern, decision_log, template, playbook, checklist,
               case_study, bibliography, minutes or guide (default: guide)
      title    default: the first `# ` heading, else the file name
      summary  default: empty
      tags     lowercased, spaces as '-'; tags that still do not fit are
               dropped with a warning
      authors  member ids (default: the --as member)
    """
    from copctl.knowledge import ImportAborted, import_tree, lines
    from shared.tokens import ADMIN, issue_token

    try:
        token = issue_token(secret, member, scopes=(ADMIN,) if admin else (), ttl_s=3600)
    except ValueError as e:
        typer.secho(f"cannot sign a token for {member!r}: {e}", fg="red", err=True)
        raise typer.Exit(2) from None

    async def run() -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30) as c:
            return await import_tree(c, directory, community, member, dry_run=dry_run)

    try:
        report = asyncio.run(run())
    except ImportAborted as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(e.exit_code) from e
    for style, line in lines(report):
        typer.secho(line, fg=style if style not in ("", "bold") else None, bold=style == "bold")
    if report.failed:
        raise typer.Exit(1)


@impact.command("import-catalog")
def impact_import_catalog(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            metavar="PATH",
            help="a catalog-info.yaml, or a directory searched for them",
        ),
    ],
    url: Annotated[
        str, typer.Option("--url", envvar="IMPACT_URL", help="The impact service's base URL.")
    ] = "http://127.0.0.1:8085",
    secret: SecretOption = LOCAL_TOKEN_SECRET,
) -> None:
    """Give each Backstage component's service to its owner (`spec.owner`, a group).

    The service id is the component's `metadata.name`, or its annotation
    `cop.platform/service-id`. A service whose owner is unchanged is left
    alone; a new owner takes it from now on. Exits 1 when any component
    failed.
    """
    from copctl.impact import ImportAborted, import_catalog
    from copctl.operator_http import OPERATOR
    from shared.tokens import ADMIN, issue_token

    token = issue_token(secret, OPERATOR, scopes=(ADMIN,), ttl_s=600)

    async def run() -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=30) as c:
            return await import_catalog(c, path)

    try:
        report = asyncio.run(run())
    except ImportAborted as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(e.exit_code) from e
    for ownership in report.assigned:
        typer.echo(f"assigned   {ownership.service_id} -> {ownership.team}")
    for ownership in report.unchanged:
        typer.echo(f"unchanged  {ownership.service_id} -> {ownership.team}")
    for where, why in report.failed:
        typer.secho(f"failed     {where}: {why}", fg="red")
    typer.echo(
        f"{len(report.assigned)} assigned, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        raise typer.Exit(1)


@app.command("trace")
def trace_command(
    event_id: Annotated[
        str, typer.Argument(help="an event id (e.g. POST /kudos' event_id), or a trace id")
    ],
    viewer: Annotated[
        str,
        typer.Option(envvar="COP_TRACE_VIEWER_URL", help="the trace viewer's (Jaeger's) URL"),
    ] = "http://127.0.0.1:16686",
    files: Annotated[
        Path | None,
        typer.Option(
            "--files",
            file_okay=False,
            help="read the services' span files (COP_TRACE_FILE) in this folder instead, "
            "e.g. .local/traces",
        ),
    ] = None,
) -> None:
    """Print an event's trace as a tree: service, span, duration, status."""
    import httpx

    from copctl.trace import JaegerApi, TraceNotFound, trace_from_files, tree_lines

    try:
        if files is not None:
            spans = trace_from_files(files, event_id)
        else:
            with JaegerApi(viewer) as api:
                spans = api.find(event_id)
    except TraceNotFound as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from e
    except httpx.HTTPError as e:
        typer.secho(f"the trace viewer at {viewer} did not answer: {e}", fg="red", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"trace {spans[0].trace_id} ({len(spans)} spans)")
    for line in tree_lines(spans):
        typer.echo(line)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
