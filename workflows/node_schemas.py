"""The sockets and widgets of the pack's nodes, read from their source (``nodes/*.py``) without importing it.

The node modules import ComfyUI (``comfy_api.latest``, ``folder_paths``), which the workflow builder and
CI do not have; so each class's ``define_schema`` is read with :mod:`ast`: its ``node_id``, its inputs
(name, socket type, optional, widget or socket, and the default / options / min / max where the source
writes them as literals or module constants) and its outputs (name, type). ``workflows/build_workflows.py``
writes the templates from this (no hand copy of the pack's sockets), and ``tests/test_comfyui_e2e.py``
checks it against a running ComfyUI's ``/object_info``.

Only the forms the pack uses are understood; anything else raises :class:`ValueError` naming the file
and node, so a new form fails loudly instead of being read wrongly.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

#: The pack's node modules.
NODES_DIR = Path(__file__).resolve().parents[1] / "nodes"

#: ``comfy_api.latest.io`` classes -> their socket type (``io_type`` in ComfyUI's ``comfy_api/latest/_io.py``).
IO_TYPES = {
    "Int": "INT", "Float": "FLOAT", "String": "STRING", "Boolean": "BOOLEAN", "Combo": "COMBO",
    "Image": "IMAGE", "Mask": "MASK", "Video": "VIDEO", "Audio": "AUDIO", "Vae": "VAE", "Model": "MODEL",
    "Clip": "CLIP", "Conditioning": "CONDITIONING", "Latent": "LATENT",
}
#: Socket types ComfyUI draws as a widget on the node (unless the input says ``force_input``).
WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})


class _Unknown(Exception):
    """An expression that is not a literal or a module constant (e.g. a list read at run time)."""


@dataclass(frozen=True)
class InputSpec:
    """One input of a node: ``type`` is the socket type (``"IMAGE,VIDEO"`` for a multi-type socket);
    ``default`` / ``options`` / ``minimum`` / ``maximum`` are ``None`` when absent or not a literal."""

    name: str
    type: str
    optional: bool
    widget: bool
    default: object = None
    options: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class NodeSchema:
    """What ``define_schema`` of one node declares: inputs in ComfyUI's order (required, then optional,
    each in declaration order) and outputs ``(name, type)``."""

    node_id: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[tuple[str, str], ...]
    source: str

    @property
    def widgets(self) -> list[InputSpec]:
        """The inputs shown as widgets, in the order of a UI workflow's ``widgets_values``."""
        return [i for i in self.inputs if i.widget]

    def node_type(self) -> dict:
        """This node in the layout of ``build_workflows.NODE_TYPES``: ``inputs`` the linkable sockets
        ``(name, type, optional)``, ``widgets`` the widget names, ``outputs`` ``(name, type)``."""
        return {
            "inputs": [(i.name, i.type, i.optional) for i in self.inputs if not i.widget],
            "widgets": [i.name for i in self.widgets],
            "widget_types": {i.name: i.type for i in self.widgets},
            "outputs": list(self.outputs),
        }


