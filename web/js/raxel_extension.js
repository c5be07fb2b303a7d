// ComfyUI front-end extension of the raxel pack: a 3D trajectory view inside the nodes that make
// or show a CAMERA_TRAJECTORY, and a keyframe editor in RaxelCameraTrajectory.
//
// Data: after a run the Python nodes send their trajectory as a UI payload
// {"raxel_trajectory": [view], "raxel_reference": [view]} (raxel_core/trajectory_view.py),
// which arrives in onExecuted. In keyframes mode RaxelCameraTrajectory also draws the keyframes
// of its JSON widget directly (raxel_keyframes.js), before any run, and edits write the JSON
// back through the widget (value + callback), so the graph, saving and undo work as for typing.
// In preset mode it draws the preset's path live, asked from the pack's route (raxel_node_state.js).
//
// Every view has Play / Pause, Fit (reset the viewpoint), one scrubber driving every path it draws
// (trajectory, reference, preview) and a legend. The last result is kept with the workflow
// (node.properties, raxel_node_state.js), so tab switches, undo and reopening show it again.
// The report text a node sends (ui.text: registration report, "saved ... to ...") is shown on it.
// Load Camera Path gets an upload button (raxel_upload.js).
import { app } from "../../../scripts/app.js";
import { TrajectoryView } from "./raxel_trajectory_view.js";
import { formatKeyframes, keyC2W, parseKeyframes, transpose } from "./raxel_keyframes.js";
import {
  REPORT_PROPERTY, RESULT_LIMIT, RESULT_PROPERTY, WIDGET_RULES, applyWidgetVisibility, compactView, fetchPresetPath,
  keepWithWorkflow, presetRequest, reportBox, reportText, showReport,
} from "./raxel_node_state.js";
import { UPLOAD_NODE, addPoseUpload } from "./raxel_upload.js";

const VIEW_NODES = new Set([
  "RaxelCameraTrajectory", "RaxelLoadTrajectory", "RaxelTrajectoryPreview", "RaxelPoseDecode", "RaxelPoseFromVideo",
  "RaxelFromCameraCtrlPoses", "RaxelTracksTo4D",
]);
const EDITOR_NODE = "RaxelCameraTrajectory";
/** Nodes without a 3D view whose report text (the saved path) is shown: their report box exists from the
 * start, so the node's size is known when the workflow is laid out, not changed by a run. (The export
 * nodes, the model loader and the joint sampler send a report too; the templates leave no room under
 * them for a box yet.) */
