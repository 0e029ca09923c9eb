"""The `sightline` console script: a thin dispatcher over one module per subcommand.

Every other module of this package is one subcommand: it defines ``register(subparsers)`` and keeps heavy
imports inside its handler, so that `sightline --help` and the headless commands never load Qt or VTK. A
plugin adds its own subcommands the same way, through the functions its manifest's ``[host] commands`` names
(e.g. `sightline calcium-score`)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys


def command_modules() -> list[str]:
    """Names of the subcommand modules of this package (each defines ``register``)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name != "__main__")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="sightline",
        description="Sightline reading workstation (research software; phantom-trained models, not for clinical use).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    _register_plugin_commands(subparsers)
    return parser


def _register_plugin_commands(subparsers: argparse._SubParsersAction) -> None:
    """The subcommands of the discovered plugins (a plugin whose command cannot load is named on stderr)."""
    from engine.ai.registry import PluginRefused, discover

    for plugin in discover().plugins.values():
        for spec in plugin.manifest.host.commands:
            try:
                plugin.host_object(spec)(subparsers)
            except (PluginRefused, argparse.ArgumentError) as error:
                print(f"sightline: plugin {plugin.id}: command {spec} not added ({error})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
