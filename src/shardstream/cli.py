"""The ``shardstream`` command line.

``shardstream`` (or ``python -m shardstream``) is a click group.  Small
commands live here; each bigger command lives in a module of its own and is
registered in ``COMMANDS`` as ``"module:attribute"``, imported only when that
command runs, so ``shardstream --help`` and ``--version`` stay fast and a
command's optional dependencies (pandas for ``demo``) are needed only by it.

To add a command (``serve``, ``replay``, ``kcl``, ...): write
``src/shardstream/<name>.py`` defining a ``click.Command`` and add one entry
to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys

import click

from . import __version__

__all__ = ["COMMANDS", "main"]

#: Lazily imported subcommands: name -> "module:attribute" (module relative to this package).
COMMANDS: dict[str, str] = {
    "backup": ".backup_cli:backup",
    "bench": ".bench_cli:bench",
    "create": ".stream_cli:create",
    "delete": ".stream_cli:delete",
    "demo": ".demo:demo",
    "describe": ".stream_cli:describe",
    "groups": ".groups_cli:groups",
    "kcl": ".kcl_cli:kcl",
    "list": ".stream_cli:list_streams",
    "put": ".put_cli:put",
    "replay": ".replay_cli:replay",
    "replicate": ".replicate_cli:replicate",
    "restore": ".backup_cli:restore",
    "serve": ".serve:serve",
    "tail": ".tail_cli:tail",
    "top": ".top_cli:top",
}


class LazyGroup(click.Group):
    """A click group whose subcommands in ``lazy_commands`` are imported on first use.

    Parameters
    ----------
    lazy_commands : dict of str to str
        Command name to ``"module:attribute"``; a module starting with ``.``
        is relative to the ``shardstream`` package.
    **kwargs
        Passed on to :class:`click.Group`.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """All command names, eager and lazy, sorted (``ctx`` as click passes it)."""
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command called ``cmd_name``, importing its module if it is lazy.

        Parameters
        ----------
        ctx : click.Context
        cmd_name : str

        Returns
        -------
        click.Command or None
            None for an unknown name (click then reports it).

        Raises
        ------
        TypeError
            A lazy entry that names something other than a click command.
        """
        if cmd_name in self.lazy_commands:
            module_name, attr = self.lazy_commands[cmd_name].split(":", 1)
            module = importlib.import_module(module_name, package=__package__)
            command = getattr(module, attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}:{attr} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="shardstream", message="%(prog)s %(version)s")
def main() -> None:
    """shardstream: an embedded, Kinesis-compatible data-stream engine."""


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def info_lines() -> list[tuple[str, str]]:
    """What ``shardstream info`` reports, as (label, value) pairs.

    Returns
    -------
    list of tuple of (str, str)
        shardstream's version and location, the MD5 kernel routing uses
        (``avx512``, ``avx2`` or ``scalar``), and the versions of Python, NumPy, PyArrow, click and pandas.
    """
    import numpy
    import pyarrow

    from .routing import md5_kernel

    return [
        ("shardstream", __version__),
        ("location", os.path.dirname(os.path.abspath(__file__))),
        ("md5 kernel", md5_kernel()),
        ("python", f"{platform.python_version()} ({platform.python_implementation()}, {sys.platform})"),
        ("numpy", numpy.__version__),
        ("pyarrow", pyarrow.__version__),
        ("click", _dist_version("click")),
        ("pandas", _dist_version("pandas")),
    ]


@main.command()
def info() -> None:
    """Show the version, SIMD support and library versions."""
    lines = info_lines()
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label:<{width}}  {value}")


if __name__ == "__main__":  # pragma: no cover
    main()
