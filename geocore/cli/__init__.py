"""The ``geocore`` command line (``python -m geocore COMMAND ...``).

Each command lives in its own module with ``register(subparsers)``, which adds
its sub-parser and sets ``func`` to a ``run(args) -> int``. Expected errors
(:class:`geocore.errors.GeocoreError`) print one clear line and exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..errors import GeocoreError

__all__ = ["build_parser", "main"]

#: Modules of ``geocore.cli`` that each provide one command.
COMMAND_MODULES = ("georef", "catalog", "targets", "detect", "extract", "evaluate", "demo")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="geocore",
        description="Mars crater geodesy: THEMIS tiles, crater catalogues, targets, vectors.",
    )
    parser.add_argument("--version", action="version", version=f"geocore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except GeocoreError as err:
        print(f"geocore {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"geocore {args.command}: interrupted; no output was left behind", file=sys.stderr)
        return 130
