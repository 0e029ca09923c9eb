"""What both importers share: ONNX export with a parity check, hashing, the model card stub, the
example the plugin carries, and writing the plugin folder atomically (a temporary folder renamed)."""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from engine.ai.hashing import sha256_file
from engine.ai.sessions import cpu_session

OPSET = 17
INPUT, OUTPUT = "image", "logits"
PALETTE = [(255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255), (0, 220, 220),
           (255, 128, 0), (160, 100, 60), (255, 105, 180), (128, 128, 0)]
# SNOMED CT "Tissue": the honest generic code until someone maps each label to its own concept.
GENERIC_CODE = {"scheme": "SCT", "value": "85756007", "meaning": "Tissue"}


class ImportRefused(ValueError):
    """A model folder the importer cannot translate faithfully; the message names the file and the reason."""


class Averaged(torch.nn.Module):
    """Folds ensembled in-graph: the mean of the members' logits (what nnU-Net averages over folds)."""

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        total = self.members[0](image)
        for member in self.members[1:]:
            total = total + member(image)
        return total / len(self.members)


def export_onnx(network: torch.nn.Module, path: Path, channels: int, patch: Sequence[int]) -> float:
    """Export ``network`` (dynamic batch and spatial axes) and return the max |torch - ONNX Runtime| logit
    difference on a random patch; ImportRefused if it exceeds 1e-3."""
    network = network.eval()
    example = torch.randn(2, channels, *patch, generator=torch.Generator().manual_seed(0))
    axes = {name: {0: "batch", 2: "z", 3: "y", 4: "x"} for name in (INPUT, OUTPUT)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (example,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                          opset_version=OPSET, dynamic_axes=axes, dynamo=False)
    with torch.no_grad():
        expected = network(example).numpy()
    actual = cpu_session(path, 1).run([OUTPUT], {INPUT: example.numpy()})[0]
    difference = float(np.max(np.abs(actual - expected)))
    if difference > 1e-3:
        raise ImportRefused(f"{path}: ONNX Runtime differs from PyTorch by {difference:.2e} (> 1e-3)")
    return difference


def plugin_id(name: str, prefix: str) -> str:
    """A manifest id from a dataset or bundle name: lower case, [a-z0-9_-]."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"
    return f"{prefix}-{slug}"


def role_name(name: str, taken: set[str]) -> str:
    role = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "image"
    unique, n = role, 2
    while unique in taken:
        unique, n = f"{role}_{n}", n + 1
    taken.add(unique)
    return unique


def file_entry(folder: Path, relative: str, name: str) -> dict[str, str]:
    return {"name": name, "path": relative, "sha256": sha256_file(folder / relative)}


def publish(staging: Path, out: Path, overwrite: bool) -> Path:
    """Move the finished ``staging`` folder to ``out`` (replacing it only with ``overwrite``)."""
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), str(out))
    return out


def staging_folder(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def write_example(folder: Path, inputs: dict[str, Path]) -> dict[str, object]:
    """Copy the example input volumes into ``folder/example``, run the finished plugin on them with the
    engine (ONNX Runtime, no PyTorch) and store its label map as the expected output. Returns the
    manifest's ``[example]`` table."""
    from engine.ai.install import run_example_inputs
    from engine.nifti import write_nifti

    target = folder / "example"
    target.mkdir(exist_ok=True)
    table: dict[str, object] = {"inputs": {}}
    for role, source in inputs.items():
        name = f"{role}{''.join(source.suffixes) or '.nii.gz'}"
        shutil.copyfile(source, target / name)
        table["inputs"][f"{role}"] = f"example/{name}"  # type: ignore[index]
    label_map = run_example_inputs(folder, {role: folder / path for role, path in table["inputs"].items()})  # type: ignore[union-attr]
    write_nifti(label_map, target / "expected_labels.nii.gz")
    table["expected_labels"] = "example/expected_labels.nii.gz"
    return table


def parse_examples(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, Path]:
    """The importers' ``--example ROLE=IMAGE.nii.gz`` options as role -> path (a malformed one ends the
    command through ``parser.error``)."""
    examples = {}
    for item in items:
        role, sep, path = item.partition("=")
        if not sep:
            parser.error(f"--example {item}: use ROLE=IMAGE.nii.gz")
        examples[role] = Path(path)
    return examples
