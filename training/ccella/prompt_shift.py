"""Prompts the CCELLA model was not trained on: paraphrased prostate reports and reports of other studies.

The paraphrases say what the training templates say (volume, lesion size, side, zone, level, PI-RADS) in
wording none of the templates of training/phantoms/reports.py uses; the other reports are plain radiology
reports of other body parts and modalities, plus a few prompts that are not reports at all. Both are the
shifted sets of the prompt domain check (issue: a prompt that is not a prostate MRI report must be flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_PARAPHRASES = (
    "MRI prostate. The gland is enlarged to roughly {volume:.0f} cc. On T2 weighted images a {size:.0f} mm dark "
    "nodule sits in the {side} posterior gland near the {level}. Suspicion score {pirads} of 5.",
    "Clinical question: raised PSA. Result: {side}-sided {level} peripheral lesion, {size:.0f} millimetres, "
    "restricted diffusion and low T2. Gland {volume:.0f} ml. Likely significant tumour, category {pirads}.",
    "Multiparametric MR of the prostate shows a suspicious area on the {side} at the {level} measuring "
    "{size:.0f} mm. Prostate size {volume:.0f} ml. PIRADS v2.1 score {pirads}. Recommend fusion biopsy.",
    "Summary: PI-RADS {pirads} target, {side} {level}, {size:.0f} mm, with capsular contact. Total gland "
    "volume estimated at {volume:.0f} millilitres.",
)
_PARAPHRASED_NEGATIVE = (
    "MRI prostate for elevated PSA. Gland volume about {volume:.0f} cc with benign hyperplasia centrally. The "
    "outer gland returns uniformly bright signal. Nothing suspicious. Score {pirads}.",
    "Unremarkable prostate MR. Size {volume:.0f} ml, no dominant nodule, no extracapsular disease, seminal "
    "vesicles normal. Category {pirads}; routine PSA follow-up suggested.",
)
OTHER_REPORTS = (
    "CT chest with contrast: 8 mm solid nodule in the right upper lobe. No lymphadenopathy. Follow-up CT in "
    "6 months per Fleischner guidelines.",
    "Chest radiograph PA and lateral: clear lungs, normal heart size, no pleural effusion or pneumothorax.",
    "MRI brain: 3 cm enhancing mass in the left frontal lobe with surrounding vasogenic oedema and 4 mm "
    "midline shift, suggestive of high-grade glioma.",
    "Non-contrast CT head: no acute intracranial haemorrhage, territorial infarct or mass effect.",
    "Screening mammogram: scattered fibroglandular density, no suspicious mass or calcification. BI-RADS 1.",
    "MRI right knee: complex tear of the posterior horn of the medial meniscus, intact cruciate ligaments.",
    "Ultrasound abdomen: gallbladder contains several mobile calculi without wall thickening. Liver normal.",
    "Calcium scoring CT: total Agatston score 412, predominantly in the LAD. Severe coronary calcification.",
    "CT abdomen and pelvis: 4 cm hypodense lesion in segment VII of the liver, likely a haemangioma.",
    "MRI lumbar spine: L4-L5 disc protrusion contacting the traversing left L5 nerve root.",
    "Echocardiogram: normal left ventricular size and systolic function, ejection fraction 60 percent.",
    "Renal ultrasound: right kidney 11 cm, left 10.5 cm, no hydronephrosis, a simple 2 cm cyst on the left.",
    "Thyroid ultrasound: 14 mm isoechoic nodule in the right lobe, TI-RADS 3.",
    "CT pulmonary angiogram: filling defects in the right lower lobe segmental arteries, consistent with "
    "pulmonary embolism.",
    "MRI shoulder: full-thickness supraspinatus tear with 1 cm retraction.",
    "Bone scan: multiple foci of increased uptake in the spine and ribs, in keeping with metastases.",
    "Please generate a picture of a cat sitting on a windowsill.",
    "The quick brown fox jumps over the lazy dog.",
    "Patient seen in clinic today, blood pressure well controlled, continue current medication.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
)


@dataclass(frozen=True)
class ParaphrasedPrompt:
    """A paraphrased report and what it says, labelled as the phantom labels its own report: the class is
    clinically significant (1) for PI-RADS 4-5; a lesion (side and level) is named from PI-RADS 3."""

    report: str
    pirads: int
    label_class: int
    side: str  # "none" / "right" / "left", as plugins.prostate_synthesis.types.SIDE_NAMES
    level: str  # "none" / "apex" / "mid" / "base", as LEVEL_NAMES


def paraphrased_prompt(seed: int) -> ParaphrasedPrompt:
    """A prostate MRI report in wording the training templates never use, with its truth; deterministic per
    ``seed``."""
    rng = np.random.default_rng([seed, 7301])
    volume = float(rng.uniform(25, 80))
    pirads = int(rng.integers(1, 6))
    if pirads <= 2:
        template = _PARAPHRASED_NEGATIVE[int(rng.integers(len(_PARAPHRASED_NEGATIVE)))]
        return ParaphrasedPrompt(template.format(volume=volume, pirads=pirads), pirads, 0, "none", "none")
    words = {"volume": volume, "pirads": pirads, "size": float(rng.uniform(6, 22)),
             "side": ("left", "right")[int(rng.integers(2))],
             "level": ("apex", "mid gland", "base")[int(rng.integers(3))]}
    report = _PARAPHRASES[int(rng.integers(len(_PARAPHRASES)))].format(**words)
    return ParaphrasedPrompt(report, pirads, int(pirads >= 4), str(words["side"]), str(words["level"]).split()[0])


def paraphrased_report(seed: int) -> str:
    """The text of ``paraphrased_prompt(seed)``."""
    return paraphrased_prompt(seed).report
