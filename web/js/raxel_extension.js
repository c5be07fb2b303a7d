// ComfyUI front-end extension of the raxel pack: a 3D trajectory view inside the nodes that make
// or show a CAMERA_TRAJECTORY, and a keyframe editor in RaxelCameraTrajectory.
//
// Data: after a run the Python nodes send their trajectory as a UI payload
// {"raxel_trajectory": [view], "raxel_reference": [view]} (raxel_core/trajectory_view.py),
// which arrives in onExecuted. In keyframes mode RaxelCameraTrajectory also draws the keyframes
// of its JSON widget directly (raxel_keyframes.js), before any run, and edits write the JSON
// back through the widget (value + callback), so the graph, saving and undo work as for typing.
import { app } from "../../../scripts/app.js";
import { TrajectoryView } from "./raxel_trajectory_view.js";
import { formatKeyframes, keyC2W, parseKeyframes, transpose } from "./raxel_keyframes.js";

const VIEW_NODES = new Set([
  "RaxelCameraTrajectory", "RaxelLoadTrajectory", "RaxelTrajectoryPreview", "RaxelPoseDecode", "RaxelPoseFromVideo",
  "RaxelFromCameraCtrlPoses",
]);
const EDITOR_NODE = "RaxelCameraTrajectory";
const KEYFRAMES_PRESET = "keyframes";
const VIEW_WIDGET = "raxel_3d_view";
const VIEW_HEIGHT = 340;

const findWidget = (node, name) => node.widgets?.find((w) => w.name === name);

function button(label, title, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.title = title;
  Object.assign(b.style, {
    font: "11px sans-serif", padding: "2px 6px", background: "#2b2f38", color: "#ddd",
    border: "1px solid #454b57", borderRadius: "4px", cursor: "pointer",
  });
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return b;
}

/** The view and its controls on one node. */
class NodeView {
  constructor(node) {
    this.node = node;
    this.isEditor = node.comfyClass === EDITOR_NODE || node.type === EDITOR_NODE;
    this.lastText = null;
    this.lastMode = null;
    this.goodKeys = null;
    this.executedSignature = null;

    this.inputWidgetNames = (node.widgets || []).map((w) => w.name);
    this.container = document.createElement("div");
    this.container.className = "raxel-view-container";
    Object.assign(this.container.style, { display: "flex", flexDirection: "column", gap: "3px", width: "100%", height: "100%" });

    if (this.isEditor) this._buildToolbar();
    this.view = new TrajectoryView({
      onKeysEdited: (keys, phase) => { if (phase === "commit") this.writeKeys(keys); },
      onSelect: (index) => this._showSelected(index),
    });
    this.view.element.style.flex = "1 1 auto";
    this.container.appendChild(this.view.element);
    this._buildScrubber();

    this.widget = node.addDOMWidget(VIEW_WIDGET, "raxel_trajectory_view", this.container, {
      serialize: false,
      hideOnZoom: false,
      getMinHeight: () => VIEW_HEIGHT,
      getValue: () => undefined,
      setValue: () => {},
    });
    this.widget.serialize = false; // not part of widgets_values: saved workflows stay as they were
    this._hookWidgets();
    this.sync();
  }

  _buildToolbar() {
    const bar = document.createElement("div");
    Object.assign(bar.style, { display: "flex", gap: "4px", alignItems: "center", flexWrap: "wrap" });
    this.editButtons = [
      button("Move", "Drag keys freely; the arrows move along one axis", () => this.view.setTransformMode("translate")),
      button("Rotate", "Rotate the selected key with the rings (turns it into a rotation key)", () => this.view.setTransformMode("rotate")),
      button("+ Key", "Add a keyframe (at the scrubber frame when the last run's trajectory is shown)", () => this.addKey()),
      button("− Key", "Delete the selected keyframe", () => this.deleteKey()),
    ];
    this.frameInput = document.createElement("input");
    Object.assign(this.frameInput, { type: "number", min: 0, step: 1, title: "Frame of the selected keyframe" });
    Object.assign(this.frameInput.style, { width: "56px", font: "11px sans-serif" });
    this.frameInput.disabled = true;
    this.frameInput.addEventListener("change", () => this.setSelectedFrame(Number(this.frameInput.value)));
    const frameLabel = document.createElement("span");
    frameLabel.textContent = "key frame";
    Object.assign(frameLabel.style, { font: "11px sans-serif", color: "#aaa" });
    bar.append(...this.editButtons, frameLabel, this.frameInput,
      button("Fit", "Frame every camera in the view", () => this.view.fit()));
    for (const type of ["pointerdown", "keydown", "wheel"]) bar.addEventListener(type, (e) => e.stopPropagation());
    this.toolbar = bar;
    this.container.appendChild(bar);
  }

