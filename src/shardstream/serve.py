"""``shardstream serve``: run the Kinesis-compatible HTTP API over an Engine (in memory or on disk)."""

from __future__ import annotations

import click

__all__ = ["ACCESS_LOG_FORMAT", "serve"]

#: aiohttp access-log format: client, time, request line, status, bytes, seconds, Kinesis operation.
ACCESS_LOG_FORMAT = '%a %t "%r" %s %b %Tf "%{X-Amz-Target}i"'


def _configure_logging(level: str, access_log: str | None, log_format: str = "text"):
    """Send shardstream's log to stderr at ``level``; the access logger (or None when off).

    Parameters
    ----------
    level : str
        debug, info, warning or error.
    access_log : str or None
        None: no access log; ``"-"``: stderr; otherwise a file appended to.
    log_format : {"text", "json"}
        Plain lines, or one JSON object a line (:mod:`shardstream.server.logs`).

    Returns
    -------
    logging.Logger or None
    """
    import logging
    import sys

    if log_format == "json":
        from .server.logs import JsonFormatter

        fmt = JsonFormatter()
    else:
        fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(fmt)
    root = logging.getLogger("shardstream")
    root.setLevel(level.upper())
    root.addHandler(handler)
    aio = logging.getLogger("aiohttp.server")  # aiohttp's own errors (bad requests, ...)
    aio.setLevel(level.upper())
    aio.addHandler(handler)
    if access_log is None:
        return None
    try:
        target = logging.StreamHandler(sys.stderr) if access_log == "-" else logging.FileHandler(access_log)
    except OSError as exc:
        raise click.ClickException(f"--access-log {access_log}: {exc}") from exc
    target.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("shardstream.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(target)
    return logger


def _access_log_style(log_format: str) -> dict:
    """``web.run_app``'s access-log arguments for ``log_format``."""
    if log_format == "json":
        from .server.logs import JsonAccessLogger

        return {"access_log_class": JsonAccessLogger}
    return {"access_log_format": ACCESS_LOG_FORMAT}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=4567, show_default=True, type=int, help="TCP port (0 picks a free one).")
