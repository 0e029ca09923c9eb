"""Acceptance of issue 7: correct an AI label map, get killed mid-edit, restore, accept, and the exported
DICOM SEG reads back to exactly the voxels of the final map."""

from __future__ import annotations

import shutil
import subprocess
from functools import partial
from pathlib import Path

import highdicom as hd
import numpy as np

from engine.ai.dicom_seg import seg_to_label_map
from engine.ai.result import Provenance
from engine.editing.accept import accept_correction
from engine.editing.brush import Brush, paint
from engine.editing.codec import label_map_to_npz
from engine.editing.recovery import find_recoverable
from engine.editing.session import EditSession
from engine.editing.versions import FINAL, VersionStore
from engine.nifti import read_nifti
from engine.volume import CodedConcept

NECROSIS = CodedConcept("6574001", "SCT", "Necrosis")


def test_edit_kill_restore_accept_and_the_seg_lands_on_the_same_voxels(
    tmp_path: Path, ct_series, ai_label_map, kill_child, child_module
) -> None:
    sources, geometry = ct_series
    study_uid = sources[0].StudyInstanceUID
    store = VersionStore.for_key(study_uid)
    provenance = Provenance("brain_tumour", "1.2.0", {"segmenter": "cd" * 32}, "1.18.0", ["CPU"],
                            "2024-03-01T09:30:00+00:00", 1.0)
    store.save_original(ai_label_map(geometry), provenance)

    base = tmp_path / "working.npz"
    base.write_bytes(label_map_to_npz(store.working_copy(), {}))
    acknowledged = kill_child(study_uid, base, 25)

    (found,) = find_recoverable()
    assert found.key == study_uid
    session = EditSession.resume(found)
    expected = EditSession(store.working_copy())
    for i in range(acknowledged):
        child_module.scripted_edit(expected, i)
    one_more_journalled = not np.array_equal(session.label_map.array, expected.label_map.array)
    if one_more_journalled:  # the child journalled one more edit than it printed before it died
        child_module.scripted_edit(expected, acknowledged)
    assert np.array_equal(session.label_map.array, expected.label_map.array)

    necrosis = session.add_label("necrosis", concept=NECROSIS)
    brush = Brush(1.2)
    dab = partial(paint, brush=brush, value=necrosis.value)
    session.begin_stroke("Brush", dab, brush.stroke_step_mm(geometry))
    session.add_point((6, 25, 5))
    session.add_point((6, 25, 12))
    session.end_stroke()
    final = session.label_map
    log = tmp_path / "audit.jsonl"
    accepted = accept_correction(store, final, tmp_path / "export", sources, audit_log=log)
    session.close()
    assert find_recoverable() == []

    seg = hd.seg.segread(accepted.seg_path)
    back = seg_to_label_map(seg, list(reversed(sources)), geometry)
    assert np.array_equal(back.array, final.array)
    assert {lb.value: lb.name for lb in back.labels} == {1: "lesion", 2: "oedema", 3: "necrosis"}
    assert seg.get_segment_description(3).algorithm_type == hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
    assert np.array_equal(read_nifti(accepted.nifti_path).array, final.array)
    assert np.array_equal(store.load(FINAL).array, final.array)
    assert accepted.summary.label(3).added == int((final.array == 3).sum()) > 0
    if shutil.which("dciodvfy"):
        command = ["dciodvfy", str(accepted.seg_path)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")] == []
