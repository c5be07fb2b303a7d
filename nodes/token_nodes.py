"""Camera tokens (CamViG-style residual VQ): a camera path <-> discrete tokens, over :mod:`raxel_core.tokens`.

``RAXEL_CAMERA_TOKENS`` payload: the ``dict`` of :func:`raxel_core.tokens.tokens_to_json` (``format``
``"raxel-camera-tokens"``, ``indices`` an ``N x L`` list of codebook indices, ``frame`` the absolute
first pose, intrinsics and path scale), the same document ``raxel tokens encode`` writes.
"""
from __future__ import annotations

import functools
import json

from comfy_api.latest import io

from .types import CATEGORY_MODEL, CameraTrajectory

#: Camera tokens: payload the tokens ``dict`` (module docstring).
CameraTokens = io.Custom("RAXEL_CAMERA_TOKENS")


@functools.lru_cache(maxsize=1)
def bundled_tokenizer():
    """The bundled camera tokenizer (``models/raxel-camtok-v1``), loaded once (CPU, eval mode)."""
    from ..raxel_core.tokens import CameraTokenizer

    return CameraTokenizer.from_pretrained()


class RaxelCameraTokens(io.ComfyNode):
    """CAMERA_TRAJECTORY -> RAXEL_CAMERA_TOKENS + the tokens as JSON text."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelCameraTokens",
            display_name="Camera Path To Tokens",
            category=CATEGORY_MODEL,
            description=(
                "Turns a camera path into discrete tokens with the bundled camera tokenizer (CamViG's idea: "
                "an audio-codec-style residual vector quantiser, 4 levels, so 4 codebook indices per frame). "
                "The path is made relative to its first camera and scaled to unit size; the first pose, "
                "the intrinsics and the scale travel beside the tokens so the path decodes in place."
            ),
            inputs=[CameraTrajectory.Input("trajectory", tooltip="the camera path to tokenize (any length)")],
            outputs=[
                CameraTokens.Output(display_name="tokens",
                                    tooltip="the tokens: N x 4 codebook indices plus the first pose and scale"),
                io.String.Output(display_name="tokens_json",
                                 tooltip="the same tokens as JSON text (what raxel tokens encode writes)"),
            ],
        )

    @classmethod
    def execute(cls, trajectory) -> io.NodeOutput:
        from ..raxel_core.tokens import tokens_to_json

        model = bundled_tokenizer()
        indices, frame = model.encode(trajectory)
        doc = tokens_to_json(indices, frame, "raxel-camtok-v1", model.config)
        summary = f"{len(trajectory)} frames -> {indices.numel()} tokens ({indices.shape[1]} per frame)"
        return io.NodeOutput(doc, json.dumps(doc), ui={"text": (summary,)})


class RaxelTokensToCamera(io.ComfyNode):
    """RAXEL_CAMERA_TOKENS (or tokens JSON text) -> CAMERA_TRAJECTORY."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelTokensToCamera",
            display_name="Tokens To Camera Path",
            category=CATEGORY_MODEL,
            description=(
                "Decodes camera tokens back into a camera path with the bundled camera tokenizer. "
                "'levels' uses only the first K of the 4 residual levels (fewer tokens, coarser path). "
                "Give either the tokens socket or the JSON text written by 'Camera Path To Tokens' or "
                "raxel tokens encode."
            ),
            inputs=[
                CameraTokens.Input("tokens", optional=True,
                                   tooltip="tokens from Camera Path To Tokens"),
                io.String.Input("tokens_json", multiline=True, default="", optional=True,
                                tooltip="tokens JSON text (used when the tokens socket is not connected)"),
                io.Int.Input("levels", default=4, min=1, max=4,
                             tooltip="residual VQ levels to decode from (1 = coarsest, 4 = all)"),
            ],
            outputs=[CameraTrajectory.Output(display_name="trajectory",
                                              tooltip="the decoded camera path (absolute, like the encoded one)")],
        )

    @classmethod
    def execute(cls, levels, tokens=None, tokens_json="") -> io.NodeOutput:
        from ..raxel_core.tokens import tokens_from_json

        if tokens is None:
            if not (tokens_json or "").strip():
                raise ValueError("no camera tokens: connect 'tokens' or paste the tokens JSON text")
            try:
                tokens = json.loads(tokens_json)
            except json.JSONDecodeError as exc:
                raise ValueError(f"tokens_json is not valid JSON ({exc.msg} at line {exc.lineno}); paste the text "
                                 "that 'Camera Path To Tokens' outputs") from None
        indices, frame, _ = tokens_from_json(tokens)
        if levels > indices.shape[1]:
            raise ValueError(f"levels is {levels} but the tokens hold {indices.shape[1]} levels; lower 'levels'")
        cams = bundled_tokenizer().decode(indices, frame, levels=levels)
        return io.NodeOutput(cams, ui={"text": (f"{len(cams)} cameras from {levels} token levels",)})


NODES = [RaxelCameraTokens, RaxelTokensToCamera]
