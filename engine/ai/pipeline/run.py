"""Run a declared pipeline: the entry function of every plugin whose manifest has a ``[pipeline]`` table.

Order (nnU-Net's, inverted on the way back): reorient -> transpose -> crop to the foreground -> normalise
each channel -> resample to the target spacing -> sliding-window inference (models averaged, mirroring)
-> logits resampled back onto the cropped input voxels -> activation -> uncrop -> untranspose -> back to
the stored orientation -> largest component / hole filling. The label map therefore lies on the very
voxels of the input series, and SEG, SR, NIfTI and PDF export it like any plugin's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from engine.ai.context import PluginContext
from engine.ai.manifest import Manifest
from engine.ai.pipeline import steps
from engine.ai.pipeline.orientation import reorientation
from engine.ai.pipeline.schema import Normalization, Pipeline, parse_pipeline
from engine.ai.result import AnalysisResult, Finding, Measurement
from engine.geometry import Geometry
from engine.progress import CancelToken
from engine.volume import Heatmap, Label, LabelMap, Volume


@dataclass
class Prediction:
    """On the input grid: label values, per-channel probabilities (temperature 1; channel 0 = background
    for softmax) and the calibrated probabilities (logits / temperature)."""

    labels: np.ndarray
    probabilities: np.ndarray
    calibrated: np.ndarray
    features: np.ndarray | None = None  # for the domain check (engine.ai.domain): see domain_features()


HISTOGRAM_BINS = 32


def domain_features(data: np.ndarray, probabilities: np.ndarray, rules: Sequence[Normalization | None]) -> np.ndarray:
    """A model-agnostic description of what the network saw and said, for the k-NN domain check: per channel
    the histogram (fractions, 32 bins) of the normalised input on the model grid, over [b_min, b_max] for
    clip_scale and [-4, 4] sd otherwise, then the mean probability of every output channel."""
    parts = []
    for c, rule in enumerate(rules):
        low, high = (min(rule.clip[2], rule.clip[3]), max(rule.clip[2], rule.clip[3])) if (
            rule is not None and rule.scheme == "clip_scale") else (-4.0, 4.0)
        counts, _ = np.histogram(np.clip(data[c], low, high), bins=HISTOGRAM_BINS, range=(low, high))
        parts.append(counts / max(1, data[c].size))
    parts.append(probabilities.reshape(probabilities.shape[0], -1).mean(axis=1))
    return np.concatenate(parts).astype(np.float32)


def predict(pipeline: Pipeline, label_values: Sequence[int], channels: Sequence[np.ndarray], geometry: Geometry,
            predictor: steps.Predictor, *, temperature: float = 1.0, cancel: CancelToken | None = None,
            progress: Callable[[int, int], None] | None = None) -> Prediction:
    """The pipeline on ``channels`` (each (z, y, x) on ``geometry``) with ``predictor`` as the network."""
    data = np.stack([np.asarray(c) for c in channels]).astype(np.float32)
    orient = reorientation(geometry, pipeline.orientation)
    data = orient.forward(data)
    spacing_zyx = orient.geometry(geometry).spacing[::-1]
    order = list(pipeline.transpose)
    data = data.transpose(0, *[a + 1 for a in order])
    spacing = [spacing_zyx[a] for a in order]
    full_shape = data.shape[1:]
    if pipeline.crop_foreground:
        box, mask = steps.foreground_box(data)
    else:
        box, mask = tuple(slice(0, n) for n in full_shape), np.ones(full_shape, bool)
    data = data[(slice(None), *box)]
    crop_shape = data.shape[1:]
    rules: Sequence[Normalization | None] = pipeline.normalization or [None] * data.shape[0]
    if not pipeline.normalize_after_resample:
        data = np.stack([steps.normalize(data[c], rule, mask) for c, rule in enumerate(rules)])
    resample = pipeline.resample
    if resample is not None:
        target = list(resample.spacing)
        # MONAI aligns the first voxels of both grids when its affine is exactly axis-aligned, else (an oblique
        # float32 NIfTI sform is never exactly orthonormal) the grid centres: compute_shape_offset's fallback
        centred = resample.grid == "corners" and not np.all(np.isin(np.round(geometry.direction, 12), (-1, 0, 1)))
        if resample.grid == "corners":
            data = steps.resize_corners(data, steps.corner_shape(crop_shape, spacing, target),
                                        [t / s for t, s in zip(target, spacing, strict=True)], resample.order,
                                        centred)
        else:
            axis = steps.separate_axis(spacing, target, resample.separate_z, resample.anisotropy_threshold)
            data = steps.resize(data, steps.new_shape(crop_shape, spacing, target), resample.order, axis,
                                resample.order_z, np.float32)
    if pipeline.normalize_after_resample:
        resampled_mask = mask if resample is None else np.ones(data.shape[1:], bool)
        data = np.stack([steps.normalize(data[c], rule, resampled_mask) for c, rule in enumerate(rules)])
    inference = pipeline.inference
    logits = steps.sliding_window(data, inference.patch_size, predictor, overlap=inference.overlap,
                                  gaussian=inference.gaussian, sigma_scale=inference.sigma_scale,
                                  mirror_axes=inference.mirror_axes, pad_value=inference.pad_value,
                                  accumulate=inference.accumulate, tiling=inference.tiling, cancel=cancel,
                                  progress=progress)
    model_input = data

    def back_onto_input(channels: np.ndarray) -> np.ndarray:
        if resample is None:
            return channels
        if resample.grid == "corners":
            step = [s / t for s, t in zip(spacing, target, strict=True)]
            return steps.resize_corners(channels, crop_shape, step, resample.back_order, centred)
        axis = steps.separate_axis(target, spacing, resample.separate_z, resample.anisotropy_threshold)
        back = np.float16 if inference.accumulate == "float16" else np.float32
        return steps.resize(channels, crop_shape, resample.back_order, axis, resample.back_order_z, back).astype(
            np.float32, copy=False)

    post = pipeline.postprocess
    if post.resample_back == "probabilities":  # MONAI: Activationsd, then Invertd, then AsDiscreted
        activate = steps.softmax if post.activation == "softmax" else steps.sigmoid
        calibrated_model = activate(logits, temperature) if temperature != 1.0 else None
        logits = np.log(np.clip(back_onto_input(activate(logits)), 1e-30, None))
        if calibrated_model is not None:
            calibrated_back = back_onto_input(calibrated_model)
    else:
        logits = back_onto_input(logits)
    values = np.asarray([0, *label_values] if pipeline.postprocess.activation == "softmax" else list(label_values))
    if pipeline.postprocess.activation == "softmax":
        if logits.shape[0] != len(values):
            raise ValueError(f"the model gives {logits.shape[0]} channels; the manifest declares "
                             f"{len(values) - 1} labels + background")
        probabilities = steps.softmax(logits)
        calibrated = probabilities if temperature == 1.0 else steps.softmax(logits, temperature)
        if post.resample_back == "probabilities":
            probabilities = np.exp(logits).astype(np.float32)  # resampled probabilities, kept as they are
            calibrated = probabilities if temperature == 1.0 else calibrated_back
        cropped = values[np.argmax(logits, axis=0)]
    else:
        if logits.shape[0] != len(values):
            raise ValueError(f"the model gives {logits.shape[0]} channels; the manifest declares {len(values)} labels")
        probabilities = steps.sigmoid(logits)
        calibrated = probabilities if temperature == 1.0 else steps.sigmoid(logits, temperature)
        if post.resample_back == "probabilities":
            probabilities = np.exp(logits).astype(np.float32)
            calibrated = probabilities if temperature == 1.0 else calibrated_back
        cropped = np.zeros(crop_shape, np.int64)
        for k, value in enumerate(values):  # later labels win where regions overlap (nnU-Net's region order)
            cropped[probabilities[k] > pipeline.postprocess.threshold] = value
    del logits
    features = domain_features(model_input, probabilities, rules)
    del model_input
    dtype = np.uint8 if max(values.max(initial=0), 1) < 256 else np.uint16
    labels = np.zeros(full_shape, dtype)
    labels[box] = cropped
    background = 1.0 if pipeline.postprocess.activation == "softmax" else 0.0
    full_probabilities = _uncrop(probabilities, full_shape, box, background)
    full_calibrated = full_probabilities if calibrated is probabilities else _uncrop(calibrated, full_shape, box,
                                                                                     background)
    inverse = [int(a) for a in np.argsort(order)]
    labels = orient.backward(labels.transpose(inverse))
    full_probabilities = orient.backward(full_probabilities.transpose(0, *[a + 1 for a in inverse]))
    full_calibrated = orient.backward(full_calibrated.transpose(0, *[a + 1 for a in inverse]))
    labels = np.ascontiguousarray(labels)
    for value in pipeline.postprocess.largest_component:
        steps.keep_largest_component(labels, value)
    for value in pipeline.postprocess.fill_holes:
        steps.fill_holes(labels, value)
    return Prediction(labels, np.ascontiguousarray(full_probabilities), np.ascontiguousarray(full_calibrated),
                      features)


def _uncrop(channels: np.ndarray, shape: Sequence[int], box: tuple[slice, ...], background: float) -> np.ndarray:
    full = np.zeros((channels.shape[0], *shape), np.float32)
    full[0] = background
    full[(slice(None), *box)] = channels
    return full


def run_pipeline(context: PluginContext) -> AnalysisResult:
    """Entry function of a declarative plugin."""
    manifest = context.manifest
    pipeline = parse_pipeline(manifest.pipeline)
    roles = pipeline.channels or [role.role for role in manifest.inputs]
    reference = context.inputs[roles[0]]
    warnings: list[str] = []
    channels = []
    for role in roles:
        volume = context.inputs[role]
        if volume.is_colour:
            raise ValueError(f"role {role}: a colour image cannot feed a {manifest.id} channel")
        if not volume.geometry.same_grid(reference.geometry):
            warnings.append(f"{role} was resampled onto the {roles[0]} grid (linear)")
            channels.append(onto_grid(volume, reference.geometry))
        else:
            channels.append(volume.array)
    predictor = ensemble_predictor(context, pipeline.inference.models)
    context.report(0, 3, "segmenting")
    prediction = predict(pipeline, [label.value for label in manifest.labels], channels, reference.geometry,
                         predictor, temperature=manifest.calibration.temperature, cancel=context.cancel,
                         progress=lambda done, total: context.report(done, total, "segmenting"))
    context.report(2, 3, "describing")
    result = describe(manifest, reference, prediction, pipeline, context.labels)
    result.warnings = warnings + result.warnings
    result.domain_features = prediction.features
    context.report(3, 3, "done")
    return result


def ensemble_predictor(context: PluginContext, models: Sequence[str]) -> steps.Predictor:
    """A predictor averaging the logits of ``models`` (each an ONNX session of the plugin)."""
    sessions = [context.session(name) for name in models]
    names = [(s.get_inputs()[0].name, s.get_outputs()[0].name) for s in sessions]

    def predictor(batch: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for session, (input_name, output_name) in zip(sessions, names, strict=True):
            out = np.asarray(session.run([output_name], {input_name: batch})[0], dtype=np.float32)
            total = out if total is None else total + out
        assert total is not None
        return total / len(sessions) if len(sessions) > 1 else total

    return predictor


def onto_grid(volume: Volume, grid: Geometry) -> np.ndarray:
    """``volume`` linearly resampled onto ``grid`` (patient coordinates), zero outside."""
    zyx = np.indices(grid.shape, dtype=np.float64).reshape(3, -1).T
    source = volume.geometry.patient_to_voxel(grid.voxel_to_patient(zyx))
    values = ndimage.map_coordinates(volume.array.astype(np.float32), source.T, order=1, mode="constant", cval=0.0)
    return values.reshape(grid.shape)


def describe(manifest: Manifest, reference: Volume, prediction: Prediction, pipeline: Pipeline,
             labels: list[Label]) -> AnalysisResult:
    """Findings (one per label present: centre, extent, mean calibrated probability), volumes in mL and the
    foreground-probability heatmap of a prediction on ``reference``'s grid."""
    geometry = reference.geometry
    voxel_ml = float(np.prod(geometry.spacing)) / 1000.0
    softmax = pipeline.postprocess.activation == "softmax"
    counts = np.bincount(prediction.labels.ravel(), minlength=max(label.value for label in labels) + 1)
    findings, measurements = [], []
    for k, label in enumerate(manifest.labels):
        channel = k + 1 if softmax else k
        volume_ml = float(counts[label.value]) * voxel_ml
        measurements.append(Measurement(f"{label.name} volume", round(volume_ml, 3), "mL", region=label.name))
        if counts[label.value] == 0:
            continue
        mask = prediction.labels == label.value
        voxels = np.argwhere(mask)
        first, last = voxels.min(axis=0), voxels.max(axis=0)
        corners = np.array([[a, b, c] for a in (first[0], last[0]) for b in (first[1], last[1])
                            for c in (first[2], last[2])], float)
        patient = geometry.voxel_to_patient(corners)
        extent = float(np.max(np.ptp(patient, axis=0))) + float(min(geometry.spacing))
        findings.append(Finding.at(
            geometry, tuple(float(v) for v in voxels.mean(axis=0)), label.name,
            float(np.clip(prediction.calibrated[channel][mask].mean(), 0.0, 1.0)), "needs_review",
            size_mm=round(extent, 1), description=f"{label.name}: {volume_ml:.1f} mL",
            box_voxel=(tuple(float(v) for v in first), tuple(float(v) for v in last)),
            concept=label.code.concept(),
        ))
    heatmap = None
    if pipeline.postprocess.heatmap:
        foreground = 1.0 - prediction.calibrated[0] if softmax else prediction.calibrated.max(axis=0)
        heatmap = Heatmap(np.clip(foreground, 0.0, 1.0).astype(np.float32), geometry, name="foreground probability")
    return AnalysisResult(findings=findings, label_map=LabelMap(prediction.labels, geometry, labels),
                          heatmap=heatmap, measurements=measurements)