  _buildScrubber() {
    const row = document.createElement("div");
    Object.assign(row.style, { display: "flex", gap: "6px", alignItems: "center", font: "11px sans-serif", color: "#bbb" });
    this.scrubber = document.createElement("input");
    Object.assign(this.scrubber, { type: "range", min: 0, max: 0, step: 1, value: 0, title: "Frame to highlight" });
    this.scrubber.className = "raxel-scrubber";
    this.scrubber.style.flex = "1 1 auto";
    this.scrubber.disabled = true;
    this.scrubberLabel = document.createElement("span");
    this.scrubberLabel.textContent = "not run yet";
    this.scrubber.addEventListener("input", () => {
      this.view.setFrame(Number(this.scrubber.value));
      this._updateScrubberLabel();
    });
    for (const type of ["pointerdown", "keydown", "wheel"]) row.addEventListener(type, (e) => e.stopPropagation());
    row.append(this.scrubber, this.scrubberLabel);
    this.container.appendChild(row);
  }

  _updateScrubberLabel() {
    const t = this.view.trajectory;
    this.scrubberLabel.textContent = t ? `frame ${this.scrubber.value} / ${t.frames.length - 1}` : "not run yet";
  }

  /** Re-read the widgets whenever one of them changes (typing, combo, undo, link). */
  _hookWidgets() {
    for (const w of this.node.widgets || []) {
      if (w.name === VIEW_WIDGET || w.__raxelHooked) continue;
      const original = w.callback;
      const self = this;
      w.callback = function (...args) {
        const result = original?.apply(this, args);
        self.sync();
        return result;
      };
      w.__raxelHooked = true;
      const input = w.inputEl || w.element;
      input?.addEventListener?.("input", () => this.sync());
    }
  }

  /** Values of the node's own input widgets (those made with the node, before the view). */
  _signature() {
    return JSON.stringify(this.inputWidgetNames.map((name) => findWidget(this.node, name)?.value));
  }

  _keyframesLinked() {
    return Boolean(this.node.inputs?.find((i) => i.name === "keyframes" || i.widget?.name === "keyframes")?.link != null);
  }

  /** Bring the view in line with the widgets (cheap when nothing changed). */
  sync() {
    try {
      if (this.view.trajectory && this.executedSignature !== null) {
        this.view.setStale(this._signature() !== this.executedSignature);
      }
      if (!this.isEditor) return;
      const preset = findWidget(this.node, "preset")?.value;
      const keysWidget = findWidget(this.node, "keyframes");
      const text = keysWidget ? String(keysWidget.value ?? "") : "";
      const mode = preset === KEYFRAMES_PRESET;
      const fov = Number(findWidget(this.node, "fov")?.value) || 50;
      const width = Number(findWidget(this.node, "width")?.value) || 832;
      const height = Number(findWidget(this.node, "height")?.value) || 480;
      const defaults = { fov, aspect: width / height };
      const linked = this._keyframesLinked();
      const modeKey = `${mode}|${fov}|${width}|${height}|${linked}`;
      if (text === this.lastText && modeKey === this.lastMode) return;
      this.lastText = text;
      this.lastMode = modeKey;
      this.keysError = false;
      if (!mode) {
        this.view.setKeys(null);
        this.view.setError("");
        this._enableEditing(false);
        return;
      }
      if (linked) {
        this.view.setKeys(null);
        this.view.setError("");
        this.view.setNotice("keyframes come from a link: edit them at their source");
        this._enableEditing(false);
        return;
      }
      try {
        const keys = parseKeyframes(text);
        this.goodKeys = keys;
        this.keysError = false;
        this.view.setError("");
        this.view.setNotice("drag a key to move it; click one to select it");
        this.view.setKeys(keys, defaults, true);
        this._enableEditing(true);
      } catch (err) {
        // Readable error on the node; the last valid keys stay drawn but cannot be edited, so
        // nothing overwrites the text being typed.
        this.keysError = true;
        this.view.setError(err.message);
        this.view.setKeys(this.goodKeys, defaults, false);
        this._enableEditing(false);
      }
    } catch (err) {
      this.view.setError(`the 3D view failed: ${err.message}`);
    }
  }

