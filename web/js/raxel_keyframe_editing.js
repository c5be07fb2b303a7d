// Keyframe editing in the 3D trajectory view (raxel_trajectory_view.js): the key handles (a
// sphere and a frustum per key, look-at targets and aim lines, the dashed key path), selecting a
// key, moving it by dragging or with TransformControls, rotating it, and writing the handles' poses
// back into the keys (hooks.onKeysEdited). Methods of TrajectoryView, installed on its prototype
// there; they use its scene, camera, controls and key state. This module only exports: ComfyUI
// loads every .js under web/js, and loading this one registers nothing.
import * as THREE from "../lib/three/three.module.min.js";
import { keyC2W, transpose } from "./raxel_keyframes.js";
import {
  KEY_COLOR, KEY_SELECTED_COLOR, LOOK_AT_COLOR, clearGroup, frustumSegments, marker, matrixFromPose, pathLine,
} from "./raxel_view_drawing.js";

/** TrajectoryView methods that draw and edit keyframes (Object.assign onto its prototype). */
export const keyframeEditing = {
  _buildKeys() {
    const attached = this.transform.object;
    this.transform.detach();
    clearGroup(this.keyGroup);
    this.keyHandles = [];
    this.lookAtHandles = [];
    if (!this.keys) return;
    const { fov, aspect } = this.keyDefaults;
    const sorted = this.keys.map((k, i) => [k.frame, i]).sort((a, b) => a[0] - b[0]);
    if (this.keys.length > 1) {
      const path = pathLine(sorted.map(([, i]) => this.keys[i].position), () => KEY_COLOR, 0.8);
      path.material = new THREE.LineDashedMaterial({ color: KEY_COLOR, dashSize: this.scale * 0.4, gapSize: this.scale * 0.25 });
      path.computeLineDistances();
      this.keyPath = path;
      this.keyGroup.add(path);
    }
    this.keys.forEach((key, i) => {
      const handle = new THREE.Group();
      handle.userData = { kind: "key", index: i };
      const color = i === this.selected ? KEY_SELECTED_COLOR : KEY_COLOR;
      const sphere = marker([0, 0, 0], color, this.scale * 0.18, "sphere");
      sphere.userData = handle.userData;
      handle.add(sphere);
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.Float32BufferAttribute(frustumSegments(key.fov ?? fov, aspect, this.scale * 1.4).flat(), 3));
      handle.add(new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color })));
      this._poseHandle(handle, key);
      this.keyGroup.add(handle);
      this.keyHandles.push(handle);
      if (key.look_at) {
        const target = marker(key.look_at, LOOK_AT_COLOR, this.scale * 0.16);
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
  },

  _poseHandle(handle, key) {
    const m = matrixFromPose(keyC2W(key), key.position);
    m.decompose(handle.position, handle.quaternion, handle.scale);
  },

  _attachTransform() {
    const handle = this.keyHandles?.[this.selected];
    if (handle && this.editable) this.transform.attach(handle);
    else this.transform.detach();
  },

  setTransformMode(mode) {
    this.transform.setMode(mode);
    this.transform.setSpace(mode === "rotate" ? "local" : "world");
    this.requestRender();
  },

  select(index) {
    this.selected = index;
    this._buildKeys();
    if (this.editable && index >= 0) this._attachTransform();
    this.hooks.onSelect?.(index);
    this._updateInfo();
    this.requestRender();
  },

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
  },

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
  },

  _ndc(event) {
    const rect = this.canvas.getBoundingClientRect();
    return new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1, (-(event.clientY - rect.top) / rect.height) * 2 + 1);
  },

  _pick(event) {
    const targets = [...(this.keyHandles || []).map((h) => h.children[0]), ...(this.lookAtHandles || [])];
    if (!targets.length) return null;
    this.raycaster.setFromCamera(this._ndc(event), this.camera);
    const hit = this.raycaster.intersectObjects(targets, false)[0];
    if (!hit) return null;
    const { kind, index } = hit.object.userData;
    return kind === "key" ? this.keyHandles[index] : hit.object;
  },

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
  },

  _pointerMove(event) {
    if (!this._drag) return;
    this.raycaster.setFromCamera(this._ndc(event), this.camera);
    const point = this.raycaster.ray.intersectPlane(this._drag.plane, new THREE.Vector3());
    if (!point) return;
    this._drag.handle.position.copy(this.world.worldToLocal(point));
    this._drag.moved = true;
    this._handleMoved(this._drag.handle, "drag");
  },

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
  },
};
