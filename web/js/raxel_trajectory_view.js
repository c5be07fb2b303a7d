// The 3D trajectory view: a three.js scene in a DOM element (the node's widget).
//
// Draws camera frustums coloured by time (the 2D preview's turbo ramp, blue to red), the path through the camera
// centres, the look-at point, a ground grid and the world axes; orbit / pan / zoom with
// OrbitControls; a frame scrubber highlighting one camera; a grey reference trajectory; and, when
// given keyframes, handles to move (drag, or TransformControls) and rotate them; a preview path
// (a preset's path computed before any run, drawn in the time colours when no current
// run result covers it); a legend of the colours and marks.
//
// World: the trajectory's own OpenCV frame (x right, y down, z forward, the payload of
// raxel_core/trajectory_view.py). Everything sits in `this.world`, a group turned 180 degrees
// about x so that OpenCV -y (up in the images) is up on screen; positions inside it are OpenCV
// coordinates, so handles report keyframe positions without conversion.
import * as THREE from "../lib/three/three.module.min.js";
import { OrbitControls } from "../lib/three/OrbitControls.js";
import { TransformControls } from "../lib/three/TransformControls.js";
import { keyframeEditing } from "./raxel_keyframe_editing.js";
import {
  LOOK_AT_COLOR, REFERENCE_COLOR, checkTrajectory, clearGroup, disposeTree, frustumLines, groundAndAxes,
  highlightedCamera, marker, pathLine, timeColor,
} from "./raxel_view_drawing.js";

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
    this.preview = null; // a preset's path before a run (same payload), or null
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
    this.legend = this._buildLegend();

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

  /** Top-right legend: the time ramp, the highlighted frame, the reference, the look-at mark, the axes. */
  _buildLegend() {
    const legend = this._overlay({
      right: "6px", top: "4px", color: "#cfcfcf", fontSize: "10px", lineHeight: "13px",
      background: "rgba(21, 23, 28, 0.8)", padding: "3px 5px", borderRadius: "4px", pointerEvents: "none",
    });
    legend.className = "raxel-legend";
    const ramp = [0, 0.25, 0.5, 0.75, 1].map((u) => `#${timeColor(u).getHexString(THREE.SRGBColorSpace)}`);
    const swatch = (css) => `<span style="display:inline-block;width:14px;height:8px;margin-right:4px;${css}"></span>`;
    const rows = [
      ["time", `${swatch(`background:linear-gradient(90deg,${ramp.join(",")})`)}first → last frame`],
      ["frame", `${swatch("background:#fff")}scrubber frame`],
      ["reference", `${swatch(`background:#${REFERENCE_COLOR.getHexString(THREE.SRGBColorSpace)}`)}reference`],
      ["look-at", `<span style="color:#${LOOK_AT_COLOR.getHexString(THREE.SRGBColorSpace)};margin-right:4px">◆</span>look-at point`],
      ["axes", `<span style="color:#f33">x</span> <span style="color:#3f3">y</span> <span style="color:#39f">z</span>` +
        " axes (y down, z forward)"],
    ];
    legend.innerHTML = rows.map(([key, html]) => `<div data-legend="${key}">${html}</div>`).join("");
    this.legendRamp = ramp;
    return legend;
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
    disposeTree(this.scene);
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
    d.previewFrustums = String(this.previewFrustumCount || 0);
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

  /** A path to show before a run (e.g. the live preset path); drawn while no current result covers it. */
  setPreview(data) {
    this.preview = data ? checkTrajectory(data, "preview") : null;
    if (!this.trajectory) this.fitted = false;
    this.rebuild();
  }

  /** What the scrubber walks: the run's trajectory, or the preview when that is what is drawn. */
  shownTrajectory() {
    if (this.trajectory && !(this.trajectoryStale && this.preview)) return this.trajectory;
    return this.preview || this.trajectory;
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
    for (const t of [this.trajectory, this.reference, this.preview]) {
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
    clearGroup(this.staticGroup);
    this.staticGroup.add(...groundAndAxes(extent, center, floorY));
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

  _buildTrajectories() {
    clearGroup(this.trajGroup);
    this.frustumCount = 0;
    if (this.reference) {
      const grey = () => REFERENCE_COLOR;
      this.trajGroup.add(frustumLines(this.reference, grey, 0.6, this.scale));
      this.trajGroup.add(pathLine(this.reference.frames.map((f) => f.position), grey, 0.6));
    }
    this.previewFrustumCount = 0;
    const p = this.preview;
    const t = this.trajectory;
    if (p && (!t || this.trajectoryStale)) {
      // the preset's path as the widgets stand now, before (or since) the last run
      this.trajGroup.add(frustumLines(p, timeColor, 0.85, this.scale));
      this.trajGroup.add(pathLine(p.frames.map((f) => f.position), timeColor, 0.85));
      if (p.look_at) this.trajGroup.add(marker(p.look_at, LOOK_AT_COLOR, this.scale * 0.25));
      this.previewFrustumCount = p.frames.length;
    }
    if (!t) return;
    const opacity = this.trajectoryStale ? 0.3 : 1;
    this.trajGroup.add(frustumLines(t, timeColor, opacity, this.scale));
    this.trajGroup.add(pathLine(t.frames.map((f) => f.position), timeColor, opacity));
    this.frustumCount = t.frames.length;
    if (t.look_at) this.trajGroup.add(marker(t.look_at, LOOK_AT_COLOR, this.scale * 0.25));
  }

  _buildHighlight() {
    if (this._highlight) {
      this.world.remove(this._highlight);
      disposeTree(this._highlight);
      this._highlight = null;
    }
    const t = this.shownTrajectory();
    if (!t || !this.renderer) return;
    // one frame index drives every path of the view: the shown trajectory and its reference
    this._highlight = new THREE.Group();
    const f = t.frames[Math.min(this.frame, t.frames.length - 1)];
    this._highlight.add(highlightedCamera(f, t.image_size, this.scale * 1.25));
    const r = this.reference;
    if (r) {
      const g = r.frames[Math.min(this.frame, r.frames.length - 1)];
      this._highlight.add(highlightedCamera(g, r.image_size, this.scale * 1.1, REFERENCE_COLOR));
    }
    this.world.add(this._highlight);
  }

  // ------------------------------------------------------------------ text
  _updateInfo() {
    const parts = [];
    const t = this.shownTrajectory();
    if (t && t === this.preview) parts.push("preview of the preset (not run yet)");
    if (t) {
      const [h, w] = t.image_size;
      parts.push(`${t.frames.length} frames · ${w}x${h}`);
      const f = t.frames[Math.min(this.frame, t.frames.length - 1)];
      parts.push(`frame ${this.frame}: fov ${f.fov_y_deg.toFixed(1)}°`);
      if (this.trajectoryStale && t === this.trajectory) parts.push("(last run; inputs changed)");
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
      previewFrustums: this.previewFrustumCount || 0,
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

// Keyframe handles and editing (raxel_keyframe_editing.js).
Object.assign(TrajectoryView.prototype, keyframeEditing);