  _enableEditing(on) {
    const mode = findWidget(this.node, "preset")?.value === KEYFRAMES_PRESET;
    if (this.toolbar) this.toolbar.style.display = mode ? "flex" : "none";
    for (const b of this.editButtons || []) {
      b.disabled = !on;
      b.style.opacity = on ? "1" : "0.4";
    }
    if (this.frameInput) this.frameInput.disabled = !on || this.view.selected < 0;
  }

  _showSelected(index) {
    if (!this.frameInput) return;
    const key = this.view.keys?.[index];
    this.frameInput.disabled = !key || !this.view.editable;
    this.frameInput.value = key ? String(key.frame) : "";
  }

  /** Write keys into the keyframes widget the way typing would (value, callback, dirty, undo). */
  writeKeys(keys) {
    const w = findWidget(this.node, "keyframes");
    if (!w) return;
    const text = formatKeyframes(keys);
    this.lastText = text; // the view already shows these keys
    this.goodKeys = keys.map((k) => structuredClone(k));
    w.value = text;
    w.callback?.(text, app.canvas, this.node);
    this.node.setDirtyCanvas?.(true, true);
    app.graph?.setDirtyCanvas?.(true, true);
    try {
      app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
    } catch (err) {
      console.warn("raxel: change tracker did not take the edit", err);
    }
  }

  addKey() {
    const keys = (this.view.keys || []).map((k) => structuredClone(k));
    if (!keys.length) return;
    const used = new Set(keys.map((k) => k.frame));
    const t = this.view.trajectory;
    const frameAt = Number(this.scrubber.value);
    let key;
    if (t && !this.view.trajectoryStale && !used.has(frameAt) && t.frames[frameAt]) {
      // a key on the shown frame, exactly where the last run's camera is
      const f = t.frames[frameAt];
      key = { frame: frameAt, position: f.position.slice(), rotation: transpose(f.rotation) };
    } else {
      const last = keys.reduce((a, b) => (b.frame > a.frame ? b : a));
      const frames = Number(findWidget(this.node, "frames")?.value) || 49;
      let frame = last.frame + Math.max(1, Math.round((frames - 1) / 4));
      while (used.has(frame)) frame += 1;
      const right = keyC2W(last).map((row) => row[0]); // camera x axis in the world
      const step = this.view.scale * 6;
      key = { frame, position: last.position.map((v, i) => v + right[i] * step) };
      if (last.look_at) key.look_at = last.look_at.slice();
      else if (last.euler_deg) key.euler_deg = last.euler_deg.slice();
      else key.rotation = last.rotation.map((r) => r.slice());
      if (key.look_at && Math.max(...key.look_at.map((v, i) => Math.abs(v - key.position[i]))) < 1e-6) {
        key.look_at = key.look_at.map((v, i) => v + (i === 2 ? 1 : 0));
      }
    }
    keys.push(key);
    keys.sort((a, b) => a.frame - b.frame);
    this.writeKeys(keys);
    this.view.setKeys(keys, null, true);
    this.view.select(keys.indexOf(key));
  }

