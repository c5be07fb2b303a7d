// The 3D trajectory view: a three.js scene in a DOM element (the node's widget).
//
// Draws camera frustums coloured by time (the 2D preview's turbo ramp, blue to red), the path through the camera
// centres, the look-at point, a ground grid and the world axes; orbit / pan / zoom with
// OrbitControls; a frame scrubber highlighting one camera; a grey reference trajectory; and, when
// given keyframes, handles to move (drag, or TransformControls) and rotate them.
//
// World: the trajectory's own OpenCV frame (x right, y down, z forward, the payload of
// raxel_core/trajectory_view.py). Everything sits in `this.world`, a group turned 180 degrees
// about x so that OpenCV -y (up in the images) is up on screen; positions inside it are OpenCV
// coordinates, so handles report keyframe positions without conversion.
import * as THREE from "../lib/three/three.module.min.js";
import { OrbitControls } from "../lib/three/OrbitControls.js";
import { TransformControls } from "../lib/three/TransformControls.js";
import { keyC2W, transpose } from "./raxel_keyframes.js";

// The time ramp of raxel_core/preview.py (OpenCV's turbo map sampled on 0.08..0.92), so the 3D
// view and the 2D preview image colour the same frame alike: first frame blue, last dark red.
const TIME_RAMP = [[66, 75, 181], [67, 145, 254], [26, 210, 210], [67, 247, 135], [164, 252, 60],
  [227, 219, 56], [254, 158, 47], [235, 80, 14], [183, 29, 2]];
