"""Every bad command line of tests/bad_input_cases.py: exit status 2, one line on stderr naming the problem
and the fix, no traceback, nothing written, and exactly the line tests/BAD_INPUT.md shows."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_cases import CASES, CLI_HEADING, TABLE, message_lines, normalise, run_case, split_table, table_rows

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    from bad_input_cases import make_inputs

    folder = tmp_path_factory.mktemp("bad_input")
    make_inputs(folder)
    return folder


def table() -> dict[str, tuple[str, str, str]]:
    """``{"command:case": (command line, exit status, message)}`` of the command-line section of the table."""
    rows = table_rows(split_table(TABLE.read_text())[CLI_HEADING])
    return {f"{r[0]}:{r[1]}": (r[2], r[3], r[4]) for r in rows}


def test_the_table_lists_every_case_once_in_order():
    assert list(table()) == [case.id for case in CASES]


def test_every_command_has_cases():
    from raxel_core.cli import COMMANDS

    names = {c.__name__.rsplit(".", 1)[-1].replace("_", "-") for c in COMMANDS}
    assert names == {case.command for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_line_and_status(case, inputs):
    before = sorted(p.relative_to(inputs) for p in inputs.rglob("*"))
    status, stderr = run_case(case, inputs)
    lines = message_lines(stderr)
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"raxel {case.command}: error: "), stderr
    line, expected_status, message = table()[case.id]
    assert status == int(expected_status) == case.status, stderr
    assert normalise(lines[0], inputs) == message, "the table is out of date: run tests/bad_input_cases.py --write"
    # nothing was written: the scratch folder holds what it held
    assert sorted(p.relative_to(inputs) for p in inputs.rglob("*")) == before


def test_a_real_process_prints_one_line_and_exits_2(inputs):
    """The installed command as a user runs it (a process, not main()): no traceback, status 2."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "raxel_core.cli", "sample", "joint", "--image", "notes.txt",
                          "--out", "s"], cwd=inputs, env=env, capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "notes.txt is not an image" in run.stderr and not (inputs / "s").exists()
