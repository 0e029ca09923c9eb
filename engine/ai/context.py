"""PluginContext: everything a plugin's entry function gets — inputs, manifest data, sessions, progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.ai.calibration import Calibration
from engine.ai.library import load_library
from engine.ai.manifest import Manifest
from engine.ai.registry import Plugin
from engine.ai.result import SimilarCase
from engine.ai.sessions import SessionCache
from engine.progress import CancelToken, ProgressCallback, report
from engine.volume import Label, Volume


@dataclass
class PluginContext:
    """Passed to ``entry(context) -> AnalysisResult``. Models are hash-checked before the plugin runs."""

    plugin: Plugin
    inputs: dict[str, Volume]
    sessions: SessionCache
    cancel: CancelToken
    progress: ProgressCallback | None = None
    providers_used: list[str] = field(default_factory=list)
    sizes_known: bool = True  # False: the pixel spacing is unknown, the plugin gives no size in mm

    @property
    def manifest(self) -> Manifest:
        return self.plugin.manifest

    @property
    def preprocessing(self) -> dict[str, Any]:
        """The manifest's free-form ``[preprocessing]`` table."""
        return self.plugin.manifest.preprocessing

    @property
    def calibration(self) -> Calibration:
        return self.plugin.manifest.calibration

    @property
    def labels(self) -> list[Label]:
        """The manifest's output label table."""
        return self.plugin.manifest.label_table()

    def session(self, model: str | None = None) -> ort.InferenceSession:
        """The ONNX Runtime session of model ``model`` (default: the plugin's only model)."""
        models = self.plugin.manifest.models
        if model is None:
            if len(models) != 1:
                raise ValueError(f"plugin {self.plugin.id} has {len(models)} models: name the one to use")
            model = models[0].name
        entry = self.plugin.manifest.model(model)
        session = self.sessions.get(self.plugin.folder / entry.path, entry.sha256)
        for provider in session.get_providers():
            if provider not in self.providers_used:
                self.providers_used.append(provider)
        return session

    def report(self, done: int, total: int, message: str = "") -> None:
        """Report progress and stop here if the user cancelled."""
        self.cancel.raise_if_cancelled()
        report(self.progress, done, total, message)

    def similar_cases(self, embedding: np.ndarray, k: int | None = None) -> list[SimilarCase]:
        """The most similar cases of the manifest's retrieval library (none when it declares none)."""
        retrieval = self.plugin.manifest.retrieval
        if retrieval is None:
            return []
        library = load_library(self.plugin.resource_path(retrieval.library))
        return library.similar(embedding, k or retrieval.top_k)
