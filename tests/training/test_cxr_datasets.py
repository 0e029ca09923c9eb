"""Real-format readers (NIH ChestX-ray14, CheXpert) on tiny fixture files written in those exact formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.cxr.datasets import (
    CHEXPERT_OBSERVATIONS,
    DatasetFormatError,
    cache_real_split,
    chexpert_targets,
    nih_nodule_cases,
    read_chexpert,
    read_nih,
)
from training.cxr.phantom_dataset import load_split

NIH_ENTRIES = """Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,\
OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],
00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,
00000013_005.png,Emphysema|Infiltration|Nodule|Pleural_Thickening,5,13,60,M,AP,3056,2544,0.139,0.139,
00000032_001.png,No Finding,1,32,055Y,F,PA,2992,2991,0.143,0.143,
"""
NIH_BOXES = """Image Index,Finding Label,Bbox [x,y,w,h],,,
00000013_005.png,Nodule,225.084745762712,547.019216763771,86.7796610169491,79.1864406779661,,,
00000013_005.png,Infiltrate,686.101694915254,131.543321299639,185.491525423729,313.491525423729,,,
"""
CHEXPERT = """Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,\
Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,\
Pleural Other,Fracture,Support Devices
CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0
CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,-1.0,-1.0,\
-1.0,,-1.0,,-1.0,,1.0,
CheXpert-v1.0-small/train/patient00002/study1/view2_lateral.jpg,Female,83,Lateral,,,,,1.0,1.0,,,,,,,,1.0,
"""


@pytest.fixture
def nih_files(tmp_path: Path) -> tuple[Path, Path]:
    entries, boxes = tmp_path / "Data_Entry_2017.csv", tmp_path / "BBox_List_2017.csv"
    entries.write_text(NIH_ENTRIES)
    boxes.write_text(NIH_BOXES)
    return entries, boxes


def test_nih_entries_and_boxes(nih_files: tuple[Path, Path]) -> None:
    records = read_nih(*nih_files)
    assert [r.image_index for r in records] == ["00000001_000.png", "00000013_005.png", "00000032_001.png"]
    second = records[1]
    assert second.findings == ("Emphysema", "Infiltration", "Nodule", "Pleural_Thickening")
    assert (second.follow_up, second.patient_id, second.age, second.sex, second.view) == (5, "13", 60, "M", "AP")
    assert (second.width, second.height, second.spacing_mm) == (3056, 2544, (0.139, 0.139))
    assert second.has("Nodule") and not records[0].has("Nodule")
    assert records[2].findings == () and records[2].age == 55  # "No Finding" and the older "055Y" ages
    assert [b.label for b in second.boxes] == ["Nodule", "Infiltrate"]
    assert second.boxes[0].w == pytest.approx(86.7796610169491)


def test_nih_nodule_cases_use_box_centres(nih_files: tuple[Path, Path], tmp_path: Path) -> None:
    cases = nih_nodule_cases(read_nih(*nih_files), tmp_path / "images")
    assert len(cases) == 3
    row, col, diameter = cases[1].nodules[0]
    x, y, w, h = 225.084745762712, 547.019216763771, 86.7796610169491, 79.1864406779661
    assert (row, col) == pytest.approx((y + h / 2, x + w / 2))
    assert diameter == pytest.approx(np.sqrt(w * h))
    assert cases[0].nodules == () and cases[1].spacing_mm == 0.139


def test_nih_rejects_other_csv(tmp_path: Path) -> None:
    wrong = tmp_path / "Data_Entry_2017.csv"
    wrong.write_text(CHEXPERT)
    with pytest.raises(DatasetFormatError, match="not a ChestX-ray14"):
        read_nih(wrong)


def test_chexpert_values_and_policies(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(CHEXPERT)
    records = read_chexpert(path)
    assert [r.frontal for r in records] == [True, True, False]
    assert records[0].observations["No Finding"] == 1.0 and records[0].observations["Lung Lesion"] is None
    assert records[1].observations["Lung Lesion"] == -1.0 and records[1].age == 87
    wanted = ("Lung Lesion", "Lung Opacity", "Pneumothorax")
    ones, ones_mask = chexpert_targets(records, wanted, "u_ones")
    zeros, _ = chexpert_targets(records, wanted, "u_zeros")
    ignored, mask = chexpert_targets(records, wanted, "ignore")
    np.testing.assert_array_equal(ones, [[0, 0, 0], [1, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(zeros, [[0, 0, 0], [0, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(ignored, zeros)
    np.testing.assert_array_equal(mask, [[1, 1, 1], [0, 1, 1], [1, 1, 1]])
    assert ones_mask.all()
    assert set(CHEXPERT_OBSERVATIONS) == set(records[0].observations)
    with pytest.raises(ValueError, match="policy"):
        chexpert_targets(records, wanted, "u_maybe")  # type: ignore[arg-type]


def test_chexpert_rejects_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(CHEXPERT.replace(",68,Frontal,AP,1.0,", ",68,Frontal,AP,2.0,"))
    with pytest.raises(DatasetFormatError, match=r"train.csv:2"):
        read_chexpert(path)


def test_real_cases_cache_like_phantoms(tmp_path: Path) -> None:
    from PIL import Image

    image = np.zeros((200, 100), np.uint8)
    image[50:60, 20:30] = 255
    Image.fromarray(image).save(tmp_path / "a.png")
    from training.cxr.datasets import RealCase

    folder = cache_real_split([RealCase(str(tmp_path / "a.png"), ((55.0, 25.0, 10.0),), 0.5)], tmp_path / "c", 64)
    split = load_split(folder)
    assert split.images.shape == (1, 64, 64) and split.positive.tolist() == [1]
    row, col, diameter = split.case_nodules(0)[0]
    assert (row, col, diameter) == pytest.approx(((55.5 * 0.32) - 0.5, (25.5 * 0.32) - 0.5, 3.2))
    assert split.spacing_mm[0] == pytest.approx(0.5 / 0.32)
