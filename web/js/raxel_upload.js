// Upload button of Load Camera Path (RaxelLoadTrajectory). ComfyUI's front end draws no upload button for a
// combo flagged `file_upload` on a node that is not one of its own loaders, so the pack draws one: it opens a
// file picker, checks the suffix (the suffixes the node lists: nodes/paths.py POSE_FILE_SUFFIXES), sends the
// file to ComfyUI's input folder through its own `POST /upload/image` (type=input; it stores any file), asks
// the server again for the node's file list and selects the uploaded file. A refused file or a failed upload
// is told in a toast (and kept in node.__raxelUploadMessage for the tests). Loaded by raxel_extension.js;
// loading this module alone registers nothing.
import { app } from "../../../scripts/app.js";

/** Suffixes of the files Load Camera Path reads (equal to nodes/paths.py POSE_FILE_SUFFIXES: a test checks). */
export const POSE_UPLOAD_SUFFIXES = [".txt", ".json", ".npy"];
export const UPLOAD_NODE = "RaxelLoadTrajectory";
export const UPLOAD_WIDGET = "upload camera path file";
const UPLOAD_TOOLTIP =
  "Pick a camera path file on your computer (.txt RealEstate10K / CameraCtrl, .json, .npy LLFF poses_bounds); " +
  "it is copied into ComfyUI's input folder and selected. A COLMAP text model is a folder and cannot be " +
  "uploaded as one file: copy the folder into ComfyUI's input folder and refresh (R).";

function tell(node, severity, summary, detail) {
  node.__raxelUploadMessage = { severity, summary, detail };
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity, summary, detail, life: severity === "error" ? 10000 : 4000 });
  else if (severity === "error") window.alert(`${summary}\n${detail}`); // older front ends have no toast
}

/** The file names the server lists now for the node's `file` combo. */
async function fetchFileList() {
  const response = await app.api.fetchApi(`/object_info/${UPLOAD_NODE}`);
  if (!response.ok) throw new Error(`the server answered ${response.status} to /object_info/${UPLOAD_NODE}`);
  const spec = (await response.json())[UPLOAD_NODE]?.input?.required?.file;
  if (Array.isArray(spec?.[0])) return spec[0];
  if (Array.isArray(spec?.[1]?.options)) return spec[1].options; // ["COMBO", {options: [...]}]
  throw new Error(`no file list in /object_info/${UPLOAD_NODE}`);
}

/** Upload `file` into the input folder and select it in the node's `file` widget. Returns the selected name,
 * or null when the file was refused or the upload failed (the reason is shown). */
export async function uploadPoseFile(node, file) {
  const fileWidget = node.widgets?.find((w) => w.name === "file");
  const dot = file.name.lastIndexOf(".");
  const suffix = dot >= 0 ? file.name.slice(dot).toLowerCase() : "";
  if (!POSE_UPLOAD_SUFFIXES.includes(suffix)) {
    tell(node, "error", "Not a camera path file",
      `${file.name}: Load Camera Path reads ${POSE_UPLOAD_SUFFIXES.join(", ")} files; a COLMAP text model is a ` +
      "folder: copy it into ComfyUI's input folder instead.");
    return null;
  }
  const body = new FormData();
  body.append("image", file, file.name);
  body.append("type", "input");
  body.append("subfolder", "");
  let name;
  try {
    const response = await app.api.fetchApi("/upload/image", { method: "POST", body });
    if (response.status !== 200) throw new Error(`the server answered ${response.status} ${response.statusText}`);
    const data = await response.json();
    name = data.subfolder ? `${data.subfolder}/${data.name}` : data.name;
    if (data.type && data.type !== "input") throw new Error(`the server stored it in its ${data.type} folder`);
  } catch (err) {
    tell(node, "error", "Upload failed", `${file.name}: ${err.message}`);
    return null;
  }
  let values;
  try {
    values = await fetchFileList();
  } catch (err) {
    tell(node, "error", "Uploaded, but the file list could not be refreshed", `${name}: ${err.message}`);
    values = [...(fileWidget.options.values || [])];
  }
  if (!values.includes(name)) values = [name, ...values]; // e.g. deeper than the node lists
  fileWidget.options.values = values;
  fileWidget.value = name;
  fileWidget.callback?.(name, app.canvas, node);
  node.setDirtyCanvas(true, true);
  tell(node, "success", "Camera path uploaded", `${name} is in ComfyUI's input folder and selected.`);
  return name;
}

/** Add the upload button to a Load Camera Path node, below its own widgets (not saved: widgets_values and
 * saved workflows stay as they were). */
export function addPoseUpload(node) {
  const picker = document.createElement("input");
  Object.assign(picker, { type: "file", accept: POSE_UPLOAD_SUFFIXES.join(",") });
  picker.addEventListener("change", async () => {
    const file = picker.files?.[0];
    picker.value = "";
    if (file) await uploadPoseFile(node, file);
  });
  const widget = node.addWidget("button", UPLOAD_WIDGET, null, () => picker.click(), { serialize: false });
  widget.serialize = false;
  widget.label = UPLOAD_WIDGET;
  widget.tooltip = UPLOAD_TOOLTIP;
  return widget;
}
