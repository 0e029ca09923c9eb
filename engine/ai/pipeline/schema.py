r"""The ``[pipeline]`` table of a declarative plugin: the whole inference path as data, no plugin code.

A manifest with a ``[pipeline]`` table needs no ``entry_point``: the engine runs
:func:`engine.ai.pipeline.run.run_pipeline` with these settings. Every field, with its default::

    [pipeline]
    channels = ["CT"]                 # input roles, in the model's channel order (default: the manifest's inputs)
    orientation = "as_stored"         # as_stored | RAS | LPS | any 3 letters: where the x, y, z axes point
    transpose = [0, 1, 2]             # then permute the (z, y, x) array axes (nnU-Net's transpose_forward)
    crop_foreground = true            # crop to the box of non-zero voxels (holes filled), nnU-Net style
    normalize_after_resample = false  # true: resample first, then normalise (MONAI's transform order)

    [pipeline.resample]               # omit: no resampling
    spacing = [3.0, 1.5, 1.5]         # target spacing, mm, in the model's axis order (after transpose)
    order = 3                         # spline order of the image resampling
    order_z = 0                       # along the low-resolution axis when it is resampled separately
    separate_z = "auto"               # auto (anisotropy > threshold) | always | never
    anisotropy_threshold = 3.0
    back_order = 1                    # logits back onto the input voxels
    back_order_z = 0
    grid = "nnunet"                   # nnunet: round(size * ratio) voxels, grid-mode coordinates (skimage);
                                      # corners: first voxel centres aligned, round((size - 1) * ratio + 1)
                                      #   voxels, edge values beyond (MONAI Spacingd, its Invertd back)

    [[pipeline.normalization]]        # one per channel, in channel order
    scheme = "ct"                     # ct | zscore | clip_scale | rescale01 | none
    mean = 40.0                       # ct: foreground mean and sd, clipped first to the
    sd = 350.0                        #     foreground 0.5 / 99.5 percentiles:
    lower = -1000.0
    upper = 1500.0
    use_mask = false                  # zscore: statistics inside the foreground mask only
    clip = [a_min, a_max, b_min, b_max, 1]  # clip_scale: (x - a_min) / (a_max - a_min) * (b_max - b_min)
                                      #   + b_min, clipped to [b_min, b_max] when the fifth value is 1
                                      #   (MONAI ScaleIntensityRange)

    [pipeline.inference]
    models = ["fold_0"]               # [[models]] names; several are averaged (logits)
    patch_size = [64, 128, 128]
    overlap = 0.5                     # tile step = (1 - overlap) * patch size, nnU-Net's tile_step_size
    gaussian = true                   # nnU-Net's Gaussian importance weighting (sigma = patch / 8)
    sigma_scale = 0.125
    mirror_axes = [0, 1, 2]           # test-time mirroring over these model axes ([] = off)
    pad_value = 0.0
    tiling = "nnunet"                 # nnunet: tile starts and Gaussian of nnUNetPredictor; monai: those of
                                      #   MONAI's SlidingWindowInferer (interval int(patch * (1 - overlap)))
    accumulate = "float32"            # float16: sum tiles (and round the logits resampled back) in float16
                                      #   exactly as nnUNetPredictor does, for parity with nnU-Net

    [pipeline.postprocess]
    activation = "softmax"            # softmax (argmax) | sigmoid (one channel per label, threshold)
    threshold = 0.5
    largest_component = []            # label values kept as their largest connected component only
    fill_holes = []                   # label values whose enclosed holes are filled
    heatmap = true                    # the foreground probability as a heatmap
    resample_back = "logits"          # logits (nnU-Net) | probabilities (MONAI: Activationsd before Invertd)

The output labels, their colours and SNOMED codes are the manifest's ``[[labels]]``; the calibration
temperature (``[calibration]``) scales the logits of the reported probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.ai.schema_check import FieldError, SchemaError, build

_LETTERS = {"L": 0, "R": 0, "P": 1, "A": 1, "S": 2, "I": 2}


@dataclass(frozen=True)
class Resample:
    spacing: tuple[float, ...]
    order: int = 3
    order_z: int = 0
    separate_z: Literal["auto", "always", "never"] = "auto"
    anisotropy_threshold: float = 3.0
    back_order: int = 1
    back_order_z: int = 0
    grid: Literal["nnunet", "corners"] = "nnunet"

    def __post_init__(self) -> None:
        if len(self.spacing) != 3 or min(self.spacing) <= 0:
            raise FieldError("spacing", f"must be three positive numbers (mm), got {list(self.spacing)}")
        for name in ("order", "order_z", "back_order", "back_order_z"):
            if not 0 <= getattr(self, name) <= 5:
                raise FieldError(name, f"must be a spline order 0..5, got {getattr(self, name)}")
        if self.anisotropy_threshold <= 1:
            raise FieldError("anisotropy_threshold", "must be above 1")


@dataclass(frozen=True)
class Normalization:
    scheme: Literal["ct", "zscore", "clip_scale", "rescale01", "none"]
    mean: float = 0.0
    sd: float = 1.0
    lower: float | None = None
    upper: float | None = None
    use_mask: bool = False
    clip: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.scheme == "ct":
            if self.lower is None or self.upper is None or self.lower > self.upper:
                raise FieldError("lower", "ct normalisation needs lower <= upper (the foreground percentiles)")
            if self.sd < 0:
                raise FieldError("sd", f"must not be negative, got {self.sd}")
        if self.scheme == "clip_scale":
            if len(self.clip) != 5 or self.clip[0] == self.clip[1]:
                raise FieldError("clip", "clip_scale needs [a_min, a_max, b_min, b_max, clip 0|1], a_min != a_max")


@dataclass(frozen=True)
class Inference:
    models: list[str]
    patch_size: tuple[int, ...]
    overlap: float = 0.5
    gaussian: bool = True
    sigma_scale: float = 0.125
    mirror_axes: list[int] = field(default_factory=list)
    pad_value: float = 0.0
    tiling: Literal["nnunet", "monai"] = "nnunet"
    accumulate: Literal["float32", "float16"] = "float32"

    def __post_init__(self) -> None:
        if not self.models:
            raise FieldError("models", "must name at least one model")
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise FieldError("patch_size", f"must be three positive sizes, got {list(self.patch_size)}")
        if not 0.0 <= self.overlap < 1.0:
            raise FieldError("overlap", f"must be in [0, 1), got {self.overlap}")
        if self.sigma_scale <= 0:
            raise FieldError("sigma_scale", "must be positive")
        if any(axis not in (0, 1, 2) for axis in self.mirror_axes) or len(set(self.mirror_axes)) != len(
                self.mirror_axes):
            raise FieldError("mirror_axes", f"must be distinct axes 0, 1, 2, got {self.mirror_axes}")


@dataclass(frozen=True)
class Postprocess:
    activation: Literal["softmax", "sigmoid"] = "softmax"
    threshold: float = 0.5
    largest_component: list[int] = field(default_factory=list)
    fill_holes: list[int] = field(default_factory=list)
    heatmap: bool = True
    resample_back: Literal["logits", "probabilities"] = "logits"

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise FieldError("threshold", f"must be in (0, 1), got {self.threshold}")


@dataclass(frozen=True)
class Pipeline:
    inference: Inference
    channels: list[str] = field(default_factory=list)
    orientation: str = "as_stored"
    transpose: tuple[int, ...] = (0, 1, 2)
    crop_foreground: bool = True
    normalize_after_resample: bool = False
    resample: Resample | None = None
    normalization: list[Normalization] = field(default_factory=list)
    postprocess: Postprocess = field(default_factory=Postprocess)

    def __post_init__(self) -> None:
        if self.orientation != "as_stored":
            code = self.orientation.upper()
            if len(code) != 3 or any(c not in _LETTERS for c in code) or len({_LETTERS[c] for c in code}) != 3:
                raise FieldError("orientation", f"must be as_stored or three letters like RAS/LPS, "
                                                f"got {self.orientation!r}")
        if sorted(self.transpose) != [0, 1, 2]:
            raise FieldError("transpose", f"must be a permutation of 0, 1, 2, got {list(self.transpose)}")
        if self.channels and self.normalization and len(self.normalization) != len(self.channels):
            raise FieldError("normalization", f"needs one entry per channel ({len(self.channels)}), "
                                              f"got {len(self.normalization)}")


def parse_pipeline(table: dict[str, Any]) -> Pipeline:
    """The validated pipeline of a manifest's ``[pipeline]`` table (SchemaError naming the field)."""
    return build(Pipeline, table)


