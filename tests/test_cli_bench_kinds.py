"""``acd bench KIND``: each lab benchmark named in the CLI's table reaches its own module."""

from __future__ import annotations

import argparse
import importlib

import pytest

from acd.cli import build_parser
from acd.cli.bench import DELEGATED_BENCHES


@pytest.mark.parametrize("bench", DELEGATED_BENCHES, ids=lambda bench: bench.name)
def test_a_delegated_bench_parses_its_modules_options_and_runs_its_entry(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(bench.module)
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(module, bench.entry, lambda args: seen.append(args) or 7)
    args = build_parser(["bench", bench.name]).parse_args(["bench", bench.name])
    assert args.handler(args) == 7
    assert seen == [args]
    probe = argparse.ArgumentParser()
    module.add_arguments(probe)
    assert set(vars(probe.parse_args([]))) <= set(vars(args)), "the CLI parser lacks options the module defines"


def test_every_bench_kind_is_listed_once() -> None:
    parser = build_parser(["bench"])
    bench = next(action for action in parser._subparsers._group_actions[0].choices["bench"]._actions if isinstance(action, argparse._SubParsersAction))
    names = list(bench.choices)
    assert len(names) == len(set(names))
    assert {b.name for b in DELEGATED_BENCHES} | {"routing", "dispatch", "simulate", "ami-ingest", "ami-small-reads", "soak", "reports", "store"} == set(names)
