// Drawing pieces of the 3D trajectory view (raxel_trajectory_view.js): the time colours, frustum
// geometry, the payload check, and the three.js objects the view is built from (frustum lines,
// paths, markers, the highlighted camera, ground grid and axes). Plain functions without state; this
// module only exports: ComfyUI loads every .js under web/js, and loading this one registers nothing.
import * as THREE from "../lib/three/three.module.min.js";

// The time ramp of raxel_core/preview.py (OpenCV's turbo map sampled on 0.08..0.92), so the 3D
// view and the 2D preview image colour the same frame alike: first frame blue, last dark red.
const TIME_RAMP = [[66, 75, 181], [67, 145, 254], [26, 210, 210], [67, 247, 135], [164, 252, 60],
  [227, 219, 56], [254, 158, 47], [235, 80, 14], [183, 29, 2]];
export const REFERENCE_COLOR = new THREE.Color(0x9a9a9a);
export const HIGHLIGHT_COLOR = new THREE.Color(0xffffff);
export const KEY_COLOR = new THREE.Color(0xff9933);
export const KEY_SELECTED_COLOR = new THREE.Color(0xffee33);
export const LOOK_AT_COLOR = new THREE.Color(0xee44ee);

/** Colour of time u in [0, 1] (TIME_RAMP, piecewise linear). */
export function timeColor(u) {
  const x = Math.min(Math.max(u, 0), 1) * (TIME_RAMP.length - 1);
  const i = Math.min(Math.floor(x), TIME_RAMP.length - 2);
  const f = x - i;
  const c = TIME_RAMP[i].map((v, k) => (v + (TIME_RAMP[i + 1][k] - v) * f) / 255);
  return new THREE.Color().setRGB(c[0], c[1], c[2], THREE.SRGBColorSpace); // sRGB values, as in the image
}

/**
 * Line segments (pairs of points, camera frame, OpenCV axes) of a frustum: apex to the 4 image
 * corners at depth `depth`, the image rectangle, and a triangle above the top edge (image up).
 */
export function frustumSegments(fovYDeg, aspect, depth) {
  const hh = depth * Math.tan((fovYDeg * Math.PI) / 360);
  const hw = hh * aspect;
  const c = [[-hw, -hh, depth], [hw, -hh, depth], [hw, hh, depth], [-hw, hh, depth]];
  const o = [0, 0, 0];
  const tip = [0, -hh * 1.6, depth];
  const l = [-hw * 0.5, -hh * 1.1, depth];
  const r = [hw * 0.5, -hh * 1.1, depth];
  return [o, c[0], o, c[1], o, c[2], o, c[3], c[0], c[1], c[1], c[2], c[2], c[3], c[3], c[0], l, r, r, tip, tip, l];
}

/** Camera-frame point p -> world: R p + t (R: c2w rows). */
function toWorld(R, t, p) {
  return [0, 1, 2].map((i) => R[i][0] * p[0] + R[i][1] * p[1] + R[i][2] * p[2] + t[i]);
}

export function matrixFromPose(R, t) {
  return new THREE.Matrix4().set(
    R[0][0], R[0][1], R[0][2], t[0],
    R[1][0], R[1][1], R[1][2], t[1],
    R[2][0], R[2][1], R[2][2], t[2],
    0, 0, 0, 1,
  );
}

/** Validate the payload of raxel_core.trajectory_view; throws Error naming the problem. */
export function checkTrajectory(data, what = "trajectory") {
  if (!data || typeof data !== "object" || !Array.isArray(data.frames) || !data.frames.length) {
    throw new Error(`${what}: the node sent no frames to draw`);
  }
  if (!Array.isArray(data.image_size) || data.image_size.length !== 2) {
    throw new Error(`${what}: image_size missing from the node's output`);
  }
  for (const [i, f] of data.frames.entries()) {
    const ok = Array.isArray(f.position) && f.position.length === 3 && f.position.every(Number.isFinite) &&
      Array.isArray(f.rotation) && f.rotation.length === 3 && f.rotation.every((r) => r.length === 3 && r.every(Number.isFinite)) &&
      Number.isFinite(f.fov_y_deg);
    if (!ok) throw new Error(`${what}: frame ${i} has a malformed pose (position, rotation or fov_y_deg)`);
  }
  return data;
}

