"""Which label map an editing session works on (Qt-free): resume unfinished work on the shown series, else
edit the topmost label layer, else a new empty segmentation; the AI map is kept as the ``original`` version,
with the plugin and model hashes that made it when the layer came from an AI run.

Sessions are journalled under the series UID and grid shape, so a crash leaves a recovery folder naming its
stack.
"""

from __future__ import annotations

from app.viewer_model.editing import empty_label_map
from app.viewer_model.layers import LabelLayer
from app.viewer_model.model import ViewerModel
from engine.editing.recovery import RecoverableSession, find_recoverable
from engine.editing.session import EditSession
from engine.editing.versions import ORIGINAL, VersionStore

SEGMENTATION_NAME = "segmentation"


def session_key(model: ViewerModel) -> str:
    """The recovery key of the shown stack: 'SeriesInstanceUID@ZxYxX' (a series split into stacks of other
    shapes keeps one session per stack)."""
    volume = model.volume
    return f"{volume.ids.series_uid or 'unsaved-series'}@{'x'.join(str(n) for n in volume.array.shape)}"


def parse_key(key: str) -> tuple[str, tuple[int, ...]]:
    """(series UID, array shape) of a session key."""
    uid, _, shape = key.rpartition("@")
    return uid, tuple(int(n) for n in shape.split("x"))


def describe(model: ViewerModel) -> str:
    """'Doe^Jane — CT Chest' as the recovery dialog lists the session."""
    volume = model.volume
    name = str(volume.meta.get("patient", {}).get("PatientName", "")) or "(no name)"
    what = volume.meta.get("description") or volume.meta.get("SeriesDescription") or volume.modality
    return f"{name} — {what}"


def version_store(model: ViewerModel) -> VersionStore:
    """The versions (AI original, annotator final) of the shown study's segmentation."""
    volume = model.volume
    return VersionStore.for_key(volume.ids.study_uid or session_key(model))


def resume_on_volume(model: ViewerModel, found: RecoverableSession) -> tuple[LabelLayer, EditSession] | None:
    """Resume ``found`` as a new label layer over the shown volume; None (session kept) if the grids differ."""
    session = EditSession.resume(found)
    if not session.label_map.geometry.same_grid(model.volume.geometry):
        session.close(keep_recovery=True)
        return None
    layer = LabelLayer(session.label_map, SEGMENTATION_NAME)
    model.add_layer(layer)
    return layer, session


def open_session(model: ViewerModel) -> tuple[LabelLayer, EditSession]:
    """The session to edit the shown volume with (see the module docstring)."""
    key = session_key(model)
    for found in find_recoverable():
        if found.key == key:
            resumed = resume_on_volume(model, found)
            if resumed is not None:
                return resumed
    layers = [layer for layer in model.layers if isinstance(layer, LabelLayer)
              and layer.label_map.geometry.same_grid(model.volume.geometry)]
    if layers:
        layer = layers[-1]
        store = version_store(model)
        if layer.label_map.array.any() and store.info(ORIGINAL) is None:
            store.save_original(layer.label_map, layer.provenance, layer.regions)  # kept as it was, whatever is edited
    else:
        layer = LabelLayer(empty_label_map(model), SEGMENTATION_NAME)
        model.add_layer(layer)
    return layer, EditSession.start(key, layer.label_map, describe(model))