const REPORT_NODES = new Set(["RaxelSaveTrajectory"]);
/** Frames per second of Play when the trajectory carries no fps. */
const PLAY_FPS = 12;
/** Wait after the last widget change before asking the server for the preset path (ms). */
const PREVIEW_DEBOUNCE_MS = 120;
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

    this.inputWidgetNames = (node.widgets || []).filter((w) => w.serialize !== false).map((w) => w.name);
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
    this._buildReport();
    this.playTimer = null;
    this.previewKey = null;
    this.previewTimer = null;
    this.previewError = "";
    this.keptNote = "";

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
    bar.append(...this.editButtons, frameLabel, this.frameInput);
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
    this.playButton = button("▶ Play", "Play the camera move (loops); click again to pause", () => this.togglePlay());
    this.playButton.className = "raxel-play";
    this.fitButton = button("Fit", "Reset the viewpoint: frame every camera in the view", () => this.view.fit());
    this.fitButton.className = "raxel-fit";
    for (const type of ["pointerdown", "keydown", "wheel"]) row.addEventListener(type, (e) => e.stopPropagation());
    row.append(this.playButton, this.fitButton, this.scrubber, this.scrubberLabel);
    this.container.appendChild(row);
  }

  /** The node's report text (ui.text) inside the view's container: shown once a run sends one. */
  _buildReport() {
    this.report = document.createElement("textarea");
    this.report.readOnly = true;
    this.report.className = "raxel-report";
    Object.assign(this.report.style, {
      display: "none", flex: "0 0 auto", height: "44px", resize: "none", boxSizing: "border-box",
      font: "11px monospace", background: "#1d2027", color: "#d8d8d8", border: "1px solid #3a3f4a",
      borderRadius: "4px", padding: "3px 5px",
    });
    for (const type of ["pointerdown", "wheel", "keydown"]) this.report.addEventListener(type, (e) => e.stopPropagation());
    this.container.appendChild(this.report);
  }

  showReport(text, keep = true) {
    const value = reportText(text);
    this.report.value = value;
    this.report.title = value;
    this.report.style.display = value ? "block" : "none";
    if (keep) keepWithWorkflow(this.node, REPORT_PROPERTY, value);
  }

  /** Scrubber range and label for what the view shows now (a run's trajectory or the preview). */
  _refreshScrubber() {
    const t = this.view.shownTrajectory();
    const n = t ? t.frames.length : 0;
    this.scrubber.max = String(Math.max(0, n - 1));
    this.scrubber.disabled = n < 2;
    this.playButton.disabled = n < 2;
    this.playButton.style.opacity = n < 2 ? "0.4" : "1";
    if (n < 2) this.pause();
    if (Number(this.scrubber.value) > Math.max(0, n - 1)) this.scrubber.value = String(Math.max(0, n - 1));
    if (this.view.frame !== Number(this.scrubber.value)) this.view.setFrame(Number(this.scrubber.value));
    this._updateScrubberLabel();
  }

  _updateScrubberLabel() {
    const t = this.view.shownTrajectory();
    const what = t && t === this.view.preview ? " (preview)" : "";
    this.scrubberLabel.textContent = t ? `frame ${this.scrubber.value} / ${t.frames.length - 1}${what}${this.keptNote}`
      : "not run yet";
  }

  get playing() {
    return this.playTimer !== null;
  }

  togglePlay() {
    if (this.playing) this.pause();
    else this.play();
  }

  /** Step the scrubber at the trajectory's fps (PLAY_FPS when it has none), looping. */
  play() {
    const t = this.view.shownTrajectory();
    if (!t || t.frames.length < 2 || this.playing) return;
    const fps = Number(t.fps) > 0 ? Number(t.fps) : PLAY_FPS;
    this.playTimer = setInterval(() => {
      const shown = this.view.shownTrajectory();
      if (!shown || !this.node.graph) { this.pause(); return; }
      const next = (Number(this.scrubber.value) + 1) % shown.frames.length;
      this.scrubber.value = String(next);
      this.view.setFrame(next);
      this._updateScrubberLabel();
    }, 1000 / fps);
    this.playButton.textContent = "❚❚ Pause";
  }

  pause() {
    if (this.playTimer !== null) clearInterval(this.playTimer);
    this.playTimer = null;
    if (this.playButton) this.playButton.textContent = "▶ Play";
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
      applyWidgetVisibility(this.node);
      this._syncPreview();
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

  /** Ask the server for the preset path when the widgets changed (debounced); drop it in keyframes mode. */
  _syncPreview() {
    const request = presetRequest(this.node);
    const key = request ? JSON.stringify(request) : null;
    if (key === this.previewKey) return;
    this.previewKey = key;
    clearTimeout(this.previewTimer);
    if (!request) {
      this._setPreviewError("");
      if (this.view.preview) { this.view.setPreview(null); this._refreshScrubber(); }
      return;
    }
    this.previewTimer = setTimeout(async () => {
      try {
        const data = await fetchPresetPath(request);
        if (this.previewKey !== key || !this.view) return; // the widgets moved on meanwhile
        this._setPreviewError("");
        this.view.setPreview(data);
        this._refreshScrubber();
      } catch (err) {
        if (this.previewKey !== key) return;
        this.view.setPreview(null);
        this._setPreviewError(`preset path: ${err.message}`);
        this._refreshScrubber();
      }
    }, PREVIEW_DEBOUNCE_MS);
  }

  _setPreviewError(text) {
    if (text) this.view.setError(text);
    else if (this.previewError && this.view.error === this.previewError) this.view.setError("");
    this.previewError = text;
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
    if (output?.text) this.showReport(output.text);
    const data = output?.raxel_trajectory?.[0];
    if (!data) return;
    const reference = output?.raxel_reference?.[0] ?? null;
    if (this.showResult(data, reference, this._signature())) this.keep(data, reference);
  }

  /** Draw a run's result; false when it cannot be shown (the error says why). */
  showResult(data, reference, signature) {
    try {
      this.view.setTrajectory(data, reference);
      this.executedSignature = signature;
      this.view.setStale(signature !== this._signature());
      if (!this.keysError && !this.previewError) this.view.setError("");
      this._refreshScrubber();
      return true;
    } catch (err) {
      this.view.setError(`could not show the trajectory: ${err.message}`);
      return false;
    }
  }

  /** Keep the result with the workflow when it fits RESULT_LIMIT; otherwise say that it is not kept. */
  keep(data, reference) {
    const kept = { trajectory: compactView(data), reference: compactView(reference), signature: this.executedSignature };
    const size = JSON.stringify(kept).length;
    if (size > RESULT_LIMIT) {
      keepWithWorkflow(this.node, RESULT_PROPERTY, undefined);
      this.keptNote = ` · not kept with the workflow (${Math.round(size / 1024)} KB > ${RESULT_LIMIT / 1024} KB)`;
    } else {
      keepWithWorkflow(this.node, RESULT_PROPERTY, kept);
      this.keptNote = "";
    }
    this._updateScrubberLabel();
  }

  /** Show what the workflow kept from the last run (tab switch, undo, reopened workflow). */
  restore() {
    const props = this.node.properties || {};
    if (props[REPORT_PROPERTY]) this.showReport(props[REPORT_PROPERTY], false);
    const kept = props[RESULT_PROPERTY];
    if (kept?.trajectory && !this.view.trajectory) this.showResult(kept.trajectory, kept.reference, kept.signature);
  }

  dispose() {
    this.pause();
    clearTimeout(this.previewTimer);
    this.view.dispose();
  }

  debugState() {
    return {
      id: this.node.id, type: this.node.comfyClass || this.node.type, ...this.view.debugState(),
      playing: this.playing, report: this.report.value, kept: Boolean(this.node.properties?.[RESULT_PROPERTY]),
    };
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
  /** The report text shown on node `id` (its view's box, or the report widget of a node without a view). */
  report(id) {
    const node = app.graph?.getNodeById(id);
    if (!node) return null;
    if (node.__raxelView) return node.__raxelView.report.value;
    return node.widgets?.find((w) => w.name === "raxel_report")?.element?.value ?? null;
  },
};

/** Report box and widget visibility for the pack's nodes without a 3D view. */
function extendPlainNode(nodeType, nodeData) {
  const name = nodeData.name;
  const hasRules = Boolean(WIDGET_RULES[name]);
  const onNodeCreated = nodeType.prototype.onNodeCreated;
  nodeType.prototype.onNodeCreated = function (...args) {
    const result = onNodeCreated?.apply(this, args);
    try {
      if (REPORT_NODES.has(name)) {
        reportBox(this);
        const min = this.computeSize();
        this.setSize([Math.max(this.size[0], min[0]), Math.max(this.size[1], min[1])]);
      }
      if (hasRules) applyWidgetVisibility(this);
    } catch (err) {
      console.error("raxel: the report box could not be created", err);
    }
    return result;
  };
  const onConfigure = nodeType.prototype.onConfigure;
  nodeType.prototype.onConfigure = function (...args) {
    const result = onConfigure?.apply(this, args);
    if (REPORT_NODES.has(name)) {
      const min = this.computeSize();
      if (this.size[1] < min[1]) this.setSize([this.size[0], min[1]]);
      const text = this.properties?.[REPORT_PROPERTY];
      if (text) showReport(this, text, false);
    }
    if (hasRules) applyWidgetVisibility(this);
    return result;
  };
  const onExecuted = nodeType.prototype.onExecuted;
  nodeType.prototype.onExecuted = function (output, ...rest) {
    const result = onExecuted?.apply(this, [output, ...rest]);
    if (output?.text && REPORT_NODES.has(name)) showReport(this, output.text);
    return result;
  };
  if (hasRules) {
    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (...args) {
      const result = onDrawForeground?.apply(this, args);
      applyWidgetVisibility(this); // catches mode changes by undo, paste and links
      return result;
    };
  }
}

app.registerExtension({
  name: "raxel.TrajectoryView",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!VIEW_NODES.has(nodeData.name)) {
      if (REPORT_NODES.has(nodeData.name) || WIDGET_RULES[nodeData.name]) extendPlainNode(nodeType, nodeData);
      return;
    }
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function (...args) {
      const result = onNodeCreated?.apply(this, args);
      try {
        if (nodeData.name === UPLOAD_NODE) addPoseUpload(this); // below the node's own widgets, above the view
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
        view.restore();
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
