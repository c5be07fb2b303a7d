"""``raxel run``: post an API-format workflow to a running ComfyUI, follow its progress, download its
outputs (the runner is :func:`raxel_core.headless.run_workflow`). It has its own parser and exit codes:
0 success, 1 a workflow ComfyUI rejected or failed to run (or an unreachable server), 2 usage or bad input
(a missing or invalid workflow file, a bad ``--set``, an ``--out`` that cannot be a folder), checked before
the server is contacted."""
from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    sub.add_parser("run", help="post an API workflow to a running ComfyUI, follow progress, download outputs "
                   "(raxel run --help)", add_help=False)


def build_parser(prog: str = "raxel run") -> argparse.ArgumentParser:
    from ..headless import DEFAULT_SERVER

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Queue an API-format ComfyUI workflow on a running server, show its progress and "
        "download its outputs.",
    )
    parser.add_argument("workflow", help="API-format workflow JSON (ComfyUI: Workflow -> Export (API))")
    parser.add_argument("--server", default=DEFAULT_SERVER, help=f"ComfyUI URL (default {DEFAULT_SERVER})")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NODE.INPUT=VALUE",
        help="override a node input before queueing; VALUE is JSON or else a string (repeatable), "
        "e.g. --set 3.seed=42",
    )
    parser.add_argument("--out", default=None, help="folder to download the output files into")
    parser.add_argument("--include-temp", action="store_true", help="also download temporary (preview) files")
    parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run(args) -> int:
    from ..formats.text_files import check_output_folder
    from ..headless import ComfyUIError, apply_overrides, file_entries, load_api_workflow, run_workflow
    from .terminal import TerminalProgress

    try:                     # the user's own input: status 2, before the server is contacted
        workflow = apply_overrides(load_api_workflow(args.workflow), args.overrides)
        if args.out is not None:
            check_output_folder(args.out)
        if args.timeout is not None and not args.timeout > 0:
            raise ValueError(f"--timeout must be a positive number of seconds; got {args.timeout}")
    except ValueError as err:
        print(f"raxel run: error: {err}", file=sys.stderr)
        return 2
    progress = None if args.quiet else TerminalProgress(sys.stderr)
    try:
        summary = run_workflow(
            workflow, server=args.server, overrides=(), out_dir=args.out,
            progress=progress, timeout=args.timeout, include_temp=args.include_temp,
        )
    except ComfyUIError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"prompt {summary['prompt_id']} finished in {summary['seconds']:.1f} s", file=sys.stderr)
    for path in summary["files"]:
        print(path)
    if args.out is None:
        count = sum(1 for _ in file_entries(summary["outputs"], args.include_temp))
        if count:
            print(f"{count} output file(s) left on the server; pass --out DIR to download them", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """``raxel run ARGS...``: returns the process exit code (0 success, 1 failure, 2 usage)."""
    return run(build_parser().parse_args(argv))
