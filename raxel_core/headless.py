"""Run an API-format ComfyUI workflow on a running ComfyUI server (``raxel run``: :mod:`raxel_core.cli.run`).

::

    raxel run WORKFLOW_API.json [--server http://127.0.0.1:8188] [--set NODE.INPUT=VALUE ...]
              [--out DIR] [--include-temp] [--timeout SECONDS] [--quiet]

Works with any API-format workflow (ComfyUI's "Export (API)"), not only this pack's. The protocol,
as ComfyUI's ``server.py`` / ``execution.py`` / ``main.py`` implement it (read on v0.3.64):

1. open the websocket ``/ws?clientId=<id>`` first, so no message is missed;
2. ``POST /prompt`` ``{"prompt": {...}, "client_id": <id>}`` -> 200 ``{"prompt_id", "number",
   "node_errors"}`` (``node_errors`` may be non-empty on 200: those branches do not run), or 400
   ``{"error": {"type", "message", "details", "extra_info"}, "node_errors": {id: {"errors": [{"type",
   "message", "details", "extra_info": {"input_name", ...}}], "dependent_outputs", "class_type"}}}``;
3. websocket JSON messages ``{"type", "data"}``: ``execution_start``, ``execution_cached``
   (``nodes``), ``executing`` (``node``; ``node: null`` with our ``prompt_id`` is sent after the
   history is stored: the end), ``progress`` (``value``, ``max``, ``node``), ``executed``,
   ``execution_success``, ``execution_error`` (``node_id``, ``node_type``, ``exception_type``,
   ``exception_message``, ``traceback``), ``execution_interrupted``; binary frames are previews;
4. ``GET /history/<prompt_id>`` -> ``{id: {"outputs": {node: {"images": [{"filename", "subfolder",
   "type"}], ...}}, "status": {"status_str", "completed", "messages"}}}``;
5. ``GET /view?filename=&subfolder=&type=`` for every file entry of the outputs.

Only the server URL the user gives is contacted (default: the loopback address). The websocket
client is the ``websocket-client`` package.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath

DEFAULT_SERVER = "http://127.0.0.1:8188"


class ComfyUIError(ValueError):
    """A workflow ComfyUI rejected or failed to run, or a server that cannot be reached; the
    message is written for the person at the terminal."""


# --------------------------------------------------------------------------- workflow + overrides


def load_api_workflow(path) -> dict:
    """Read an API-format workflow ``{node_id: {"class_type", "inputs", ...}}``.

    Raises:
        ComfyUIError: a missing file, invalid JSON, a UI-format workflow (``nodes`` / ``links``:
            the message says how to export the API format), or nodes without ``class_type`` / ``inputs``.
    """
    path = Path(path)
    if not path.is_file():
        raise ComfyUIError(f"workflow file {path} does not exist; check the path")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ComfyUIError(f"{path.name}: not valid JSON ({err})") from None
    if isinstance(data, dict) and "prompt" in data and isinstance(data["prompt"], dict) and "nodes" not in data:
        data = data["prompt"]  # a saved /prompt request body
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise ComfyUIError(
            f"{path.name} is a UI-format workflow (it has 'nodes' and 'links'); only API-format JSON can "
            "be queued: in ComfyUI use Workflow -> Export (API), or this pack's workflows/api/*.json"
        )
    if not isinstance(data, dict) or not data:
        raise ComfyUIError(f"{path.name}: an API-format workflow is a non-empty object of nodes keyed by id")
    for node_id, node in data.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            raise ComfyUIError(
                f"{path.name}: node {node_id!r} has no 'class_type' and 'inputs'; is this an API-format workflow?"
            )
    return data


def parse_override(text: str) -> tuple[str, str, object]:
    """Parse ``NODE.INPUT=VALUE`` into ``(node_id, input_name, value)``.

    The node id is everything before the first ``.``, the input name everything between it and the
    first ``=``. ``VALUE`` is parsed as JSON (``42`` -> int, ``1.5``, ``true``, ``null``, ``"a"``,
    ``[..]``, ``{..}``) and taken as a plain string when it is not valid JSON (``--set 6.text=a cat``).

    Raises:
        ComfyUIError: no ``=``, no ``.`` before it, or an empty node id / input name.
    """
    key, sep, raw = text.partition("=")
    node_id, dot, input_name = key.partition(".")
    if not sep or not dot or not node_id.strip() or not input_name.strip():
        raise ComfyUIError(
            f"--set {text!r}: expected NODE.INPUT=VALUE, e.g. --set 3.seed=42 or --set 6.text='a red car'"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return node_id.strip(), input_name.strip(), value


def _describe_node(node_id: str, node: dict) -> str:
    title = node.get("_meta", {}).get("title") if isinstance(node.get("_meta"), dict) else None
    cls = node.get("class_type", "?")
    return f"{node_id} ({cls}{', ' + repr(title) if title and title != cls else ''})"


def apply_overrides(workflow: dict, overrides) -> dict:
    """A copy of ``workflow`` with each ``NODE.INPUT=VALUE`` (string) or ``(node, input, value)``
    override applied.

    Raises:
        ComfyUIError: an unknown node id (the message lists the workflow's nodes) or an input name
            the node does not have (the message lists its inputs).
    """
    result = json.loads(json.dumps(workflow))
    for item in overrides or ():
        node_id, input_name, value = parse_override(item) if isinstance(item, str) else item
        node_id = str(node_id)
        if node_id not in result:
            nodes = ", ".join(_describe_node(k, v) for k, v in result.items())
            raise ComfyUIError(f"--set {node_id}.{input_name}: the workflow has no node {node_id!r}; "
                               f"its nodes are: {nodes}")
        inputs = result[node_id]["inputs"]
        if input_name not in inputs:
            raise ComfyUIError(
                f"--set {node_id}.{input_name}: node {_describe_node(node_id, result[node_id])} has no input "
                f"{input_name!r}; its inputs are: {', '.join(inputs) or '(none)'}"
            )
        inputs[input_name] = value
    return result


# --------------------------------------------------------------------------- error text


def _reason_text(reason: dict) -> str:
    message = str(reason.get("message", "")).strip()
    details = str(reason.get("details", "")).strip()
    extra = reason.get("extra_info") if isinstance(reason.get("extra_info"), dict) else {}
    text = message
    if details and details not in message:
        text = f"{message}: {details}" if message else details
    input_name = extra.get("input_name")
    if input_name and input_name not in text:
        text += f" (input {input_name!r})"
    return text or json.dumps(reason)


def format_node_errors(response: dict, workflow: dict | None = None) -> str:
    """Readable text of a ``/prompt`` rejection (``{"error": {...}, "node_errors": {...}}``): the
    overall error, then one line per node reason with the node id, class and title."""
    lines = []
    error = response.get("error")
    if isinstance(error, dict):
        head = _reason_text(error)
        lines.append(f"ComfyUI rejected the workflow: {head}")
    elif error:
        lines.append(f"ComfyUI rejected the workflow: {error}")
    for node_id, info in (response.get("node_errors") or {}).items():
        node = (workflow or {}).get(node_id) or {"class_type": info.get("class_type", "?")}
        for reason in info.get("errors", []) or [{}]:
            lines.append(f"  node {_describe_node(str(node_id), node)}: {_reason_text(reason)}")
    return "\n".join(lines) if lines else f"ComfyUI rejected the workflow: {json.dumps(response)[:500]}"


def format_execution_error(data: dict, traceback: bool = False) -> str:
    """Readable text of an ``execution_error`` message (websocket or history status message)."""
    node = f"node {data.get('node_id', '?')} ({data.get('node_type', '?')})"
    exc_type = data.get("exception_type") or "error"
    message = str(data.get("exception_message", "")).strip() or "(no message)"
    text = f"{node} failed: {exc_type}: {message}"
    if traceback and data.get("traceback"):
        text += "\n" + "".join(data["traceback"]).rstrip()
    return text


# --------------------------------------------------------------------------- HTTP client


def _check_server(server: str) -> str:
    parsed = urllib.parse.urlsplit(server)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ComfyUIError(f"--server must be an http(s) URL such as {DEFAULT_SERVER}; got {server!r}")
    return server.rstrip("/")


def _request(server: str, path: str, body: dict | None = None, timeout: float = 30.0):
    """``(status, bytes)`` of a GET (``body`` None) or JSON POST to ``server + path``."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(server + path, data=data, method="GET" if body is None else "POST")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ComfyUIError(
            f"cannot reach ComfyUI at {server} ({reason}); start it (python main.py) or pass --server URL"
        ) from None


