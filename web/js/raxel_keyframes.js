// Keyframe JSON of RaxelCameraTrajectory in the browser: parse with readable errors, orient,
// and write back. The schema and its checks mirror raxel_core/authoring/keyframes.py
// (parse_keyframes_json); the server parses the text again before a run, so this file only has
// to agree with it, never replace it. No three.js here: plain arrays, OpenCV axes
// (x right, y down, z forward), rotations as 3x3 arrays of rows.

const FIELDS = ["frame", "position", "look_at", "rotation", "euler_deg", "fov"];
const ORIENTATIONS = ["look_at", "rotation", "euler_deg"];
/** Same tolerance as raxel_core.cameras.ROTATION_TOLERANCE. */
const ROTATION_TOLERANCE = 1e-4;
export const EXAMPLE_JSON =
  '[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50}, ' +
  '{"frame": 48, "position": [1, 0, 0], "euler_deg": [-15, 0, 0]}]';

export class KeyframeError extends Error {}

function fail(index, field, problem) {
  throw new KeyframeError(`keyframe ${index}: field '${field}' ${problem}`);
}

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

function vector3(item, index, field) {
  const v = item[field];
  if (!Array.isArray(v) || v.length !== 3 || !v.every(isNumber)) {
    fail(index, field, `must be a list of 3 finite numbers; got ${JSON.stringify(v)}`);
  }
  return v.slice();
}

/** JSON.parse error -> "line L column C" like Python's json module reports it. */
function jsonErrorText(text, err) {
  const match = /position (\d+)/.exec(err.message);
  if (!match || /line \d+ column \d+/.test(err.message)) return err.message;
  const pos = Number(match[1]);
  const before = text.slice(0, pos).split("\n");
  return `${err.message.replace(/ in JSON.*$/, "")} (line ${before.length} column ${before[before.length - 1].length + 1})`;
}

/**
 * Parse keyframe JSON text into plain objects, in file order.
 * Returns [{frame, position, look_at?, rotation?, euler_deg?, fov?}] (copies of the JSON items).
 * Throws KeyframeError with a message naming the keyframe (0-based index) and the field.
 */
export function parseKeyframes(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new KeyframeError(`keyframes are not valid JSON: ${jsonErrorText(String(text), err)}`);
  }
  if (data && !Array.isArray(data) && typeof data === "object" && "keyframes" in data) {
    data = data.keyframes;
  }
  if (!Array.isArray(data) || data.length === 0) {
    throw new KeyframeError("keyframes must be a non-empty JSON list of objects");
  }
  const seen = new Map();
  return data.map((item, i) => {
    if (!item || typeof item !== "object" || Array.isArray(item)) {
      throw new KeyframeError(`keyframe ${i}: must be a JSON object; got ${JSON.stringify(item)}`);
    }
    const unknown = Object.keys(item).filter((k) => !FIELDS.includes(k)).sort();
    if (unknown.length) fail(i, unknown[0], `is not a keyframe field (fields: ${[...FIELDS].sort().join(", ")})`);
    for (const field of ["frame", "position"]) if (!(field in item)) fail(i, field, "is missing");
    if (!Number.isInteger(item.frame) || item.frame < 0) {
      fail(i, "frame", `must be a whole number >= 0; got ${JSON.stringify(item.frame)}`);
    }
    if (seen.has(item.frame)) {
      fail(i, "frame", `repeats frame ${item.frame} of keyframe ${seen.get(item.frame)}; each key needs its own frame`);
    }
    seen.set(item.frame, i);
    const key = { frame: item.frame, position: vector3(item, i, "position") };
    const orient = ORIENTATIONS.filter((f) => f in item);
    if (orient.length !== 1) {
      fail(i, "look_at", `or 'rotation' or 'euler_deg': give exactly one orientation; got ${orient.length ? orient.join(", ") : "none"}`);
    }
    if (orient[0] === "look_at") {
      key.look_at = vector3(item, i, "look_at");
      if (Math.max(...key.look_at.map((v, k) => Math.abs(v - key.position[k]))) < 1e-9) {
        fail(i, "look_at", "coincides with position; put the look-at point in front of the camera");
      }
      const d = sub(key.look_at, key.position);
      if (Math.hypot(d[0], d[2]) < 1e-9 * Math.hypot(...d)) {
        fail(i, "look_at", "is straight above or below the camera (parallel to up); move it");
      }
    } else if (orient[0] === "euler_deg") {
      key.euler_deg = vector3(item, i, "euler_deg");
    } else {
      const rows = item.rotation;
      if (!Array.isArray(rows) || rows.length !== 3 || !rows.every((r) => Array.isArray(r) && r.length === 3 && r.every(isNumber))) {
        fail(i, "rotation", `must be 3 rows of 3 finite numbers (world-to-camera); got ${JSON.stringify(rows)}`);
      }
      const ortho = maxAbs(sub9(matMul(transpose(rows), rows), IDENTITY));
      const det = determinant(rows);
      if (ortho > ROTATION_TOLERANCE || Math.abs(det - 1) > ROTATION_TOLERANCE) {
        fail(i, "rotation", `is not a proper rotation (max |R^T R - I| = ${ortho.toExponential(2)}, det = ${det.toFixed(6)}); give an orthonormal world-to-camera matrix with det +1, or use euler_deg / look_at`);
      }
      key.rotation = rows.map((r) => r.slice());
    }
    if ("fov" in item && item.fov !== null) {
      if (!isNumber(item.fov) || !(item.fov > 0 && item.fov < 180)) {
        fail(i, "fov", `must be a vertical field of view in (0, 180) degrees; got ${JSON.stringify(item.fov)}`);
      }
      key.fov = item.fov;
    }
    return key;
  });
}

