"""An AI label map's provenance travels with its layer: when the annotator starts editing it, the kept
``original`` version records the plugin, the model hashes that made it and the label regions the plugin
defined (and the final inherits them)."""

from __future__ import annotations

import numpy as np

from app.viewer_model.ai_results import result_layers
from app.viewer_model.edit_sessions import open_session, version_store
from app.viewer_model.layers import LabelLayer
from app.viewer_model.model import ViewerModel
from engine.ai.result import AnalysisResult, LabelRegion, Provenance
from engine.editing.versions import FINAL, ORIGINAL
from engine.volume import CodedConcept, Label, LabelMap
from tests.app.conftest import cube_volume

MODEL_SHA = "c0ffee" * 10 + "abcd"
REGION = LabelRegion("whole lesion", (1,), (255, 150, 40), CodedConcept("52988006", "SCT", "Lesion"))


def _model_with(layer_of) -> ViewerModel:
    model = ViewerModel()
    model.set_volume(cube_volume())
    labels = LabelMap((model.volume.array == 1000).astype(np.uint8), model.volume.geometry,
                      [Label(1, "lesion", (255, 200, 0))])
    model.add_layer(layer_of(labels))
    return model


def test_the_original_of_an_ai_layer_records_plugin_and_model_hash() -> None:
    provenance = Provenance("demo.segmenter", "2.1.0", {"segmenter": MODEL_SHA}, "1.20.1",
                            ["CPUExecutionProvider"], "2024-01-02T10:00:00+00:00", 1.5)

    def ai_layer(labels: LabelMap) -> LabelLayer:
        result = AnalysisResult(label_map=labels, provenance=provenance, label_regions=[REGION])
        (layer,) = result_layers(result, labels.geometry, "Demo")
        assert layer.provenance is provenance and layer.regions == [REGION]
        return layer

    model = _model_with(ai_layer)
    layer, session = open_session(model)
    assert layer.provenance is provenance
    store = version_store(model)
    original = store.info(ORIGINAL)
    assert (original.source, original.plugin_id, original.plugin_version) == ("ai", "demo.segmenter", "2.1.0")
    assert original.models == {"segmenter": MODEL_SHA}
    assert store.info(ORIGINAL).provenance().models["segmenter"] == MODEL_SHA  # as the exports read it
    assert original.label_regions() == [REGION]
    store.save_final(session.label_map)
    final = store.info(FINAL)
    assert final.plugin_id == "demo.segmenter" and final.models == original.models
    assert final.label_regions() == [REGION]
    session.close()


def test_a_label_layer_not_from_an_ai_run_has_no_plugin() -> None:
    model = _model_with(lambda labels: LabelLayer(labels, "loaded labels"))
    _, session = open_session(model)
    original = version_store(model).info(ORIGINAL)
    assert original.plugin_id is None and original.models == {} and original.regions == []
    session.close()
