"""The ``hepgan`` command line: parse, load config, call the public API.

Every user error is a :class:`~hepgan.exceptions.HepganError`: printed as one
line ``hepgan: error: ...`` with exit code 2; ``--debug`` shows the traceback.
Each command has an ``_add_<name>`` function (its arguments) and a
``_run_<name>`` function (the call into the library).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from hepgan import __version__
from hepgan.exceptions import HepganError

log = logging.getLogger("hepgan")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2 like every other user error."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"hepgan: error: {self.prog}: {message}\n")


# --------------------------------------------------------------------------- sample


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="make physics samples with Pythia 8 + FastJet")
    kinds = p.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    g = kinds.add_parser("gjets", help="prompt photon + jet events with a jet photon candidate (SR/CR)")
    from hepgan.samples.cli import add_gjets_arguments

    add_gjets_arguments(g)
    g.set_defaults(func=_run_sample_gjets)


def _run_sample_gjets(args: argparse.Namespace) -> int:
    from hepgan.samples.cli import run_gjets

    return run_gjets(args)


# --------------------------------------------------------------------------- main


_COMMANDS: list[Callable] = [_add_sample]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hepgan", description="Generative adversarial networks for high-energy physics.")
    parser.add_argument("--version", action="version", version=f"hepgan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="hepgan: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except HepganError as err:
        if args.debug:
            raise
        print(f"hepgan: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("hepgan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