def _get_json(server: str, path: str, timeout: float = 30.0):
    status, raw = _request(server, path, timeout=timeout)
    if status != 200:
        raise ComfyUIError(f"GET {path} answered HTTP {status}: {raw[:300].decode('utf-8', 'replace')}")
    return json.loads(raw)


def _open_websocket(server: str, client_id: str, timeout: float):
    try:
        import websocket  # the websocket-client package
    except ImportError:
        raise ComfyUIError(
            "raxel run needs the websocket-client package to follow progress: pip install websocket-client"
        ) from None
    parsed = urllib.parse.urlsplit(server)
    scheme = "wss" if parsed.scheme == "https" else "ws"
    url = urllib.parse.urlunsplit((scheme, parsed.netloc, parsed.path.rstrip("/") + "/ws", f"clientId={client_id}", ""))
    try:
        ws = websocket.create_connection(url, timeout=timeout)
    except (OSError, websocket.WebSocketException) as err:
        raise ComfyUIError(
            f"cannot reach ComfyUI at {server}: its websocket {url} did not open ({err}); start ComfyUI "
            "(python main.py) or pass --server URL"
        ) from None
    return ws


# --------------------------------------------------------------------------- run


def _safe_relative(subfolder: str, filename: str) -> Path:
    parts = [p for p in PurePosixPath(str(subfolder).replace("\\", "/")).parts if p not in ("", ".")]
    name = PurePosixPath(str(filename).replace("\\", "/")).name
    if ".." in parts or not name or name in (".", ".."):
        raise ComfyUIError(f"the server named an output file outside its folder ({subfolder!r}, {filename!r}); "
                           "not downloaded")
    return Path(*parts, name)


