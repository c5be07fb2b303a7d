"""Camera tokens (CamViG, arXiv 2405.13195, Sec. 3.3): a camera path as discrete RVQ token indices.

* ``camera_features.py``  trajectory <-> per-frame features (6D rotation, normalised centre, log zoom)
* ``tokenizer.py``        :class:`CameraTokenizer` (conv encoder, residual VQ, conv decoder), weights I/O,
  the tokens JSON document
* ``training.py``         training corpus, training loop and the reconstruction table

``tokenizer.py`` imports ``vector-quantize-pytorch`` only when a model is built.
"""
from .camera_features import NUM_FEATURES, PathFrame, features_to_path, path_to_features
from .tokenizer import BUNDLED_TOKENIZER_DIR, CameraTokenizer, TokenizerConfig, tokens_from_json, tokens_to_json

__all__ = [
    "BUNDLED_TOKENIZER_DIR",
    "NUM_FEATURES",
    "CameraTokenizer",
    "PathFrame",
    "TokenizerConfig",
    "features_to_path",
    "path_to_features",
    "tokens_from_json",
    "tokens_to_json",
]
