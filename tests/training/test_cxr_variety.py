"""The training split's acquisition variety: drawn per seed, in its declared shares, and it really changes
the image the way it says (fainter nodules, noise, vendor processing) without moving the ground truth."""

from __future__ import annotations

import numpy as np

from training.cxr import variety
from training.cxr.phantom_dataset import SPLITS, SplitSpec, render_case
from training.cxr.variety import Variety, apply_variety, draw_variety
from training.phantoms.chest_xray import make_chest_xray


def test_each_seed_draws_the_same_variety_and_the_shares_match_the_declaration():
    assert draw_variety(17) == draw_variety(17)
    drawn = [draw_variety(seed) for seed in range(2000)]
    shares = {"contrast": np.mean([d.contrast_kept < 1.0 for d in drawn]),
              "noise": np.mean([d.noise_sd > 0 for d in drawn]),
              "processing": np.mean([d.unsharp_amount is not None for d in drawn])}
    assert abs(shares["contrast"] - variety.CONTRAST_SHARE) < 0.04
    assert abs(shares["noise"] - variety.NOISE_SHARE) < 0.04
    assert abs(shares["processing"] - variety.PROCESSING_SHARE) < 0.04
    kept = [d.contrast_kept for d in drawn if d.contrast_kept < 1.0]
    assert variety.CONTRAST_KEPT[0] <= min(kept) and max(kept) <= variety.CONTRAST_KEPT[1]
    # some cases stay plain: the model still sees the generator's own images
    assert 0.2 < np.mean([d == Variety() for d in drawn]) < 0.4


def _nodule_contrast(image: np.ndarray, centre: tuple[float, float], radius: float) -> float:
    rows, cols = np.ogrid[:image.shape[0], :image.shape[1]]
    distance = np.hypot(rows - centre[0], cols - centre[1])
    inside = image[distance < 0.5 * radius].mean()
    ring = image[(distance > 1.5 * radius) & (distance < 2.5 * radius)].mean()
    return float(inside - ring)


def test_fainter_nodules_keep_the_drawn_share_of_their_contrast_in_place():
    case = make_chest_xray(3, size=512, nodules=3)
    nodule = max(case.nodules, key=lambda n: n.diameter_mm)
    radius = nodule.diameter_mm / 2 / case.geometry.spacing[0]
    plain = apply_variety(case, Variety())
    faded = apply_variety(case, Variety(contrast_kept=0.5))
    np.testing.assert_array_equal(plain, case.image.astype(np.float32))
    ratio = _nodule_contrast(faded, nodule.centre_px, radius) / _nodule_contrast(plain, nodule.centre_px, radius)
    assert 0.35 < ratio < 0.65
    far = np.ones(plain.shape, bool)
    for n in case.nodules:
        rows, cols = np.ogrid[:plain.shape[0], :plain.shape[1]]
        far &= np.hypot(rows - n.centre_px[0], cols - n.centre_px[1]) > n.diameter_mm / case.geometry.spacing[0] + 8
    np.testing.assert_array_equal(faded[far], plain[far])


def test_noise_and_processing_change_the_image_as_declared():
    case = make_chest_xray(5, size=256, nodules=0)
    plain = apply_variety(case, Variety())
    noisy = apply_variety(case, Variety(noise_sd=80.0))
    assert 70 < np.std(noisy - plain) < 90
    processed = apply_variety(case, Variety(unsharp_amount=1.0, gamma=1.5))
    assert processed.min() >= 0 and processed.max() <= 4095
    assert np.corrcoef(processed.ravel(), plain.ravel())[0, 1] < 0.99


def test_only_the_training_split_has_variety_and_its_cache_is_separate():
    assert SPLITS["train"].variety and not SPLITS["val"].variety and not SPLITS["test"].variety
    assert SPLITS["train"].key != SPLITS["train"].plain.key
    seed = next(s for s in range(100) if draw_variety(s).noise_sd > 0)
    varied, _, rows_varied, _ = render_case(seed, 256, 128, variety=True)
    plain, _, rows_plain, _ = render_case(seed, 256, 128, variety=False)
    assert rows_varied == rows_plain  # the ground truth does not move
    assert not np.array_equal(varied, plain)
    assert SplitSpec("train", 0, 4, 256, 128).key.endswith("-v1")
