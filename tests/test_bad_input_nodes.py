"""The nodes' bad inputs (tests/bad_input_cases.py :data:`NODE_CASES`) through a real ComfyUI server: each
fails in the node with the message tests/BAD_INPUT.md shows (one line naming the problem and the fix, no
Python exception type from deep inside a library), and the server keeps serving afterwards.

``RAXEL_WRITE_BAD_INPUT=1`` rewrites the node section of the table from what the server said."""
from __future__ import annotations

import json
import os
import re

import pytest
from bad_input_cases import (
    NODE_CASES,
    NODE_HEADING,
    TABLE,
    cell,
    make_node_inputs,
    render_node_table,
    split_table,
    table_rows,
    write_table,
)

pytestmark = pytest.mark.comfyui("run the nodes' bad-input cases in a real ComfyUI server")
OBSERVED: dict[str, str] = {}
#: The memory limit depends on the machine the server runs on: the table shows it as <limit>.
LIMIT = re.compile(r"over the limit of [0-9.]+ [KMGT]?i?B \([^)]*\)")


def observed_text(server, case) -> str:
    """What ComfyUI shows for ``case``: ``NODE: message`` of the execution error, or the 400's node errors."""
    if case.stage == "queue":
        code, body = server.post_prompt(case.prompt)
        assert code == 400, body
        parts = [f"{e['class_type']}: {err['details'] or err['message']}"
                 for e in body["node_errors"].values() for err in e["errors"]]
        text = "; ".join(parts)
    else:
        error = server.run_error(case.prompt)
        text = f"{error['node_type']}: {error['exception_message'].strip()}"
    text = text.replace(str(server.base.resolve()), "<comfyui>").replace(str(server.base), "<comfyui>")
    return LIMIT.sub("over the limit of <limit>", text)


@pytest.fixture(scope="module")
def inputs(server):
    make_node_inputs(server.input)
    yield server
    if os.environ.get("RAXEL_WRITE_BAD_INPUT") and len(OBSERVED) == len(NODE_CASES):
        write_table(node_section=NODE_HEADING + "\n\n" + render_node_table(OBSERVED))


def node_table() -> dict[str, str]:
    section = split_table(TABLE.read_text()).get(NODE_HEADING, "")
    return {f"{r[0]}:{r[1]}": r[3] for r in table_rows(section)}


@pytest.mark.parametrize("case", NODE_CASES, ids=[c.id for c in NODE_CASES])
def test_node_bad_input_fails_naming_the_problem_and_the_server_goes_on(case, inputs):
    server = inputs
    text = observed_text(server, case)
    OBSERVED[case.id] = text
    assert "Traceback" not in text and "\n" not in text.strip(), text
    for name in ("IndexError", "KeyError", "AttributeError", "TypeError", "RuntimeError"):
        assert name not in text, text
    if not os.environ.get("RAXEL_WRITE_BAD_INPUT"):
        assert cell(text).replace("\\|", "|") == node_table().get(case.id), (
            f"the table is out of date ({json.dumps(text)}): rerun with RAXEL_WRITE_BAD_INPUT=1")
    server.assert_healthy()
