"""The four corner texts of a 2D view: patient (top left), study / series (top right), slice and the slab when
one is on, e.g. "MIP 20.0 mm" (bottom left), the window preset's name while it is on ("Lung"), window and zoom
(bottom right; colour images are shown as stored, without window / level; "spacing unknown" when the header
gave no pixel spacing). Patient text can be hidden for screenshots."""

from __future__ import annotations

from typing import Any

from app.viewer_model.model import ViewerModel
from app.viewer_model.orientation import PROJECTION

COLOUR_NO_WINDOW = "RGB colour: no W/L"
SPACING_UNKNOWN = "spacing unknown"  # no pixel spacing in the header: no scale bar, measurements in pixels


def corner_text(model: ViewerModel, view: str, mm_per_pixel: float) -> dict[str, list[str]]:
    """Lines per corner ('top_left', 'top_right', 'bottom_left', 'bottom_right')."""
    volume = model.volume
    meta: dict[str, Any] = volume.meta
    patient, study = meta.get("patient", {}), meta.get("study", {})
    top_left: list[str] = []
    if model.show_patient_text:
        born = _join(_date(patient.get("PatientBirthDate", "")), patient.get("PatientSex", ""))
        name = str(patient.get("PatientName", "")).replace("^", " ").strip()
        patient_id = f"ID {patient['PatientID']}" if patient.get("PatientID") else ""
        top_left = [line for line in (name, patient_id, born) if line]
    top_right = [line for line in (
        _join(_date(study.get("StudyDate", "")), study.get("StudyDescription", "")),
        _join(volume.modality, meta.get("description", "")),
    ) if line]
    bottom_left = []
    if view != PROJECTION and not volume.geometry.is_projection:
        index, count = model.slice_index(view)
        oblique = model.oblique.is_oblique(view, volume.geometry)  # a turned plane: no longer Ax / Cor / Sag
        position = f"{'Obl' if oblique else _SHORT_VIEW[view]} {model.slice_position_mm(view):.1f} mm"
        bottom_left = [f"Im {index + 1}/{count}", position]
        slab = model.slabs.get(view)
        if slab.active and not volume.is_colour:
            bottom_left.append(slab.label())
    window = model.window
    window_text = f"W {window.width:.0f}  L {window.center:.0f}" + ("  inv" if model.invert else "")
    scale = f"{mm_per_pixel:.2f} mm/px" if volume.spacing_known else SPACING_UNKNOWN
    bottom_right = [COLOUR_NO_WINDOW if volume.is_colour else window_text, scale]
    if model.preset_name() and not volume.is_colour:
        bottom_right.insert(0, model.preset_name())
    return {"top_left": top_left, "top_right": top_right,
            "bottom_left": bottom_left, "bottom_right": bottom_right}


_SHORT_VIEW = {"axial": "Ax", "coronal": "Cor", "sagittal": "Sag"}  # as Weasis / scanner consoles print them


def _join(*parts: str) -> str:
    return " ".join(str(part) for part in parts if part)


def _date(value: str) -> str:
    value = str(value)
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
