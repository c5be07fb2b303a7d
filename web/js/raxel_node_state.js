// What a raxel node keeps and shows besides its 3D view (raxel_extension.js registers it):
//
// * the last run's result kept with the workflow, in node.properties, so a workflow tab switch,
//   undo / redo and a reopened workflow show it again (keepWithWorkflow, within RESULT_LIMIT);
// * the report text the server sends in the "executed" UI payload (ui.text), in a read-only box;
// * which widgets matter in the chosen mode (WIDGET_RULES): the others are hidden, not removed,
//   so widgets_values and saved workflows stay as they were;
// * the live preset path of RaxelCameraTrajectory, asked from the pack's route
//   POST /raxel/preset_path (nodes/preset_route.py), which runs the same Python as a run.
//
// This module only exports: ComfyUI loads every .js under web/js, and loading this one registers nothing.
import { app } from "../../../scripts/app.js";

/** node.properties key of the last run's 3D view payload ({trajectory, reference, signature}). */
export const RESULT_PROPERTY = "raxel_last_result";
/** node.properties key of the last run's report text. */
export const REPORT_PROPERTY = "raxel_report";
/** Largest result (characters of JSON) kept with the workflow: about 1,500 frames per view after
 * rounding. A larger one is shown, but not kept, and the view says so. */
export const RESULT_LIMIT = 256 * 1024;
/** Longest report text kept with the workflow (characters); longer ones are cut with a mark. */
export const REPORT_LIMIT = 4000;

const findWidget = (node, name) => node.widgets?.find((w) => w.name === name);

/** Round to 6 significant digits: the view draws at screen precision, and the JSON gets ~3x smaller. */
const round = (v) => (typeof v === "number" ? Number(v.toPrecision(6)) : v);

/** The 3D view payload (raxel_core/trajectory_view.py layout) with its numbers rounded. */
export function compactView(view) {
  if (!view) return null;
  return {
    ...view,
    look_at: view.look_at ? view.look_at.map(round) : view.look_at,
    frames: view.frames.map((f) => ({
      position: f.position.map(round),
      rotation: f.rotation.map((r) => r.map(round)),
      fov_y_deg: round(f.fov_y_deg),
    })),
  };
}

/**
 * Set node.properties[key] = value (undefined deletes it), and the same in every state of the
 * workflow's change tracker (its current state, undo and redo queues): a run's result is not an
 * edit, so it neither adds an undo step nor disappears when an edit is undone, and the tab switch
 * (which reloads the tracker's current state) brings it back.
 */
export function keepWithWorkflow(node, key, value) {
  node.properties ??= {};
  if (value === undefined) delete node.properties[key];
  else node.properties[key] = value;
  let tracker = null;
  try {
    tracker = app.extensionManager?.workflow?.activeWorkflow?.changeTracker ?? null;
  } catch (err) {
    console.warn("raxel: no change tracker; the result is kept on the node only", err);
  }
  if (!tracker) return;
  const states = [tracker.activeState, tracker.initialState, ...(tracker.undoQueue || []), ...(tracker.redoQueue || [])];
  for (const state of states) {
    const saved = state?.nodes?.find((n) => n.id === node.id && n.type === node.type);
    if (!saved) continue;
    saved.properties ??= {};
    if (value === undefined) delete saved.properties[key];
    else saved.properties[key] = value;
  }
}

// ---------------------------------------------------------------- widgets per mode

const ORBITING = (preset) => /^orbit_/.test(preset) || preset === "arc" || preset === "spiral";

/**
 * For each node type: the widget that chooses the mode, and for the widgets that matter only in
 * some modes, a test of that widget's value. A widget not listed is always shown.
 */
export const WIDGET_RULES = {
  RaxelCameraTrajectory: {
    mode: "preset",
    shown: {
      magnitude: (p) => p !== "keyframes" && p !== "static",
      easing: (p) => p !== "keyframes" && p !== "static",
      distance: (p) => ORBITING(p), // the orbit / arc centre and spiral's forward reference
      keyframes: (p) => p === "keyframes",
    },
  },
  RaxelJointSampler: {
    mode: "mode",
    shown: {
      frames: (m) => m === "joint",
      steps_video: (m) => m !== "pose",
      steps_rays: (m) => m !== "video",
    },
  },
};

