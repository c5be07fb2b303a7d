"""The browser's keyframe parser and Euler convention (web/js/raxel_keyframes.js) agree with the
Python core's: fixtures written by tests/keyframes_fixtures.py are checked by tests/js/*.test.mjs
under Node's own test runner (``node --test``). Skipped with the reason when Node.js is absent."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from keyframes_fixtures import write_fixtures

ROOT = Path(__file__).resolve().parents[1]
JS_TESTS = ROOT / "tests" / "js"
NODE = shutil.which("node")
#: Bound on the Node run, so a hung process fails the test instead of hanging CI.
NODE_SECONDS = 120


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (node on PATH runs tests/js/ with node --test)")
def test_the_browser_keyframe_parser_agrees_with_the_python_core(tmp_path):
    fixtures = write_fixtures(tmp_path / "keyframes.json")
    tests = sorted(str(p.relative_to(ROOT)) for p in JS_TESTS.glob("*.test.mjs"))
    assert tests, f"no *.test.mjs under {JS_TESTS}"
    result = subprocess.run([NODE, "--test", *tests], cwd=ROOT, capture_output=True, text=True, timeout=NODE_SECONDS,
                            env={**os.environ, "RAXEL_KEYFRAME_FIXTURES": str(fixtures)})
    assert result.returncode == 0, f"node --test failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    assert "# fail 0" in result.stdout and "# skipped 0" in result.stdout, result.stdout