const REFERENCE_COLOR = new THREE.Color(0x9a9a9a);
const HIGHLIGHT_COLOR = new THREE.Color(0xffffff);
const KEY_COLOR = new THREE.Color(0xff9933);
const KEY_SELECTED_COLOR = new THREE.Color(0xffee33);
const LOOK_AT_COLOR = new THREE.Color(0xee44ee);

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
function frustumSegments(fovYDeg, aspect, depth) {
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

function matrixFromPose(R, t) {
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

export class TrajectoryView {
  /**
   * @param {object} hooks callbacks into the node:
   *   onKeysEdited(keys, phase)  phase "drag" while dragging, "commit" when a gesture ends
   *   onSelect(index)            a key was selected (-1: none)
   */
  constructor(hooks = {}) {
    this.hooks = hooks;
    this.trajectory = null; // payload of raxel_core.trajectory_view
    this.reference = null;
    this.trajectoryStale = false;
    this.keys = null; // parsed keyframes (raxel_keyframes.js) or null
    this.keyDefaults = { fov: 50, aspect: 832 / 480 };
    this.editable = false;
    this.selected = -1;
    this.frame = 0;
    this.scale = 1; // frustum depth, world units
    this.fitted = false;
    this.error = "";
    this.notice = "";
    this.frustumCount = 0;
    this._renderQueued = false;

    this.element = document.createElement("div");
    this.element.className = "raxel-trajectory-view";
    Object.assign(this.element.style, {
      position: "relative", width: "100%", height: "100%", minHeight: "180px",
      background: "#15171c", borderRadius: "6px", overflow: "hidden",
    });
    this.info = this._overlay({ left: "6px", top: "4px", color: "#d8d8d8", fontSize: "11px", pointerEvents: "none" });
    this.errorBox = this._overlay({
      left: "6px", right: "6px", bottom: "6px", color: "#fff", background: "rgba(200, 30, 40, 0.88)",
      fontSize: "12px", padding: "4px 6px", borderRadius: "4px", display: "none", whiteSpace: "pre-wrap",
      maxHeight: "60%", overflowY: "auto",
    });
    this.errorBox.className = "raxel-error";
    this.noticeBox = this._overlay({
      left: "6px", bottom: "6px", color: "#ddd", fontSize: "11px", pointerEvents: "none", display: "none",
    });

    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    } catch (err) {
      this.renderer = null;
      this.setError(`the 3D view needs WebGL, which this browser did not give: ${err.message}`);
      return;
    }
    this.renderer.setPixelRatio(1);
    this.renderer.setClearColor(0x15171c, 1);
    this.canvas = this.renderer.domElement;
    this.canvas.className = "raxel-trajectory-canvas";
    Object.assign(this.canvas.style, { display: "block", width: "100%", height: "100%", outline: "none" });
    this.element.prepend(this.canvas);

    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.01, 1e5);
    this.camera.position.set(3, 3, 6);
    this.world = new THREE.Group();
    this.world.rotation.x = Math.PI; // OpenCV (y down, z forward) -> display (y up)
    this.scene.add(this.world);
    this.staticGroup = new THREE.Group(); // grid + axes
    this.trajGroup = new THREE.Group();
    this.keyGroup = new THREE.Group();
    this.world.add(this.staticGroup, this.trajGroup, this.keyGroup);

    this.orbit = new OrbitControls(this.camera, this.canvas);
    this.orbit.enableDamping = false;
    this.orbit.addEventListener("change", () => this.requestRender());

    this.transform = new TransformControls(this.camera, this.canvas);
    this.transform.setSize(0.8);
    this.transform.setSpace("local");
    this.scene.add(this.transform.getHelper());
    this.transform.addEventListener("change", () => this.requestRender());
    this.transform.addEventListener("dragging-changed", (e) => { this.orbit.enabled = !e.value; });
    this.transform.addEventListener("objectChange", () => this._handleMoved(this.transform.object, "drag"));
    this.transform.addEventListener("mouseDown", (e) => { this._rotating = e.mode === "rotate"; });
    this.transform.addEventListener("mouseUp", () => {
      this._handleMoved(this.transform.object, "commit");
      this._rotating = false;
    });

    this.raycaster = new THREE.Raycaster();
    this._drag = null;
    // Capture phase on the container: runs before OrbitControls' listener on the canvas.
    this.element.addEventListener("pointerdown", (e) => this._pointerDown(e), true);
    this.canvas.addEventListener("pointermove", (e) => this._pointerMove(e));
    this.canvas.addEventListener("pointerup", (e) => this._pointerUp(e));
    // Keep gestures inside the view: the graph canvas must not pan or zoom with them.
    for (const type of ["pointerdown", "wheel", "contextmenu", "dblclick"]) {
      this.element.addEventListener(type, (e) => e.stopPropagation());
    }

    this._resizeObserver = new ResizeObserver(() => this.resize());
    this._resizeObserver.observe(this.element);
    this._buildStatic(1, [0, 0, 0], 0);
    this.requestRender();
  }

  _overlay(style) {
    const div = document.createElement("div");
    Object.assign(div.style, { position: "absolute", zIndex: 2, fontFamily: "sans-serif" }, style);
    this.element.appendChild(div);
    return div;
  }

  dispose() {
    this._resizeObserver?.disconnect();
    if (!this.renderer) return;
    this.transform.detach();
    this.transform.dispose();
    this.orbit.dispose();
    this.scene.traverse((o) => { o.geometry?.dispose?.(); o.material?.dispose?.(); });
    this.renderer.dispose();
    this.renderer.forceContextLoss();
    this.renderer = null;
  }

  resize() {
    if (!this.renderer) return;
    const w = Math.max(1, Math.floor(this.element.clientWidth));
    const h = Math.max(1, Math.floor(this.element.clientHeight));
    const size = this.renderer.getSize(new THREE.Vector2());
    if (size.x === w && size.y === h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  requestRender() {
    if (this._renderQueued || !this.renderer) return;
    this._renderQueued = true;
    requestAnimationFrame(() => { this._renderQueued = false; this.render(); });
  }

  render() {
    if (!this.renderer) return;
    try {
      this.renderer.render(this.scene, this.camera);
    } catch (err) {
      this.setError(`drawing failed: ${err.message}`);
    }
    this._updateDataset();
  }

  _updateDataset() {
    const d = (this.canvas || this.element).dataset;
    d.frustums = String(this.frustumCount);
    d.referenceFrustums = String(this.reference ? this.reference.frames.length : 0);
    d.keyframes = String(this.keys ? this.keys.length : 0);
    d.frame = String(this.frame);
    d.error = this.error;
  }

  setError(text) {
    this.error = text || "";
    this.errorBox.textContent = this.error;
    this.errorBox.style.display = this.error ? "block" : "none";
    this.noticeBox.style.display = this.notice && !this.error ? "block" : "none";
    this._updateDataset();
  }

  setNotice(text) {
    this.notice = text || "";
    this.noticeBox.textContent = this.notice;
    this.noticeBox.style.display = this.notice && !this.error ? "block" : "none";
  }

  // ------------------------------------------------------------------ data in
  setTrajectory(data, reference = null) {
    this.trajectory = data ? checkTrajectory(data) : null;
    this.reference = reference ? checkTrajectory(reference, "reference") : null;
    this.trajectoryStale = false;
    this.frame = Math.min(this.frame, this.trajectory ? this.trajectory.frames.length - 1 : 0);
    this.fitted = false;
    this.rebuild();
  }

  setStale(stale) {
    if (stale === this.trajectoryStale) return;
    this.trajectoryStale = stale;
    this.rebuild();
  }

  /** keys: parsed keyframes or null; defaults: {fov, aspect} for keys without their own fov. */
  setKeys(keys, defaults, editable) {
    this.keys = keys ? keys.map((k) => structuredClone(k)) : null;
    if (defaults) this.keyDefaults = defaults;
    this.editable = Boolean(editable && keys);
    if (!this.keys || this.selected >= this.keys.length) this.selected = -1;
    this.rebuild();
  }

  setFrame(i) {
    this.frame = i;
    this._buildHighlight();
    this._updateInfo();
    this.requestRender();
  }

  // ------------------------------------------------------------------ scene building
  _points() {
    const pts = [];
    for (const t of [this.trajectory, this.reference]) {
      if (!t) continue;
      for (const f of t.frames) pts.push(f.position);
      if (t.look_at) pts.push(t.look_at);
    }
    for (const k of this.keys || []) {
      pts.push(k.position);
      if (k.look_at) pts.push(k.look_at);
    }
    return pts;
  }

  /** Recompute the scene scale, grid and (unless fitted) the viewpoint from all drawn points. */
  layout() {
    const pts = this._points();
    const box = new THREE.Box3();
    for (const p of pts) box.expandByPoint(new THREE.Vector3(...p));
    if (!pts.length) box.set(new THREE.Vector3(-1, -1, -1), new THREE.Vector3(1, 1, 1));
    const center = box.getCenter(new THREE.Vector3());
    const diag = box.getSize(new THREE.Vector3()).length();
    const extent = diag > 1e-9 ? diag : 1;
    this.scale = extent * 0.07;
    this._buildStatic(extent, center.toArray(), box.max.y);
    if (!this.fitted) this.fit(center, extent);
  }

  /** Point the view camera at `center` from behind and above the first camera. */
  fit(center, extent) {
    if (!center) {
      this.fitted = false;
      this.layout();
      this.requestRender();
      return;
    }
    const target = this.world.localToWorld(center.clone());
    const distance = extent * 1.4 + 1e-3;
    this.camera.position.copy(target).add(new THREE.Vector3(0.55, 0.6, 1).normalize().multiplyScalar(distance));
    this.camera.near = extent * 1e-3;
    this.camera.far = extent * 100 + 10;
    this.camera.updateProjectionMatrix();
    this.orbit.target.copy(target);
    this.orbit.update();
    this.fitted = true;
  }

  _buildStatic(extent, center, floorY) {
    this._clear(this.staticGroup);
    const step = 10 ** Math.floor(Math.log10(extent / 4));
    const size = Math.ceil((extent * 2) / step / 10) * 10 * step;
    const grid = new THREE.GridHelper(size, Math.round(size / step), 0x4a505c, 0x2c3038);
    // GridHelper lies in its parent's x-z plane: in OpenCV that is the ground (normal y). Put it
    // under the lowest camera (largest y, since y points down).
    grid.position.set(Math.round(center[0] / step) * step, floorY + extent * 0.15, Math.round(center[2] / step) * step);
    this.staticGroup.add(grid);
    const axes = new THREE.AxesHelper(extent * 0.15); // x red, y green (down), z blue (forward)
    this.staticGroup.add(axes);
  }

  _clear(group) {
    for (const child of [...group.children]) {
      group.remove(child);
      child.traverse((o) => { o.geometry?.dispose?.(); o.material?.dispose?.(); });
    }
  }

  /** Rebuild every drawn object from the current data. */
  rebuild() {
    if (!this.renderer) return;
    try {
      this.layout();
      this._buildTrajectories();
      this._buildKeys();
      this._buildHighlight();
    } catch (err) {
      this.setError(`the 3D view could not draw this: ${err.message}`);
    }
    this._updateInfo();
    this.requestRender();
  }

  _frustumLines(traj, colorOf, opacity) {
    const [h, w] = traj.image_size;
    const positions = [];
    const colors = [];
    const n = traj.frames.length;
    traj.frames.forEach((f, i) => {
      const color = colorOf(n > 1 ? i / (n - 1) : 0);
      for (const p of frustumSegments(f.fov_y_deg, w / h, this.scale)) {
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

  _pathLine(points, colorOf, opacity) {
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.Float32BufferAttribute(points.flat(), 3));
    const n = points.length;
    const colors = points.flatMap((_, i) => { const c = colorOf(n > 1 ? i / (n - 1) : 0); return [c.r, c.g, c.b]; });
    geometry.setAttribute("color", new THREE.Float32BufferAttribute(colors, 3));
    return new THREE.Line(geometry, new THREE.LineBasicMaterial({ vertexColors: true, transparent: opacity < 1, opacity }));
  }

  _marker(position, color, size, shape = "octahedron") {
    const geometry = shape === "sphere" ? new THREE.SphereGeometry(size, 16, 12) : new THREE.OctahedronGeometry(size);
    const mesh = new THREE.Mesh(geometry, new THREE.MeshBasicMaterial({ color }));
    mesh.position.set(...position);
    return mesh;
  }

  _buildTrajectories() {
    this._clear(this.trajGroup);
    this.frustumCount = 0;
    if (this.reference) {
      const grey = () => REFERENCE_COLOR;
      this.trajGroup.add(this._frustumLines(this.reference, grey, 0.6));
      this.trajGroup.add(this._pathLine(this.reference.frames.map((f) => f.position), grey, 0.6));
    }
    const t = this.trajectory;
    if (!t) return;
    const opacity = this.trajectoryStale ? 0.3 : 1;
    this.trajGroup.add(this._frustumLines(t, timeColor, opacity));
    this.trajGroup.add(this._pathLine(t.frames.map((f) => f.position), timeColor, opacity));
    this.frustumCount = t.frames.length;
    if (t.look_at) this.trajGroup.add(this._marker(t.look_at, LOOK_AT_COLOR, this.scale * 0.25));
  }

  _buildHighlight() {
    if (this._highlight) {
      this.world.remove(this._highlight);
      this._highlight.traverse((o) => { o.geometry?.dispose?.(); o.material?.dispose?.(); });
      this._highlight = null;
    }
    const t = this.trajectory;
    if (!t || !this.renderer) return;
    const f = t.frames[Math.min(this.frame, t.frames.length - 1)];
    const [h, w] = t.image_size;
    const group = new THREE.Group();
    group.applyMatrix4(matrixFromPose(f.rotation, f.position));
    const depth = this.scale * 1.25;
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.Float32BufferAttribute(frustumSegments(f.fov_y_deg, w / h, depth).flat(), 3));
    group.add(new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: HIGHLIGHT_COLOR })));
    const hh = depth * Math.tan((f.fov_y_deg * Math.PI) / 360);
    const plane = new THREE.Mesh(
      new THREE.PlaneGeometry(2 * hh * (w / h), 2 * hh),
      new THREE.MeshBasicMaterial({ color: HIGHLIGHT_COLOR, transparent: true, opacity: 0.25, side: THREE.DoubleSide }),
    );
    plane.position.set(0, 0, depth);
    group.add(plane);
    this._highlight = group;
    this.world.add(group);
  }

  _buildKeys() {
    const attached = this.transform.object;
    this.transform.detach();
    this._clear(this.keyGroup);
    this.keyHandles = [];
    this.lookAtHandles = [];
    if (!this.keys) return;
    const { fov, aspect } = this.keyDefaults;
    const sorted = this.keys.map((k, i) => [k.frame, i]).sort((a, b) => a[0] - b[0]);
    if (this.keys.length > 1) {
      const path = this._pathLine(sorted.map(([, i]) => this.keys[i].position), () => KEY_COLOR, 0.8);
      path.material = new THREE.LineDashedMaterial({ color: KEY_COLOR, dashSize: this.scale * 0.4, gapSize: this.scale * 0.25 });
      path.computeLineDistances();
      this.keyPath = path;
      this.keyGroup.add(path);
    }
    this.keys.forEach((key, i) => {
      const handle = new THREE.Group();
      handle.userData = { kind: "key", index: i };
      const color = i === this.selected ? KEY_SELECTED_COLOR : KEY_COLOR;
      const sphere = this._marker([0, 0, 0], color, this.scale * 0.18, "sphere");
      sphere.userData = handle.userData;
      handle.add(sphere);
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.Float32BufferAttribute(frustumSegments(key.fov ?? fov, aspect, this.scale * 1.4).flat(), 3));
      handle.add(new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color })));
      this._poseHandle(handle, key);
      this.keyGroup.add(handle);
      this.keyHandles.push(handle);
      if (key.look_at) {
        const target = this._marker(key.look_at, LOOK_AT_COLOR, this.scale * 0.16);
        target.userData = { kind: "look_at", index: i };
        this.keyGroup.add(target);
        this.lookAtHandles.push(target);
        const line = new THREE.BufferGeometry();
        line.setAttribute("position", new THREE.Float32BufferAttribute([...key.position, ...key.look_at], 3));
        const aim = new THREE.Line(line, new THREE.LineBasicMaterial({ color: LOOK_AT_COLOR, transparent: true, opacity: 0.5 }));
        aim.userData = { kind: "aim", index: i };
        this.keyGroup.add(aim);
      }
    });
    if (attached && this.editable && this.selected >= 0) this._attachTransform();
  }

  _poseHandle(handle, key) {
    const m = matrixFromPose(keyC2W(key), key.position);
    m.decompose(handle.position, handle.quaternion, handle.scale);
  }

  _attachTransform() {
    const handle = this.keyHandles?.[this.selected];
    if (handle && this.editable) this.transform.attach(handle);
    else this.transform.detach();
  }

  setTransformMode(mode) {
    this.transform.setMode(mode);
    this.transform.setSpace(mode === "rotate" ? "local" : "world");
    this.requestRender();
  }

  select(index) {
    this.selected = index;
    this._buildKeys();
    if (this.editable && index >= 0) this._attachTransform();
    this.hooks.onSelect?.(index);
    this._updateInfo();
    this.requestRender();
  }

  // ------------------------------------------------------------------ editing
  /** A handle moved (TransformControls or a drag): write its pose back into the key. */
  _handleMoved(handle, phase) {
    if (!handle || !this.keys || !this.editable) return;
    const { kind, index } = handle.userData;
    const key = this.keys[index];
    if (!key) return;
    if (kind === "key") {
      key.position = handle.position.toArray();
      if (this._rotating && handle === this.transform.object) {
        // world-to-camera rows = transpose of the handle's camera-to-world rotation
        const e = new THREE.Matrix4().makeRotationFromQuaternion(handle.quaternion).elements; // column-major
        const c2w = [0, 1, 2].map((i) => [0, 1, 2].map((j) => e[j * 4 + i]));
        key.rotation = transpose(c2w);
        delete key.look_at;
        delete key.euler_deg;
      }
    } else if (kind === "look_at") {
      key.look_at = handle.position.toArray();
    }
    this._refreshKeyLines();
    this.hooks.onKeysEdited?.(this.keys, phase);
    if (phase === "commit") this.rebuild();
  }

  /** Cheap update while dragging: re-aim look-at keys, redraw the dashed path and aim lines. */
  _refreshKeyLines() {
    this.keys.forEach((key, i) => {
      const handle = this.keyHandles[i];
      if (key.look_at && handle) {
        const d = [0, 1, 2].map((k) => key.look_at[k] - key.position[k]);
        if (Math.hypot(d[0], d[2]) > 1e-9) {
          const p = handle.position.clone();
          this._poseHandle(handle, key);
          handle.position.copy(p);
        }
      }
    });
    for (const child of this.keyGroup.children) {
      if (child.userData.kind === "aim" || child.userData.kind === "look_at") {
        const key = this.keys[child.userData.index];
        child.visible = Boolean(key?.look_at); // a rotated key no longer aims at its point
        if (!key?.look_at || child.userData.kind !== "aim") continue;
        child.geometry.setAttribute("position", new THREE.Float32BufferAttribute([...key.position, ...key.look_at], 3));
      }
    }
    if (this.keyPath) {
      const sorted = this.keys.map((k, i) => [k.frame, i]).sort((a, b) => a[0] - b[0]);
      this.keyPath.geometry.setAttribute("position", new THREE.Float32BufferAttribute(sorted.flatMap(([, i]) => this.keys[i].position), 3));
      this.keyPath.computeLineDistances();
    }
    this.requestRender();
  }

  _ndc(event) {
    const rect = this.canvas.getBoundingClientRect();
    return new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1, (-(event.clientY - rect.top) / rect.height) * 2 + 1);
  }

  _pick(event) {
    const targets = [...(this.keyHandles || []).map((h) => h.children[0]), ...(this.lookAtHandles || [])];
    if (!targets.length) return null;
    this.raycaster.setFromCamera(this._ndc(event), this.camera);
    const hit = this.raycaster.intersectObjects(targets, false)[0];
    if (!hit) return null;
    const { kind, index } = hit.object.userData;
    return kind === "key" ? this.keyHandles[index] : hit.object;
  }

  _pointerDown(event) {
    if (!this.renderer || event.button !== 0) return;
    this._downAt = [event.clientX, event.clientY];
    if (this.transform.object && this.transform.axis) return; // the gizmo takes it
    const handle = this._pick(event);
    if (!handle) return;
    event.stopPropagation(); // OrbitControls must not start
    const { kind, index } = handle.userData;
    if (kind === "key" && index !== this.selected) this.select(index);
    if (!this.editable) return;
    const origin = handle.getWorldPosition(new THREE.Vector3());
    const normal = this.camera.getWorldDirection(new THREE.Vector3());
    this._drag = { handle: kind === "key" ? this.keyHandles[index] : handle, plane: new THREE.Plane().setFromNormalAndCoplanarPoint(normal, origin), pointerId: event.pointerId };
    this.canvas.setPointerCapture?.(event.pointerId);
  }

  _pointerMove(event) {
    if (!this._drag) return;
    this.raycaster.setFromCamera(this._ndc(event), this.camera);
    const point = this.raycaster.ray.intersectPlane(this._drag.plane, new THREE.Vector3());
    if (!point) return;
    this._drag.handle.position.copy(this.world.worldToLocal(point));
    this._drag.moved = true;
    this._handleMoved(this._drag.handle, "drag");
  }

  _pointerUp(event) {
    const drag = this._drag;
    this._drag = null;
    if (drag) {
      this.canvas.releasePointerCapture?.(drag.pointerId);
      if (drag.moved) this._handleMoved(drag.handle, "commit");
      return;
    }
    const moved = this._downAt && Math.hypot(event.clientX - this._downAt[0], event.clientY - this._downAt[1]) > 3;
    if (!moved && !this.transform.dragging && !(this.transform.object && this.transform.axis) && this.selected >= 0 && !this._pick(event)) {
      this.select(-1); // a click on empty space
    }
  }

  // ------------------------------------------------------------------ text
  _updateInfo() {
    const parts = [];
    const t = this.trajectory;
    if (t) {
      const [h, w] = t.image_size;
      parts.push(`${t.frames.length} frames · ${w}x${h}`);
      const f = t.frames[Math.min(this.frame, t.frames.length - 1)];
      parts.push(`frame ${this.frame}: fov ${f.fov_y_deg.toFixed(1)}°`);
      if (this.trajectoryStale) parts.push("(last run; inputs changed)");
    }
    if (this.reference) parts.push(`reference: ${this.reference.frames.length} frames (grey)`);
    if (this.keys) {
      parts.push(`${this.keys.length} keyframes`);
      if (this.selected >= 0 && this.keys[this.selected]) parts.push(`selected: frame ${this.keys[this.selected].frame}`);
    }
    this.info.textContent = parts.join(" · ");
    this._updateDataset();
  }

  // ------------------------------------------------------------------ for tests and debugging
  /** Client (page) coordinates of key i's handle, or null. */
  keyScreenPosition(i) {
    const handle = this.keyHandles?.[i];
    if (!handle || !this.canvas) return null;
    const p = handle.getWorldPosition(new THREE.Vector3()).project(this.camera);
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + ((p.x + 1) / 2) * rect.width, y: rect.top + ((1 - p.y) / 2) * rect.height };
  }

  debugState() {
    return {
      frustums: this.frustumCount,
      referenceFrustums: this.reference ? this.reference.frames.length : 0,
      keyframes: this.keys ? this.keys.length : 0,
      selected: this.selected,
      editable: this.editable,
      frame: this.frame,
      stale: this.trajectoryStale,
      error: this.error,
      notice: this.notice,
      webgl: Boolean(this.renderer),
    };
  }
}
