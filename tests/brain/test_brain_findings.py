"""Describing a segmentation: parts joined across small gaps, side from patient coordinates, volumes, text."""

from __future__ import annotations

import numpy as np
import pytest

from engine.geometry import Geometry
from plugins.brain_tumor_mri.findings import describe, locate, region_volumes_ml, tumour_components


def test_parts_closer_than_join_mm_are_one_tumour() -> None:
    labels = np.zeros((10, 40, 40), dtype=np.uint8)
    labels[3:7, 5:15, 5:12] = 2
    labels[3:7, 5:15, 14:18] = 2  # 2 voxels (2 mm) away: same tumour
    labels[3:7, 30:34, 30:34] = 3  # far away: another one
    parts = tumour_components(labels, (1.0, 1.0, 1.0), join_mm=5.0)
    assert [int(p.sum()) for p in parts] == [4 * 10 * 11, 4 * 4 * 4]
    assert all(not (p & (labels == 0)).any() for p in parts)
    assert len(tumour_components(labels, (1.0, 1.0, 1.0), join_mm=1.0)) == 3
    assert tumour_components(labels, (1.0, 1.0, 1.0), min_voxels=100, join_mm=5.0)[0].sum() == 440
    assert tumour_components(np.zeros_like(labels), (1.0, 1.0, 1.0)) == []


def test_side_comes_from_patient_coordinates_not_array_columns() -> None:
    head = np.argwhere(np.ones((20, 20, 20), dtype=bool))
    tumour = np.argwhere(np.pad(np.ones((4, 4, 4), dtype=bool), ((8, 8), (2, 14), (14, 2))))  # high column index
    axial = Geometry((20, 20, 20), (2.0, 2.0, 2.0))
    flipped = Geometry((20, 20, 20), (2.0, 2.0, 2.0), direction=np.diag([-1.0, 1.0, 1.0]))  # columns -> patient right
    assert locate(tumour, head, axial, axial).side == "left"  # LPS: +x is the patient's left
    assert locate(tumour, head, flipped, flipped).side == "right"
    assert locate(tumour, head, axial, axial).lobe == "frontal"  # low row index = anterior


def test_volumes_and_description() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[:5] = 2
    labels[5:7] = 1
    labels[7:8] = 3
    volumes = region_volumes_ml(labels, Geometry((10, 10, 10), (2.0, 2.0, 2.0)))
    assert volumes["WT"] == pytest.approx(8.0 * 800 / 1000)
    assert volumes["TC"] == pytest.approx(volumes["NCR"] + volumes["ET"])
    location = locate(np.argwhere(labels > 0), np.argwhere(labels >= 0), Geometry((10, 10, 10)),
                      Geometry((10, 10, 10)))
    text = describe(location, volumes)
    assert text.endswith("enhancing tumour with necrosis, 6 mL whole tumour")