def file_entries(outputs: dict, include_temp: bool):
    """``(node_id, key, entry)`` for each file entry (a dict with ``filename``) of history outputs."""
    for node_id, node_out in outputs.items():
        if not isinstance(node_out, dict):
            continue
        for key, items in node_out.items():
            if not isinstance(items, list):
                continue
            for entry in items:
                if isinstance(entry, dict) and isinstance(entry.get("filename"), str):
                    kind = entry.get("type", "output")
                    if kind == "output" or include_temp:
                        yield node_id, key, entry


def run_workflow(
    workflow_path,
    server: str = DEFAULT_SERVER,
    overrides=(),
    out_dir=None,
    progress: Callable[[dict], None] | None = None,
    timeout: float | None = None,
    include_temp: bool = False,
    client_id: str | None = None,
) -> dict:
    """Queue an API-format workflow on a running ComfyUI, follow it to the end, download its outputs.

    Args:
        workflow_path: the API-format ``.json`` (or an already loaded workflow dict).
        server: the ComfyUI base URL; nothing else is contacted.
        overrides: ``NODE.INPUT=VALUE`` strings (:func:`parse_override`), applied before queueing.
        out_dir: folder to download output files into (created if missing), keeping the server's
            subfolders; ``None``: nothing is downloaded.
        progress: called with event dicts: ``{"event": "progress", "nodes_done", "nodes_total", "node",
            "node_type", "value", "max"}``, ``{"event": "message", "text"}`` (warnings and errors, ready
            to print), ``{"event": "done"}``. :class:`raxel_core.cli.terminal.TerminalProgress` draws them.
        timeout: seconds to wait for the whole run (``None``: no limit).
        include_temp: also download ``type: temp`` files (previews).
        client_id: websocket client id (default a new UUID).

    Returns:
        ``{"prompt_id", "status": "success", "outputs": {node: {...}}, "files": [str paths], "node_errors":
        {...} (branches skipped on a 200), "cached": [node ids], "seconds": float}``.

    Raises:
        ComfyUIError: a bad workflow or override, an unreachable server, a 400 rejection (the text of
            :func:`format_node_errors`), a node that raised (:func:`format_execution_error`), an
            interrupted run, a timeout.
    """
    started = time.monotonic()
    emit = progress or (lambda event: None)
    server = _check_server(server)
    workflow = workflow_path if isinstance(workflow_path, dict) else load_api_workflow(workflow_path)
    workflow = apply_overrides(workflow, overrides)
    client_id = client_id or uuid.uuid4().hex
    ws = _open_websocket(server, client_id, timeout=30.0)
    try:
        status, raw = _request(server, "/prompt", {"prompt": workflow, "client_id": client_id})
        try:
            answer = json.loads(raw)
        except json.JSONDecodeError:
            answer = {"error": raw[:500].decode("utf-8", "replace")}
        if status != 200:
            raise ComfyUIError(format_node_errors(answer, workflow))
        prompt_id = answer["prompt_id"]
        node_errors = answer.get("node_errors") or {}
        if node_errors:
            emit({"event": "message",
                  "text": "Some outputs will not run:\n" + format_node_errors({"node_errors": node_errors}, workflow)})
        outcome = _follow(ws, prompt_id, workflow, emit, started, timeout)
    finally:
        ws.close()
    history = {}
    for _ in range(50):  # the history is stored before `executing: null`; poll briefly for safety
        history = _get_json(server, f"/history/{urllib.parse.quote(prompt_id)}")
        if prompt_id in history:
            break
        time.sleep(0.1)
    entry = history.get(prompt_id, {})
    emit({"event": "done"})
    if outcome["error"] is None:
        for event, data in entry.get("status", {}).get("messages", []) or []:
            if event == "execution_error":
                outcome["error"] = format_execution_error(data)
            elif event == "execution_interrupted":
                outcome["interrupted"] = data
    if outcome["error"] is not None:
        raise ComfyUIError(outcome["error"])
    if outcome["interrupted"] is not None:
        data = outcome["interrupted"]
        raise ComfyUIError(f"the run was interrupted at node {data.get('node_id', '?')} ({data.get('node_type', '?')})")
    outputs = entry.get("outputs", {})
    files = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for _node, _key, item in file_entries(outputs, include_temp):
            rel = _safe_relative(item.get("subfolder", ""), item["filename"])
            query = urllib.parse.urlencode(
                {"filename": item["filename"], "subfolder": item.get("subfolder", ""),
                 "type": item.get("type", "output")}
            )
            code, body = _request(server, f"/view?{query}", timeout=120.0)
            if code != 200:
                raise ComfyUIError(f"downloading {item['filename']} failed: GET /view answered HTTP {code}")
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(body)
            tmp.replace(target)
            files.append(str(target))
    return {
        "prompt_id": prompt_id,
        "status": "success",
        "outputs": outputs,
        "files": files,
        "node_errors": node_errors,
        "cached": outcome["cached"],
        "seconds": time.monotonic() - started,
    }


