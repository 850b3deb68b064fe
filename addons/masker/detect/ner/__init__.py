"""The ``ner`` detection pass: a token-classification ONNX model run on device.

- ``model``: the model directory (labels, tokenizer, onnxruntime session),
  windows, batched runs, decoding to raw spans with their confidence;
- ``filters``: the post-decoding filters and span extensions, rules over the
  text around a span (``FILTERS``, ``EXTENSIONS``);
- ``recognizer``: ``NerPass``, the recognizer the pipeline runs.

The policy's thresholds are the pipeline's job; the model's own floors and
the filters are applied here.
"""

from __future__ import annotations

from masker.detect.ner.filters import EXTENSIONS, FILTERS, NerExtension, NerFilter, plausible_email
from masker.detect.ner.model import MODEL_ENV, SHIPPED_MODEL, default_model_dir
from masker.detect.ner.recognizer import NerPass

RECOGNIZERS = (NerPass,)

__all__ = [
    "EXTENSIONS",
    "FILTERS",
    "MODEL_ENV",
    "RECOGNIZERS",
    "SHIPPED_MODEL",
    "NerExtension",
    "NerFilter",
    "NerPass",
    "default_model_dir",
    "plausible_email",
]
