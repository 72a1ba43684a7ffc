"""Command-line glue for ``hepgan sample gjets`` (being written, issue 2)."""

from __future__ import annotations

import argparse


def add_gjets_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)


def run_gjets(args: argparse.Namespace) -> int:
    raise NotImplementedError("hepgan sample gjets is not written yet")