@click.option("--region", default="us-east-1", show_default=True, help="Region named in stream ARNs.")
@click.option(
    "--regions",
    "regions",
    default=None,
    metavar="R1,R2,...",
    help="Serve only these regions besides --region (comma-separated); requests signed for others get 400 "
    "InvalidSignatureException.  Default: any region, up to --max-regions.",
)
@click.option(
    "--max-regions",
    default=None,
    type=click.IntRange(min=1),
    help="Most regions served (--region included), each with its own engine made on its first request "
    "[default: 8, or every --regions one].",
)
@click.option("--account-id", default="000000000000", show_default=True, help="Account named in ARNs and errors.")
@click.option(
    "--shard-limit",
    default=20_000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Most open shards across all streams, reported by DescribeLimits (the us-east-1 quota; 0: no limit).",
)
@click.option(
    "--transition-ms",
    default=0,
    show_default=True,
    type=int,
    help="How long streams stay CREATING/UPDATING/DELETING (kinesalite uses 500).",
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Keep streams on disk here (each region in <data-dir>/<region>) so they survive restarts; "
    "without it everything is in memory.",
)
@click.option(
    "--durability",
    default="sync",
    show_default=True,
    type=click.Choice(["sync", "interval", "none"]),
    help="With --data-dir: a put returns once on disk (sync), or writes are synced every "
    "--flush-interval-ms (interval) or never (none).",
)
@click.option(
    "--flush-interval-ms", default=200, show_default=True, type=click.IntRange(min=1), help="Background flush period."
)
@click.option(
    "--auth",
    "auth_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON key table: verify SigV4 signatures and limit keys to actions/streams. "
    "Without it any well-formed signature is accepted.",
)
@click.option(
    "--tls-cert",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM certificate (chain) to serve HTTPS with; needs --tls-key.",
)
@click.option(
    "--tls-key",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM private key for --tls-cert.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Least severe log message written to stderr.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"], case_sensitive=False),
    help="Log lines as text, or as one JSON object each (the access log too).",
)
@click.option(
    "--access-log",
    default=None,
    is_flag=False,
    flag_value="-",
    metavar="[FILE]",
    help="Log one line per request to FILE (appended), or to stderr when given without FILE or as '-'. Off by default.",
)
@click.option(
    "--kms-keys",
    type=click.Path(dir_okay=False, exists=True),
    help="A JSON file of 32-byte keys (base64 or hex) by KMS key id, alias or ARN: the local key store "
    "StartStreamEncryption uses; with --data-dir, encrypted streams are stored encrypted (AES-256-GCM).",
)
@click.option(
    "--standby",
    is_flag=True,
    help="Serve as a standby replica: writes only from a replicator until promoted (POST /_shardstream/promote).",
)
def serve(
    host: str,
    port: int,
    region: str,
    regions: str | None,
    max_regions: int | None,
    account_id: str,
    shard_limit: int,
    transition_ms: int,
    data_dir: str | None,
    durability: str,
    flush_interval_ms: int,
    auth_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    log_level: str,
    log_format: str,
    access_log: str | None,
    kms_keys: str | None,
    standby: bool = False,
) -> None:
    """Serve a Kinesis-compatible API (JSON 1.1 and CBOR) over an engine, in memory or on disk.

    Point any Kinesis client at it, e.g.
    ``aws --endpoint-url http://127.0.0.1:4567 kinesis list-streams``.
    Ctrl-C stops the server.

    ``--tls-cert CERT --tls-key KEY`` (PEM files, both or neither) serve HTTPS.

    ``--auth FILE`` takes ``{"keys": {"AKID": {"secret": "...", "actions": [...] | "*",
    "streams": [...] | "*"}}, "clock_skew_s": 300}``.
    """
    access_logger = _configure_logging(log_level, access_log, log_format.lower())
    region_list = None
    if regions is not None:
        region_list = [r.strip() for r in regions.split(",") if r.strip()]
        if not region_list:
            raise click.UsageError("--regions needs at least one region name")
    if (tls_cert is None) != (tls_key is None):
        missing = "--tls-key" if tls_key is None else "--tls-cert"
        raise click.UsageError(f"--tls-cert and --tls-key go together: {missing} is missing")
    ssl_context = None
    if tls_cert is not None:
        import ssl

        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(tls_cert, tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise click.ClickException(f"--tls-cert {tls_cert} / --tls-key {tls_key}: {exc}") from exc
    scheme = "https" if ssl_context is not None else "http"

    try:
        from aiohttp import web
    except ImportError as exc:  # pragma: no cover
        hint = "shardstream serve needs the server extra: pip install 'shardstream[server]'"
        raise click.ClickException(hint) from exc

    from pathlib import Path

    from .engine import Engine
    from .server.app import DEFAULT_MAX_REGIONS, make_app
    from .storage.datadir import DataDirectoryLocked

    keys = None
    if kms_keys is not None:
        from .keys import KeyStore

        try:
            keys = KeyStore.load(kms_keys)
        except (OSError, ValueError, TypeError) as exc:
            raise click.ClickException(f"--kms-keys {kms_keys}: {exc}") from exc
    try:
        engine = Engine(
            region=region,
            account_id=account_id,
            shard_limit=shard_limit or None,
            transition_ms=transition_ms,
            data_dir=None if data_dir is None else Path(data_dir) / region,
            durability=durability,
            flush_interval_ms=flush_interval_ms,
            keys=keys,
        )
    except (DataDirectoryLocked, OSError, ValueError) as exc:
        raise click.ClickException(f"--data-dir {data_dir}: {exc}") from exc
    auth = None
    if auth_file is not None:
        from .server.auth import AuthConfig

        try:
            auth = AuthConfig.load(auth_file)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"--auth {auth_file}: {exc}") from exc
    fence = None
    if standby:
        from .replication.standby import Standby

        fence = Standby(engine.data_dir)
    app = make_app(engine, auth=auth, regions=region_list, max_regions=max_regions, standby=fence)

    async def announce(_app) -> None:
        mode = f"verifying signatures for {len(auth.keys)} key(s)" if auth is not None else "any signature accepted"
        storage = "in memory" if data_dir is None else f"data in {data_dir} ({durability})"
        if fence is not None:
            storage += f"; {fence.status()['role']}"
        if region_list is not None:
            others = f" and {', '.join(r for r in region_list if r != region)}" if set(region_list) - {region} else ""
        else:
            others = f" and up to {(max_regions or DEFAULT_MAX_REGIONS) - 1} others on demand"
        click.echo(
            f"shardstream serving Kinesis API on {scheme}://{host}:{port} "
            f"(region {region}{others}, account {account_id}; {mode}; {storage})"
        )
        click.echo("Press Ctrl-C to stop.")

    if port != 0:
        app.on_startup.append(announce)
    web.run_app(
        app,
        host=host,
        port=port,
        ssl_context=ssl_context,
        print=None if port != 0 else click.echo,
        access_log=access_logger,
        **_access_log_style(log_format.lower()),
    )
    engine.close()  # other regions' durable engines close at exit
    click.echo("shardstream server stopped.")