  deleteKey() {
    const keys = (this.view.keys || []).map((k) => structuredClone(k));
    const index = this.view.selected;
    if (index < 0) { this.view.setNotice("select a keyframe first (click it)"); return; }
    if (keys.length <= 1) { this.view.setNotice("a path needs at least one keyframe"); return; }
    keys.splice(index, 1);
    this.writeKeys(keys);
    this.view.setKeys(keys, null, true);
    this.view.select(-1);
  }

  setSelectedFrame(frame) {
    const keys = (this.view.keys || []).map((k) => structuredClone(k));
    const index = this.view.selected;
    if (index < 0 || !keys[index]) return;
    if (!Number.isInteger(frame) || frame < 0) {
      this.view.setNotice(`a key frame must be a whole number >= 0; got ${this.frameInput.value}`);
      this.frameInput.value = String(keys[index].frame);
      return;
    }
    if (keys.some((k, i) => i !== index && k.frame === frame)) {
      this.view.setNotice(`another key already sits on frame ${frame}`);
      this.frameInput.value = String(keys[index].frame);
      return;
    }
    keys[index].frame = frame;
    this.writeKeys(keys);
    this.view.setKeys(keys, null, true);
    this.view.select(index);
  }

  onExecuted(output) {
    const data = output?.raxel_trajectory?.[0];
    if (!data) return;
    try {
      this.view.setTrajectory(data, output?.raxel_reference?.[0] ?? null);
      this.executedSignature = this._signature();
      const n = this.view.trajectory.frames.length;
      this.scrubber.max = String(n - 1);
      this.scrubber.disabled = n < 2;
      if (Number(this.scrubber.value) > n - 1) this.scrubber.value = String(n - 1);
      this.view.setFrame(Number(this.scrubber.value));
      if (!this.keysError) this.view.setError("");
      this._updateScrubberLabel();
    } catch (err) {
      this.view.setError(`could not show the trajectory: ${err.message}`);
    }
  }

  dispose() {
    this.view.dispose();
  }

  debugState() {
    return { id: this.node.id, type: this.node.comfyClass || this.node.type, ...this.view.debugState() };
  }
}

// Debug / test hook: the views of the current graph.
window.__raxel = {
  nodeViews() {
    return (app.graph?._nodes || app.graph?.nodes || []).filter((n) => n.__raxelView).map((n) => n.__raxelView);
  },
  get(id) {
    return app.graph?.getNodeById(id)?.__raxelView ?? null;
  },
  states() {
    return this.nodeViews().map((v) => v.debugState());
  },
};

app.registerExtension({
  name: "raxel.TrajectoryView",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!VIEW_NODES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function (...args) {
      const result = onNodeCreated?.apply(this, args);
      try {
        this.__raxelView = new NodeView(this);
        const min = this.computeSize();
        this.setSize([Math.max(this.size[0], 420), Math.max(this.size[1], min[1])]);
      } catch (err) {
        console.error("raxel: the 3D view could not be created", err);
      }
      return result;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function (...args) {
      const result = onConfigure?.apply(this, args);
      const view = this.__raxelView;
      if (view) {
        view._hookWidgets();
        // Workflows saved without the view: make room for it now, inside configure, so the size
        // is part of the state the change tracker records (a later resize would read as an edit
        // and clear the redo queue).
        const min = this.computeSize();
        if (this.size[1] < min[1]) this.setSize([this.size[0], min[1]]); // width as saved: no overlap
        requestAnimationFrame(() => view.sync());
      }
      return result;
    };
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output, ...rest) {
      const result = onExecuted?.apply(this, [output, ...rest]);
      this.__raxelView?.onExecuted(output);
      return result;
    };
    const onRemoved = nodeType.prototype.onRemoved;
    nodeType.prototype.onRemoved = function (...args) {
      const result = onRemoved?.apply(this, args);
      this.__raxelView?.dispose();
      this.__raxelView = null;
      return result;
    };
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (...args) {
      const result = onDrawForeground?.apply(this, args);
      this.__raxelView?.sync(); // catches value changes that bypass callbacks (undo, paste)
      return result;
    };
  },
});