def _evaluate(node: ast.AST, constants: dict):
    """The value of a literal expression, with module constants and ``list(...)`` / ``tuple(...)``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                values.extend(_evaluate(element.value, constants))
            else:
                values.append(_evaluate(element, constants))
        return values
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_evaluate(k, constants): _evaluate(v, constants) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand, constants)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple")
            and len(node.args) == 1 and not node.keywords):
        return list(_evaluate(node.args[0], constants))
    raise _Unknown(ast.dump(node))


def _maybe(node: ast.AST | None, constants: dict):
    if node is None:
        return None
    try:
        return _evaluate(node, constants)
    except _Unknown:
        return None


def _custom_type(value: ast.AST) -> str | None:
    """``"NAME"`` of an ``io.Custom("NAME")`` found in ``value`` (also inside ``getattr(...) or io.Custom(...)``)."""
    for node in ast.walk(value):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Custom"
                and node.args and isinstance(node.args[0], ast.Constant)):
            return node.args[0].value
    return None


class _Module:
    """One parsed node module: its constants, socket types and list-returning helper functions."""

    def __init__(self, path: Path, custom_types: dict[str, str]):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        self.custom_types = custom_types
        self.constants: dict = {}
        self.helpers: dict[str, ast.FunctionDef] = {}
        for statement in self.tree.body:
            if isinstance(statement, ast.FunctionDef):
                self.helpers[statement.name] = statement
            targets = ([statement.target] if isinstance(statement, ast.AnnAssign) and statement.value
                       else statement.targets if isinstance(statement, ast.Assign) else [])
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        self.constants[target.id] = _evaluate(statement.value, self.constants)
                    except _Unknown:
                        pass

    def error(self, where: str, what: str) -> ValueError:
        return ValueError(f"{self.path.name} {where}: {what} (workflows/node_schemas.py reads only the forms the "
                          "pack uses; extend it)")

    def socket_type(self, func: ast.AST, where: str) -> str:
        """The socket type of ``<X>.Input`` / ``<X>.Output``: ``io.Image`` -> ``IMAGE``, a custom type by name."""
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "io":
            if func.attr in IO_TYPES:
                return IO_TYPES[func.attr]
        if isinstance(func, ast.Name) and func.id in self.custom_types:
            return self.custom_types[func.id]
        raise self.error(where, f"unknown socket class {ast.unparse(func)}")

    def input_calls(self, items: ast.AST, where: str, constants: dict) -> list[tuple[ast.Call, dict]]:
        """The ``X.Input(...)`` calls of an ``inputs=[...]`` list with the constants they see; calls of the
        module's helper functions (``*size_inputs(...)`` returning a list, ``prefix_input(...)`` one input)
        are expanded with their arguments bound."""
        if not isinstance(items, ast.List):
            raise self.error(where, "inputs must be a list literal")
        calls = []
        for item in items.elts:
            starred = isinstance(item, ast.Starred)
            call = item.value if starred else item
            if not isinstance(call, ast.Call):
                raise self.error(where, f"unexpected input {ast.unparse(item)}")
            if isinstance(call.func, ast.Attribute) and call.func.attr == "Input" and not starred:
                calls.append((call, constants))
                continue
            if not (isinstance(call.func, ast.Name) and call.func.id in self.helpers):
                raise self.error(where, f"cannot read input {ast.unparse(item)}")
            helper = self.helpers[call.func.id]
            returns = [s for s in ast.walk(helper) if isinstance(s, ast.Return)]
            if len(returns) != 1:
                raise self.error(where, f"{helper.name} must have one return statement")
            local = dict(constants)
            parameters = helper.args.args
            for parameter, default in zip(parameters[len(parameters) - len(helper.args.defaults):],
                                          helper.args.defaults, strict=True):
                local[parameter.arg] = _maybe(default, constants)
            local.update({p.arg: _maybe(v, constants) for p, v in zip(parameters, call.args, strict=False)})
            local.update({k.arg: _maybe(k.value, constants) for k in call.keywords})
            returned = returns[0].value
            calls += self.input_calls(returned if starred else ast.List([returned]),
                                      f"{where} via {helper.name}", local)
        return calls

    def read_input(self, call: ast.Call, constants: dict, where: str) -> InputSpec:
        keywords = {k.arg: k.value for k in call.keywords}
        name = _maybe(call.args[0] if call.args else keywords.get("id"), constants)
        if not isinstance(name, str):
            raise self.error(where, f"input without a literal name: {ast.unparse(call)}")
        owner = call.func.value
        if isinstance(owner, ast.Attribute) and owner.attr == "MultiType":
            types = keywords.get("types")
            if not isinstance(types, ast.List):
                raise self.error(where, f"{name}: MultiType needs types=[...]")
            type_ = ",".join(self.socket_type(t, where) for t in types.elts)
        else:
            type_ = self.socket_type(owner, where)
        options = _maybe(keywords.get("options"), constants)
        return InputSpec(
            name=name, type=type_,
            optional=bool(_maybe(keywords.get("optional"), constants)),
            widget=type_ in WIDGET_TYPES and not _maybe(keywords.get("force_input"), constants),
            default=_maybe(keywords.get("default"), constants),
            options=None if options is None else tuple(options),
            minimum=_maybe(keywords.get("min"), constants),
            maximum=_maybe(keywords.get("max"), constants),
        )

    def read_output(self, call: ast.AST, constants: dict, where: str) -> tuple[str, str]:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "Output"):
            raise self.error(where, f"unexpected output {ast.unparse(call)}")
        type_ = self.socket_type(call.func.value, where)
        keywords = {k.arg: k.value for k in call.keywords}
        # ComfyUI names an output by its display_name, else its id, else its type.
        name = (_maybe(keywords.get("display_name"), constants)
                or _maybe(call.args[0] if call.args else keywords.get("id"), constants) or type_)
        return name, type_

    def schemas(self) -> list[NodeSchema]:
        found = []
        for cls in (s for s in self.tree.body if isinstance(s, ast.ClassDef)):
            method = next((s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "define_schema"), None)
            if method is None:
                continue
            where = f"class {cls.name}"
            schema = next((n for n in ast.walk(method) if isinstance(n, ast.Call)
                           and isinstance(n.func, ast.Attribute) and n.func.attr == "Schema"), None)
            if schema is None:
                raise self.error(where, "define_schema builds no io.Schema")
            keywords = {k.arg: k.value for k in schema.keywords}
            node_id = _maybe(keywords.get("node_id"), self.constants)
            if not isinstance(node_id, str):
                raise self.error(where, "node_id must be a literal string")
            inputs = [self.read_input(call, constants, f"{where} ({node_id})")
                      for call, constants in self.input_calls(keywords.get("inputs", ast.List([])), where,
                                                              self.constants)]
            outputs_node = keywords.get("outputs", ast.List([]))
            if not isinstance(outputs_node, ast.List):
                raise self.error(where, "outputs must be a list literal")
            outputs = [self.read_output(o, self.constants, where) for o in outputs_node.elts]
            ordered = [i for i in inputs if not i.optional] + [i for i in inputs if i.optional]
            found.append(NodeSchema(node_id, tuple(ordered), tuple(outputs), f"{self.path.name}:{cls.name}"))
        return found


def read_node_schemas(nodes_dir: Path = NODES_DIR) -> dict[str, NodeSchema]:
    """Every node declared in ``nodes_dir/*.py``, by ``node_id``, in file and class order.

    Raises:
        ValueError: a schema uses a form this reader does not understand (the message names the file
            and class), or two classes declare the same ``node_id``.
    """
    paths = sorted(Path(nodes_dir).glob("*.py"))
    custom_types: dict[str, str] = {}
    for path in paths:  # socket types are module constants, e.g. CameraTrajectory = io.Custom("...")
        for statement in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(statement, ast.Assign) and (type_ := _custom_type(statement.value)):
                custom_types.update({t.id: type_ for t in statement.targets if isinstance(t, ast.Name)})
    schemas: dict[str, NodeSchema] = {}
    for path in paths:
        for schema in _Module(path, custom_types).schemas():
            if schema.node_id in schemas:
                raise ValueError(f"node_id {schema.node_id} is declared twice: {schemas[schema.node_id].source} "
                                 f"and {schema.source}")
            schemas[schema.node_id] = schema
    return schemas
