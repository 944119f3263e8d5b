"""``acd ivr``: validate, show and graph IVR flows.

Exit codes: 0 all valid / done, 1 problems found (or the output could not be made),
2 bad usage such as a path that does not exist.  Problems print as
``FILE:LINE:COL: message`` so editors and CI annotate the right line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from acd.ivr.loader import LoadedFile, load_flow_file
from acd.ivr.render import GraphvizMissing, render_dot, render_image, render_tree
from acd.cli._common import add_settings_argument, settings_or_exit
from acd.ivr.sounds import SoundsDirError, checked_sounds_dir
from acd.settings import Settings
from acd.ivr.validate import FlowPathError, collect_flow_files, flow_files_in, stale_calendar_warnings, validate_paths

DEFAULT_DIR = "ivr_flows"
IMAGE_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ivr", help="IVR flows: validate, show, graph", description="Validate, show and graph IVR flows.")
    commands = parser.add_subparsers(dest="ivr_command", metavar="SUBCOMMAND")
    parser.set_defaults(handler=lambda args: _usage(parser))

    validate = commands.add_parser("validate", help="check flow files; exit 1 when any problem is found")
    validate.add_argument("paths", nargs="*", metavar="PATH", help=f"flow files or folders (default: the settings' ivr.flows_dir, {DEFAULT_DIR}/)")
    sounds = validate.add_mutually_exclusive_group()
    sounds.add_argument(
        "--sounds",
        metavar="DIR",
        help="Asterisk sounds folder to check prompts against (default: the settings' ivr.sounds_dir, else $ACD_SOUNDS_DIR, "
        "else the lab's folder when present; the engine checks the same folder)",
    )
    sounds.add_argument("--no-sounds", action="store_true", help="do not check that prompts exist")
    validate.add_argument("--json", action="store_true", help="print problems as a JSON list of {file, line, column, message}")
    add_settings_argument(validate)
    validate.set_defaults(handler=cmd_validate)

    show = commands.add_parser("show", help="print a flow as a tree")
    show.add_argument("flow", metavar="FLOW", help="flow name or path to a flow file")
    show.add_argument("--dir", help=f"folder to look the flow name up in (default: the settings' ivr.flows_dir, {DEFAULT_DIR})")
    add_settings_argument(show)
    show.set_defaults(handler=cmd_show)

    graph = commands.add_parser("graph", help="draw a flow (.dot, or .svg/.png with Graphviz)")
    graph.add_argument("flow", metavar="FLOW", help="flow name or path to a flow file")
    graph.add_argument("-o", "--output", required=True, metavar="FILE", help="output file: .dot, .svg, .png or .pdf")
    graph.add_argument("--dir", help=f"folder to look the flow name up in (default: the settings' ivr.flows_dir, {DEFAULT_DIR})")
    add_settings_argument(graph)
    graph.set_defaults(handler=cmd_graph)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(message: str, code: int = 2) -> int:
    print(f"acd ivr: {message}", file=sys.stderr)
    return code


def _flows_dir(settings: Settings) -> Path:
    """``ivr.flows_dir`` from ``--settings``/acd.yaml (relative to that file), as ``acd run`` serves it."""
    return settings.resolve(settings.ivr.flows_dir)


def _sounds_dir(args: argparse.Namespace, settings: Settings) -> tuple[Path | None, str | None]:
    """The sounds folder to use, or an error message."""
    if args.no_sounds:
        return None, None
    if args.sounds is not None:
        path = Path(args.sounds).expanduser()
        return (path, None) if path.is_dir() else (None, f"--sounds {args.sounds}: not a folder")
    try:
        return checked_sounds_dir(settings.resolve(settings.ivr.sounds_dir) if settings.ivr.sounds_dir else None), None
    except SoundsDirError as exc:
        return None, str(exc)


def cmd_validate(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return settings
    paths = args.paths or [_flows_dir(settings)]
    sounds, error = _sounds_dir(args, settings)
    if error:
        return _fail(error)
    try:
        files = collect_flow_files(paths)
    except FlowPathError as exc:
        return _fail(str(exc))
    if not files:
        return _fail(f"no flow files (*.yaml, *.yml) in {', '.join(str(p) for p in paths)}")
    report = validate_paths(files, sounds)
    if args.json:
        print(json.dumps([problem.as_dict() for problem in report.problems], ensure_ascii=False, indent=2))
    else:
        for problem in report.problems:
            print(problem)
    for warning in stale_calendar_warnings(report, date.today()):
        print(f"warning: {warning}", file=sys.stderr)
    checked = f"prompts checked against {sounds}" if sounds else "prompts not checked (no sounds folder)"
    if report.ok:
        print(f"ok: {len(files)} flow file(s) valid; {checked}", file=sys.stderr)
        return 0
    bad = len({problem.file for problem in report.problems})
    print(f"{len(report.problems)} problem(s) in {bad} file(s); {checked}", file=sys.stderr)
    return 1


def _find_flow(spec: str, directory: str, named_by: str) -> tuple[LoadedFile | None, str | None]:
    """Load FLOW given as a path or as a flow name in ``directory`` (``named_by``: the flag or setting)."""
    path = Path(spec)
    if path.is_file():
        return load_flow_file(path), None
    folder = Path(directory)
    if not folder.is_dir():
        return None, f"{spec}: not a file, and {named_by} {directory} is not a folder"
    candidates = [load_flow_file(file) for file in flow_files_in(folder)]
    for item in candidates:
        if item.declared_name == spec:
            return item, None
    for item in candidates:
        if item.path.stem == spec:
            return item, None
    known = ", ".join(sorted({item.declared_name for item in candidates if item.declared_name})) or "none"
    return None, f"no flow named '{spec}' in {directory} (known: {known})"


def _load_for_display(args: argparse.Namespace) -> tuple[Any, int | None]:
    settings = settings_or_exit(args)
    if isinstance(settings, int):
        return None, settings
    directory, named_by = (args.dir, "--dir") if args.dir else (str(_flows_dir(settings)), "ivr.flows_dir")
    item, error = _find_flow(args.flow, directory, named_by)
    if error or item is None:
        return None, _fail(error or f"{args.flow}: not found")
    if item.flow is None:
        for problem in sorted(set(item.problems)):
            print(problem, file=sys.stderr)
        return None, _fail(f"{item.path} has problems; run 'acd ivr validate {item.path}'", 1)
    return item.flow, None


def cmd_show(args: argparse.Namespace) -> int:
    flow, code = _load_for_display(args)
    if code is not None:
        return code
    sys.stdout.write(render_tree(flow))
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    output = Path(args.output)
    suffix = output.suffix.lower()
    if suffix != ".dot" and suffix not in IMAGE_FORMATS:
        return _fail(f"-o {args.output}: use a .dot, .svg, .png or .pdf file name")
    flow, code = _load_for_display(args)
    if code is not None:
        return code
    source = render_dot(flow)
    try:
        if suffix == ".dot":
            output.write_text(source, encoding="utf-8")
        else:
            render_image(source, output, IMAGE_FORMATS[suffix])
    except GraphvizMissing as exc:
        return _fail(str(exc), 1)
    except (OSError, RuntimeError) as exc:
        return _fail(f"cannot write {output}: {exc}", 1)
    print(f"wrote {output}", file=sys.stderr)
    return 0