def check_pipeline(table: dict[str, Any], manifest: Any) -> Pipeline:
    """Validate ``table`` against the manifest it sits in (roles, models, labels); FieldError naming
    ``pipeline.<field>`` otherwise. Used by the manifest loader so a bad pipeline is refused at discovery."""
    try:
        pipeline = parse_pipeline(table)
    except SchemaError as error:
        raise FieldError(f"pipeline.{error.field}", error.reason) from None
    roles = [role.role for role in manifest.inputs]
    for i, channel in enumerate(pipeline.channels):
        if channel not in roles:
            raise FieldError(f"pipeline.channels[{i}]", f"{channel!r} is not an input role ({', '.join(roles)})")
    channels = pipeline.channels or roles
    if pipeline.normalization and len(pipeline.normalization) != len(channels):
        raise FieldError("pipeline.normalization", f"needs one entry per channel ({len(channels)})")
    names = [model.name for model in manifest.models]
    for i, name in enumerate(pipeline.inference.models):
        if name not in names:
            raise FieldError(f"pipeline.inference.models[{i}]", f"{name!r} is not a [[models]] name")
    values = {label.value for label in manifest.labels}
    if not values:
        raise FieldError("labels", "a pipeline plugin must declare its output [[labels]]")
    for name in ("largest_component", "fill_holes"):
        for value in getattr(pipeline.postprocess, name):
            if value not in values:
                raise FieldError(f"pipeline.postprocess.{name}", f"{value} is not an output label value")
    return pipeline
