// The browser's keyframe parser (web/js/raxel_keyframes.js) against the Python core's results:
// fixtures written by tests/keyframes_fixtures.py, path in RAXEL_KEYFRAME_FIXTURES.
// Run by tests/test_keyframes_js.py (`node --test tests/js/`); kept out of web/ so ComfyUI never
// loads it as an extension.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { KeyframeError, keyC2W, parseKeyframes } from "../../web/js/raxel_keyframes.js";

const FIXTURES = process.env.RAXEL_KEYFRAME_FIXTURES;
/** Rotations agree to float64 rounding (both sides compute the same closed forms). */
const TOLERANCE = 1e-9;

function assertRotationClose(actual, expected, what) {
  const worst = Math.max(...actual.flat().map((v, i) => Math.abs(v - expected.flat()[i])));
  assert.ok(worst < TOLERANCE, `${what}: camera-to-world rotation differs from Python's by ${worst}\n` +
    `JS     ${JSON.stringify(actual)}\nPython ${JSON.stringify(expected)}`);
}

test("fixtures are given", { skip: FIXTURES ? false : "RAXEL_KEYFRAME_FIXTURES is not set" }, () => {});

if (FIXTURES) {
  const fixtures = JSON.parse(readFileSync(FIXTURES, "utf-8"));

  test("keyframe texts the node accepts parse to the same keys and rotations", () => {
    assert.ok(fixtures.valid.length > 0);
    for (const { text, keys } of fixtures.valid) {
      const parsed = parseKeyframes(text);
      assert.equal(parsed.length, keys.length, text);
      parsed.forEach((key, i) => {
        const expected = keys[i];
        const what = `${text}\nkey ${i}`;
        assert.equal(key.frame, expected.frame, what);
        assert.deepEqual(key.position, expected.position, what);
        assert.equal(key.fov ?? null, expected.fov, what);
        assert.ok(expected.orientation in key, `${what}: ${expected.orientation} not kept`);
        assertRotationClose(keyC2W(key), expected.c2w, what);
      });
    }
  });

  test("keyframe texts the node refuses are refused, naming the same keyframe and field", () => {
    assert.ok(fixtures.invalid.length > 0);
    for (const { text, python_error: pythonError, prefix } of fixtures.invalid) {
      assert.throws(() => parseKeyframes(text), (err) => {
        assert.ok(err instanceof KeyframeError, `${text}: ${err}`);
        if (prefix !== null) {
          assert.ok(err.message.startsWith(prefix),
            `${text}\nJS     ${err.message}\nPython ${pythonError}\nboth must start with: ${prefix}`);
        }
        return true;
      }, `${text}: accepted by JS, refused by Python: ${pythonError}`);
    }
  });

  test("euler_deg keys use the core's convention R_y(yaw) R_x(pitch) R_z(roll)", () => {
    assert.ok(fixtures.euler.length > 0);
    for (const { euler_deg: euler, c2w } of fixtures.euler) {
      assertRotationClose(keyC2W({ frame: 0, position: [0, 0, 0], euler_deg: euler }), c2w, `euler ${euler}`);
    }
  });
}