def _follow(ws, prompt_id: str, workflow: dict, emit, started: float, timeout: float | None) -> dict:
    """Read websocket messages until ``executing`` with ``node: null`` for ``prompt_id``."""
    import websocket

    total = len(workflow)
    done: set[str] = set()
    cached: list[str] = []
    state = {"error": None, "interrupted": None, "cached": cached}
    current, value, maximum = None, 0, 0
    while True:
        remaining = None if timeout is None else timeout - (time.monotonic() - started)
        if remaining is not None and remaining <= 0:
            raise ComfyUIError(f"the workflow did not finish within {timeout:g} s "
                               f"(prompt {prompt_id} may still be running)")
        ws.settimeout(remaining if remaining is not None else None)
        try:
            message = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketConnectionClosedException, OSError) as err:
            raise ComfyUIError(f"lost the connection to ComfyUI while prompt {prompt_id} was running ({err})") from None
        if not isinstance(message, str):
            continue  # binary preview frames
        try:
            msg = json.loads(message)
        except json.JSONDecodeError:
            continue
        kind, data = msg.get("type"), msg.get("data") or {}
        if data.get("prompt_id") not in (None, prompt_id):
            continue  # another client's prompt on a shared server
        if kind == "execution_cached" and data.get("prompt_id") == prompt_id:
            cached.extend(str(n) for n in data.get("nodes", []))
            done.update(cached)
        elif kind == "executing" and data.get("prompt_id", prompt_id) == prompt_id:
            node = data.get("node")
            if node is None:
                if data.get("prompt_id") == prompt_id:
                    return state
                continue
            if current is not None:
                done.add(current)
            current, value, maximum = str(node), 0, 0
        elif kind == "executed" and data.get("prompt_id") == prompt_id:
            done.add(str(data.get("node")))
        elif kind == "progress" and data.get("prompt_id") == prompt_id:
            value, maximum = data.get("value", 0), data.get("max", 0)
        elif kind == "execution_error" and data.get("prompt_id") == prompt_id:
            state["error"] = format_execution_error(data)
        elif kind == "execution_interrupted" and data.get("prompt_id") == prompt_id:
            state["interrupted"] = data
        else:
            continue
        emit({
            "event": "progress", "nodes_done": len(done), "nodes_total": total, "node": current,
            "node_type": workflow.get(current, {}).get("class_type", "") if current else "",
            "value": value, "max": maximum,
        })