/** Free the geometries and materials of `object` and everything below it. */
export function disposeTree(object) {
  object.traverse((o) => { o.geometry?.dispose?.(); o.material?.dispose?.(); });
}

/** Remove (and free) every child of `group`. */
export function clearGroup(group) {
  for (const child of [...group.children]) {
    group.remove(child);
    disposeTree(child);
  }
}

/**
 * Ground grid under the lowest camera and the world axes, for a scene of size `extent` around
 * `center` (OpenCV coordinates) whose lowest point has y = `floorY`.
 */
export function groundAndAxes(extent, center, floorY) {
  const step = 10 ** Math.floor(Math.log10(extent / 4));
  const size = Math.ceil((extent * 2) / step / 10) * 10 * step;
  const grid = new THREE.GridHelper(size, Math.round(size / step), 0x4a505c, 0x2c3038);
  // GridHelper lies in its parent's x-z plane: in OpenCV that is the ground (normal y). Put it
  // under the lowest camera (largest y, since y points down).
  grid.position.set(Math.round(center[0] / step) * step, floorY + extent * 0.15, Math.round(center[2] / step) * step);
  const axes = new THREE.AxesHelper(extent * 0.15); // x red, y green (down), z blue (forward)
  return [grid, axes];
}

/** One frustum of depth `depth` per frame of `traj`, coloured by colorOf(time in [0, 1]). */
export function frustumLines(traj, colorOf, opacity, depth) {
  const [h, w] = traj.image_size;
  const positions = [];
  const colors = [];
  const n = traj.frames.length;
  traj.frames.forEach((f, i) => {
    const color = colorOf(n > 1 ? i / (n - 1) : 0);
    for (const p of frustumSegments(f.fov_y_deg, w / h, depth)) {
      positions.push(...toWorld(f.rotation, f.position, p));
      colors.push(color.r, color.g, color.b);
    }
  });
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(positions, 3));
  geometry.setAttribute("color", new THREE.Float32BufferAttribute(colors, 3));
  const material = new THREE.LineBasicMaterial({ vertexColors: true, transparent: opacity < 1, opacity });
  return new THREE.LineSegments(geometry, material);
}

/** A line through `points`, coloured by colorOf(time in [0, 1]). */
export function pathLine(points, colorOf, opacity) {
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(points.flat(), 3));
  const n = points.length;
  const colors = points.flatMap((_, i) => { const c = colorOf(n > 1 ? i / (n - 1) : 0); return [c.r, c.g, c.b]; });
  geometry.setAttribute("color", new THREE.Float32BufferAttribute(colors, 3));
  return new THREE.Line(geometry, new THREE.LineBasicMaterial({ vertexColors: true, transparent: opacity < 1, opacity }));
}

/** A small octahedron (or sphere) of radius `size` at `position`. */
export function marker(position, color, size, shape = "octahedron") {
  const geometry = shape === "sphere" ? new THREE.SphereGeometry(size, 16, 12) : new THREE.OctahedronGeometry(size);
  const mesh = new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ color }));
  mesh.position.set(...position);
  return mesh;
}

/** The highlighted camera `f` (a frame of the payload): a frustum of depth `depth` (white unless
 * `color` is given) and its image plane. */
export function highlightedCamera(f, imageSize, depth, color = HIGHLIGHT_COLOR) {
  const [h, w] = imageSize;
  const group = new THREE.Group();
  group.applyMatrix4(matrixFromPose(f.rotation, f.position));
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute("position", new THREE.Float32BufferAttribute(frustumSegments(f.fov_y_deg, w / h, depth).flat(), 3));
  group.add(new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color })));
  const hh = depth * Math.tan((f.fov_y_deg * Math.PI) / 360);
  const plane = new THREE.Mesh(
    new THREE.PlaneGeometry(2 * hh * (w / h), 2 * hh),
    new THREE.MeshBasicMaterial({ color, transparent: true, opacity: 0.25, side: THREE.DoubleSide }),
  );
  plane.position.set(0, 0, depth);
  group.add(plane);
  return group;
}