// ---------------------------------------------------------------- small 3x3 algebra (rows)
export const IDENTITY = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
const sub = (a, b) => a.map((v, i) => v - b[i]);
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const normalize = (a) => { const n = Math.hypot(...a); return a.map((v) => v / n); };
export const transpose = (m) => [0, 1, 2].map((j) => [0, 1, 2].map((i) => m[i][j]));
const matMul = (a, b) => a.map((row) => [0, 1, 2].map((j) => row[0] * b[0][j] + row[1] * b[1][j] + row[2] * b[2][j]));
const sub9 = (a, b) => a.map((row, i) => row.map((v, j) => v - b[i][j]));
const maxAbs = (m) => Math.max(...m.flat().map(Math.abs));
const determinant = (m) =>
  m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
  m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
  m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);

function rotX(a) { const c = Math.cos(a), s = Math.sin(a); return [[1, 0, 0], [0, c, -s], [0, s, c]]; }
function rotY(a) { const c = Math.cos(a), s = Math.sin(a); return [[c, 0, s], [0, 1, 0], [-s, 0, c]]; }
function rotZ(a) { const c = Math.cos(a), s = Math.sin(a); return [[c, -s, 0], [s, c, 0], [0, 0, 1]]; }

/**
 * Camera-to-world rotation (rows, OpenCV axes) of a parsed key, as raxel_core computes it:
 * look_at -> cameras.look_at_w2c with up = -y; euler_deg -> R_y(yaw) R_x(pitch) R_z(roll);
 * rotation -> its transpose (the JSON holds world-to-camera rows).
 */
export function keyC2W(key) {
  if (key.rotation) return transpose(key.rotation);
  if (key.euler_deg) {
    const [yaw, pitch, roll] = key.euler_deg.map((d) => (d * Math.PI) / 180);
    return matMul(matMul(rotY(yaw), rotX(pitch)), rotZ(roll));
  }
  const z = normalize(sub(key.look_at, key.position));
  const x = normalize(cross([0, 1, 0], z)); // image right = down x forward (up = -y)
  const y = cross(z, x);
  return [0, 1, 2].map((i) => [x[i], y[i], z[i]]); // columns are the camera axes
}

const round = (v, digits) => {
  const r = Math.round(v * 10 ** digits) / 10 ** digits;
  return Object.is(r, -0) ? 0 : r;
};

/** Keys -> JSON text in the node's style (one key per line); positions rounded to 1e-4. */
export function formatKeyframes(keys) {
  const items = keys.map((key) => {
    const out = { frame: key.frame, position: key.position.map((v) => round(v, 4)) };
    if (key.look_at) out.look_at = key.look_at.map((v) => round(v, 4));
    else if (key.euler_deg) out.euler_deg = key.euler_deg.map((v) => round(v, 3));
    else out.rotation = key.rotation.map((r) => r.map((v) => round(v, 6)));
    if (key.fov !== undefined) out.fov = round(key.fov, 3);
    return JSON.stringify(out).replace(/,/g, ", ").replace(/":/g, '": ');
  });
  return "[" + items.join(",\n ") + "]";
}