/** Hide the widgets of `node` that do nothing in its current mode; true when something changed. */
export function applyWidgetVisibility(node) {
  const rule = WIDGET_RULES[node.comfyClass || node.type];
  if (!rule) return false;
  const mode = findWidget(node, rule.mode)?.value;
  let changed = false;
  for (const [name, shows] of Object.entries(rule.shown)) {
    const w = findWidget(node, name);
    if (!w) continue;
    const input = node.inputs?.find((i) => i.widget?.name === name);
    const hidden = !shows(mode) && input?.link == null; // a linked input stays visible
    if (Boolean(w.hidden) !== hidden) {
      w.hidden = hidden;
      changed = true;
    }
  }
  if (changed) {
    const min = node.computeSize();
    if (node.size[1] < min[1]) node.setSize([node.size[0], min[1]]); // room for the widgets shown again
    node.setDirtyCanvas?.(true, true);
  }
  return changed;
}

// ---------------------------------------------------------------- report text

/** The read-only report box of `node` (created on first use). */
export function reportBox(node) {
  let w = findWidget(node, "raxel_report");
  if (w) return w.element;
  const box = document.createElement("textarea");
  box.readOnly = true;
  box.className = "raxel-report";
  box.placeholder = "the report of the next run shows here";
  Object.assign(box.style, {
    width: "100%", height: "100%", resize: "none", boxSizing: "border-box", font: "11px monospace",
    background: "#1d2027", color: "#d8d8d8", border: "1px solid #3a3f4a", borderRadius: "4px", padding: "3px 5px",
  });
  for (const type of ["pointerdown", "wheel", "keydown"]) box.addEventListener(type, (e) => e.stopPropagation());
  w = node.addDOMWidget("raxel_report", "raxel_report", box, {
    serialize: false, hideOnZoom: false, getMinHeight: () => 44, getMaxHeight: () => 120,
    getValue: () => undefined, setValue: () => {},
  });
  w.serialize = false; // not part of widgets_values
  return box;
}

/** Show `text` (string or list of strings, as in ui.text) in the node's report box; keep it with the workflow. */
/** ui.text (a string or a list of strings) as one string, cut at REPORT_LIMIT characters with a mark. */
export function reportText(text) {
  const value = Array.isArray(text) ? text.join("\n") : String(text ?? "");
  return value.length > REPORT_LIMIT ? `${value.slice(0, REPORT_LIMIT)}\n… (cut at ${REPORT_LIMIT} characters)` : value;
}

export function showReport(node, text, keep = true) {
  const value = reportText(text);
  const box = reportBox(node);
  box.value = value;
  box.title = value;
  if (keep) keepWithWorkflow(node, REPORT_PROPERTY, value);
}

// ---------------------------------------------------------------- live preset path

/** Widget values the route needs, or null when the node is in keyframes mode. */
export function presetRequest(node) {
  const get = (name) => findWidget(node, name)?.value;
  const preset = get("preset");
  if (!preset || preset === "keyframes") return null;
  return {
    preset, frames: Number(get("frames")), magnitude: Number(get("magnitude")), easing: get("easing"),
    width: Number(get("width")), height: Number(get("height")), fov: Number(get("fov")),
    distance: Number(get("distance")),
  };
}

/** POST the widget values to the pack's route; resolves to the view payload; throws Error with the server's message. */
export async function fetchPresetPath(request) {
  const response = await app.api.fetchApi("/raxel/preset_path", { // ComfyUI's client: its base URL
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
  });
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    throw new Error(`the server answered ${response.status} without JSON`);
  }
  if (!response.ok) throw new Error(body?.error || `the server answered ${response.status}`);
  return body.trajectory;
}
