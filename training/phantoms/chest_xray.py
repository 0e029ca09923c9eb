"""PA chest radiograph phantom (DX): lungs, heart, mediastinum, spine, ribs, clavicles and lung nodules.

The image is built as a projected attenuation map in millimetres on the detector, so any ``size`` /
``spacing_mm`` renders the same anatomy. Display convention: standard PA view, patient's right on the image
left; columns run towards the patient's left (+x in LPS), rows towards the feet (PatientOrientation L\\F).
Stored values are 12-bit, MONOCHROME2 (bone and soft tissue bright, air dark).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from engine.volume import Volume
from training.phantoms.shapes import bias_field, smooth_noise, white_noise

FIELD_OF_VIEW_MM = 409.6
_GAIN = 1700.0  # stored value per attenuation unit (soft tissue thickness of a mean chest ~ 1.0)
_OFFSET = 150.0
_ZONES = ("upper", "middle", "lower")


@dataclass(frozen=True)
class Nodule:
    """Ground truth for one nodule. Pixel coordinates are (row, col); mm are from the first pixel centre."""

    centre_px: tuple[float, float]
    centre_mm: tuple[float, float]
    centre_lps: tuple[float, float, float]
    diameter_mm: float
    bbox_px: tuple[int, int, int, int]  # row0, col0, row1, col1 (half-open)
    bbox_mm: tuple[float, float, float, float]  # row0, col0, row1, col1 (mm from the first pixel centre)
    contrast: float  # peak added attenuation (lung-to-soft-tissue difference is about 0.75)
    contrast_pixel: float  # peak added stored value, before bias field and noise
    side: str  # patient side: "right" | "left"
    zone: str  # "upper" | "middle" | "lower" third of that lung
    location: str  # e.g. "right upper zone"
    over_rib: bool


@dataclass
class ChestXrayCase:
    """A rendered radiograph with its exact ground truth."""

    seed: int
    image: np.ndarray  # (rows, cols) uint16, 12 bits used
    geometry: Geometry
    nodules: list[Nodule]
    lung_mask: np.ndarray  # bool, lung fields excluding the heart shadow
    heart_mask: np.ndarray  # bool
    midline_col: float  # column of the spine centre line

    def volume(self) -> Volume:
        """The image as an engine Volume (modality DX)."""
        return Volume(self.image, self.geometry, modality="DX")

    def truth(self) -> dict:
        """JSON-ready ground truth."""
        return {
            "kind": "chest_xray",
            "seed": self.seed,
            "shape": list(self.image.shape),
            "pixel_spacing_mm": [self.geometry.spacing[1], self.geometry.spacing[0]],
            "patient_orientation": ["L", "F"],
            "view_position": "PA",
            "midline_col": self.midline_col,
            "nodules": [asdict(n) for n in self.nodules],
        }


@dataclass(frozen=True)
class _Lung:
    side: str
    centre: tuple[float, float]  # (x, y) mm: x from image centre (+ = patient left), y from the top row
    axes: tuple[float, float]
    power: float

    def radius(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Superellipse normalised radius (< 1 inside)."""
        u = np.abs((x - self.centre[0]) / self.axes[0]) ** self.power
        v = np.abs((y - self.centre[1]) / self.axes[1]) ** self.power
        return (u + v) ** (1.0 / self.power)


@dataclass(frozen=True)
class _Rib:
    side: int  # -1 patient right (image left), +1 patient left
    start_y: float
    slope: float
    curve: float
    length: float
    thickness: float

    def centre_y(self, d: np.ndarray) -> np.ndarray:
        return self.start_y + self.slope * d + self.curve * d * d


def make_chest_xray(seed: int, size: int = 2048, spacing_mm: float | None = None,
                    nodules: int | None = None) -> ChestXrayCase:
    """Render a PA chest radiograph of ``size`` x ``size`` pixels; ``nodules`` (0-4) is random if None.

    ``spacing_mm`` defaults to 409.6 mm / size (0.2 mm at 2048).
    """
    rng = np.random.default_rng([seed, 1001])
    spacing = float(spacing_mm) if spacing_mm else FIELD_OF_VIEW_MM / size
    x = ((np.arange(size, dtype=np.float32) - (size - 1) / 2) * spacing)[None, :]
    y = (np.arange(size, dtype=np.float32) * spacing)[:, None]
    fov = size * spacing
    scale = min(1.0, fov / FIELD_OF_VIEW_MM)

    half_width = rng.uniform(130, 160) * scale
    centre_x = rng.uniform(-8, 8) * scale
    apex_y = rng.uniform(0.13, 0.20) * fov
    lung_height = rng.uniform(0.56, 0.66) * fov
    lungs = _lungs(rng, centre_x, half_width, apex_y, lung_height)

    attenuation = _body(x, y, centre_x, half_width, apex_y)
    lung_radius = np.minimum(lungs[0].radius(x, y), lungs[1].radius(x, y))
    lung_depth = np.sqrt(np.clip(1.0 - lung_radius**2, 0.0, 1.0))
    attenuation -= 0.72 * lung_depth * (1.0 + 0.05 * smooth_noise(rng, (size, size), 6.0 / spacing))
    attenuation += _mediastinum(x, y, centre_x, apex_y, lung_height, scale)
    heart_r, heart_depth = _heart(rng, x, y, centre_x, half_width, apex_y + lung_height, scale)
    attenuation += 0.35 * heart_depth
    attenuation += _spine(x, y, centre_x, apex_y, scale)
    lung_mask = (lung_radius < 1.0) & (heart_r >= 1.0)
    _add_vessels(rng, attenuation, lungs, lung_mask, spacing, apex_y, lung_height, centre_x, half_width)
    ribs = _ribs(rng, centre_x, half_width, apex_y, lung_height, scale)
    for rib in ribs:
        _paint_rib(attenuation, rib, centre_x, spacing)
    for side in (-1, 1):
        _paint_clavicle(rng, attenuation, side, centre_x, half_width, apex_y, spacing, scale)

    drawn_count = int(rng.integers(0, 5))
    count = drawn_count if nodules is None else int(nodules)
    geometry = _geometry(size, spacing)
    found = _place_nodules(rng, count, attenuation, lungs, lung_mask, ribs, centre_x, spacing, geometry)

    blurred = ndimage.gaussian_filter(attenuation, 0.35 / spacing)
    signal = (_OFFSET + _GAIN * blurred) * bias_field(rng, (size, size), rng.uniform(0.04, 0.1))
    noise_sd = rng.uniform(12, 30)
    signal += noise_sd * white_noise(rng, (size, size))
    signal += 0.5 * noise_sd * smooth_noise(rng, (size, size), 2.0)
    image = np.clip(np.rint(signal), 0, 4095).astype(np.uint16)
    midline_col = float(centre_x / spacing + (size - 1) / 2)
    return ChestXrayCase(seed, image, geometry, found, lung_mask, heart_r < 1.0, midline_col)


def _geometry(size: int, spacing: float) -> Geometry:
    # columns -> patient left (+x), rows -> feet (-z); the slice normal is then posterior (+y).
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    half = (size - 1) / 2 * spacing
    return Geometry(shape=(size, size), spacing=(spacing, spacing, 1.0), origin=(-half, 0.0, half),
                    direction=direction)


def _lungs(rng: np.random.Generator, cx: float, half_width: float, apex_y: float,
           height: float) -> tuple[_Lung, _Lung]:
    lungs = []
    for side, name in ((-1, "right"), (1, "left")):
        drop = 0.0 if side < 0 else rng.uniform(0.02, 0.06) * height  # left hemidiaphragm lower
        axes = (half_width * rng.uniform(0.40, 0.45), (height + drop) / 2)
        centre = (cx + side * half_width * rng.uniform(0.53, 0.57), apex_y + axes[1])
        lungs.append(_Lung(name, centre, axes, rng.uniform(2.3, 3.0)))
    return lungs[0], lungs[1]


def _body(x: np.ndarray, y: np.ndarray, cx: float, half_width: float, apex_y: float) -> np.ndarray:
    shoulders = 1.0 / (1.0 + np.exp(-(y - (apex_y - 0.1 * half_width)) / (0.08 * half_width)))
    body_half = 0.4 * half_width + (0.8 * half_width) * shoulders
    return np.sqrt(np.clip(1.0 - ((x - cx) / body_half) ** 2, 0.0, 1.0)).astype(np.float32)


def _mediastinum(x: np.ndarray, y: np.ndarray, cx: float, apex_y: float, height: float,
                 scale: float) -> np.ndarray:
    half = (22.0 + 0.04 * np.clip(y - apex_y, 0, None)) * scale
    band = np.sqrt(np.clip(1.0 - ((x - cx) / half) ** 2, 0.0, 1.0))
    trachea_end = apex_y + 0.35 * height
    trachea = np.sqrt(np.clip(1.0 - ((x - cx - 2 * scale) / (9.0 * scale)) ** 2, 0.0, 1.0))
    trachea = trachea * (y < trachea_end)
    return (0.22 * band - 0.2 * trachea).astype(np.float32)


def _heart(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, cx: float, half_width: float,
           diaphragm_y: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    ratio = rng.uniform(0.42, 0.55)  # cardiothoracic ratio
    ax = ratio * half_width
    ay = ax * rng.uniform(0.62, 0.75)
    centre = (cx + half_width * rng.uniform(0.16, 0.26), diaphragm_y - ay * rng.uniform(0.9, 1.05))
    angle = np.deg2rad(rng.uniform(15, 35))  # apex points to the patient's left and down
    dx, dy = x - centre[0], y - centre[1]
    u = (np.cos(angle) * dx - np.sin(angle) * dy) / ax
    v = (np.sin(angle) * dx + np.cos(angle) * dy) / ay
    radius = np.sqrt(u * u + v * v)
    return radius, np.sqrt(np.clip(1.0 - radius**2, 0.0, 1.0)).astype(np.float32)


def _spine(x: np.ndarray, y: np.ndarray, cx: float, apex_y: float, scale: float) -> np.ndarray:
    half = 22.0 * scale
    band = np.sqrt(np.clip(1.0 - ((x - cx) / half) ** 2, 0.0, 1.0))
    period = 26.0 * scale
    discs = 0.75 + 0.25 * np.cos(2 * np.pi * (y - apex_y) / period) ** 8
    return (0.22 * band * (1.0 - discs * 0.35)).astype(np.float32)


def _ribs(rng: np.random.Generator, cx: float, half_width: float, apex_y: float, height: float,
          scale: float) -> list[_Rib]:
    ribs = []
    gap = height / rng.uniform(8.5, 9.5)
    for side in (-1, 1):
        for k in range(10):
            ribs.append(_Rib(side=side, start_y=apex_y - 0.1 * height + k * gap + rng.uniform(-2, 2) * scale,
                             slope=rng.uniform(-0.2, -0.05), curve=rng.uniform(0.0018, 0.0028) / scale,
                             length=half_width * rng.uniform(0.95, 1.05),
                             thickness=rng.uniform(8.0, 11.0) * scale))
    return ribs


def _paint_rib(attenuation: np.ndarray, rib: _Rib, cx: float, spacing: float) -> None:
    rows, cols = attenuation.shape
    x = (np.arange(cols) - (cols - 1) / 2) * spacing
    d = rib.side * (x - cx) - 12.0
    inside = (d >= 0) & (d <= rib.length)
    if not inside.any():
        return
    centre = rib.centre_y(np.clip(d, 0, rib.length))
    lateral_y = rib.centre_y(np.float64(rib.length))
    anterior = lateral_y + 0.5 * (rib.length - np.clip(d, 0, rib.length)) + 10.0
    for line, weight, reach in ((centre, 0.17, inside), (anterior, 0.07, inside & (d > 0.3 * rib.length))):
        lo = max(0, int((line[reach].min() - rib.thickness) / spacing))
        hi = min(rows, int((line[reach].max() + rib.thickness) / spacing) + 2)
        if lo >= hi:
            continue
        y = (np.arange(lo, hi) * spacing)[:, None]
        u = (y - line[None, :]) / (rib.thickness / 2)
        profile = np.where(np.abs(u) < 1.0, 0.6 + 0.4 * u * u, 0.0) * reach[None, :]
        attenuation[lo:hi] += (weight * profile).astype(np.float32)


def _paint_clavicle(rng: np.random.Generator, attenuation: np.ndarray, side: int, cx: float,
                    half_width: float, apex_y: float, spacing: float, scale: float) -> None:
    rows, cols = attenuation.shape
    x = (np.arange(cols) - (cols - 1) / 2) * spacing
    length = half_width * rng.uniform(0.95, 1.1)
    d = side * (x - cx) - 15.0 * scale
    reach = (d >= 0) & (d <= length)
    t = np.clip(d / length, 0, 1)
    line = apex_y + rng.uniform(-5, 10) * scale - 0.12 * d + 8.0 * scale * np.sin(np.pi * t)
    thickness = rng.uniform(11.0, 15.0) * scale
    lo = max(0, int((line[reach].min() - thickness) / spacing))
    hi = min(rows, int((line[reach].max() + thickness) / spacing) + 2)
    y = (np.arange(lo, hi) * spacing)[:, None]
    u = (y - line[None, :]) / (thickness / 2)
    profile = np.where(np.abs(u) < 1.0, 0.65 + 0.35 * u * u, 0.0) * reach[None, :]
    attenuation[lo:hi] += (0.22 * profile).astype(np.float32)


def _add_vessels(rng: np.random.Generator, attenuation: np.ndarray, lungs: tuple[_Lung, _Lung],
                 lung_mask: np.ndarray, spacing: float, apex_y: float, height: float, cx: float,
                 half_width: float) -> None:
    """Tapered branching lines from each hilum: the vascular markings a detector must ignore."""
    for side in (-1, 1):
        hilum = np.array([cx + side * 0.3 * half_width, apex_y + 0.45 * height])
        for _ in range(9):
            start, angle = hilum.copy(), rng.uniform(-0.9, 0.9) * np.pi + (0.0 if side > 0 else np.pi)
            width = rng.uniform(3.0, 6.0) * min(1.0, half_width / 140)
            for _ in range(4):
                length = rng.uniform(0.08, 0.16) * half_width
                end = start + length * np.array([np.cos(angle), np.sin(angle)])
                _paint_segment(attenuation, lung_mask, start, end, width, spacing)
                start, angle, width = end, angle + rng.uniform(-0.4, 0.4), width * 0.7


def _paint_segment(attenuation: np.ndarray, lung_mask: np.ndarray, start: np.ndarray, end: np.ndarray,
                   width: float, spacing: float) -> None:
    rows, cols = attenuation.shape
    to_col = (cols - 1) / 2
    lo_c = max(0, int(min(start[0], end[0]) / spacing + to_col - width / spacing) - 1)
    hi_c = min(cols, int(max(start[0], end[0]) / spacing + to_col + width / spacing) + 2)
    lo_r = max(0, int((min(start[1], end[1]) - width) / spacing) - 1)
    hi_r = min(rows, int((max(start[1], end[1]) + width) / spacing) + 2)
    if lo_c >= hi_c or lo_r >= hi_r:
        return
    x = ((np.arange(lo_c, hi_c) - to_col) * spacing)[None, :]
    y = (np.arange(lo_r, hi_r) * spacing)[:, None]
    seg = end - start
    t = np.clip(((x - start[0]) * seg[0] + (y - start[1]) * seg[1]) / max(float(seg @ seg), 1e-6), 0, 1)
    dist = np.hypot(x - start[0] - t * seg[0], y - start[1] - t * seg[1])
    profile = np.sqrt(np.clip(1.0 - (dist / (width / 2)) ** 2, 0.0, 1.0))
    attenuation[lo_r:hi_r, lo_c:hi_c] += (0.06 * profile * lung_mask[lo_r:hi_r, lo_c:hi_c]).astype(np.float32)


def _over_rib(ribs: list[_Rib], x: float, y: float, cx: float) -> bool:
    for rib in ribs:
        d = rib.side * (x - cx) - 12.0
        if 0 <= d <= rib.length and abs(y - rib.centre_y(np.float64(d))) < rib.thickness / 2:
            return True
    return False


def _place_nodules(rng: np.random.Generator, count: int, attenuation: np.ndarray,
                   lungs: tuple[_Lung, _Lung], lung_mask: np.ndarray, ribs: list[_Rib], cx: float,
                   spacing: float, geometry: Geometry) -> list[Nodule]:
    size = attenuation.shape[0]
    to_col = (size - 1) / 2
    placed: list[Nodule] = []
    for _ in range(200 * max(count, 1)):
        if len(placed) == count:
            break
        diameter = float(np.exp(rng.uniform(np.log(4.0), np.log(30.0))))
        radius = diameter / 2
        lung = lungs[int(rng.integers(2))]
        if rng.random() < 0.4:  # deliberately over a posterior rib
            rib = ribs[int(rng.integers(len(ribs)))]
            d = rng.uniform(0.2, 0.9) * rib.length
            x, y = cx + rib.side * (d + 12.0), float(rib.centre_y(np.float64(d)))
        else:
            x = lung.centre[0] + rng.uniform(-1, 1) * lung.axes[0]
            y = lung.centre[1] + rng.uniform(-1, 1) * lung.axes[1]
        row, col = y / spacing, x / spacing + to_col
        if not _fits(lung_mask, row, col, (radius + 3.0) / spacing):
            continue
        gaps = [np.hypot(row - n.centre_px[0], col - n.centre_px[1]) * spacing - n.diameter_mm / 2
                for n in placed]
        if any(gap < radius + 10 for gap in gaps):
            continue
        contrast = float(rng.uniform(0.08, 0.4))
        _paint_nodule(attenuation, row, col, radius / spacing, contrast)
        placed.append(_nodule_truth(row, col, diameter, contrast, spacing, geometry, lungs, ribs, cx))
    return placed


def _fits(mask: np.ndarray, row: float, col: float, radius_px: float) -> bool:
    """True if a disc of ``radius_px`` around (row, col) lies entirely inside ``mask``."""
    r0, r1 = int(np.floor(row - radius_px)), int(np.ceil(row + radius_px)) + 1
    c0, c1 = int(np.floor(col - radius_px)), int(np.ceil(col + radius_px)) + 1
    if r0 < 0 or c0 < 0 or r1 > mask.shape[0] or c1 > mask.shape[1]:
        return False
    rr, cc = np.ogrid[r0:r1, c0:c1]
    disc = (rr - row) ** 2 + (cc - col) ** 2 <= radius_px**2
    return bool(mask[r0:r1, c0:c1][disc].all())


def _paint_nodule(attenuation: np.ndarray, row: float, col: float, radius_px: float, contrast: float) -> None:
    r0, r1 = int(np.floor(row - radius_px)), int(np.ceil(row + radius_px)) + 1
    c0, c1 = int(np.floor(col - radius_px)), int(np.ceil(col + radius_px)) + 1
    rr, cc = np.ogrid[r0:r1, c0:c1]
    chord = np.sqrt(np.clip(1.0 - ((rr - row) ** 2 + (cc - col) ** 2) / radius_px**2, 0.0, 1.0))
    attenuation[r0:r1, c0:c1] += (contrast * chord).astype(np.float32)


def _nodule_truth(row: float, col: float, diameter: float, contrast: float, spacing: float,
                  geometry: Geometry, lungs: tuple[_Lung, _Lung], ribs: list[_Rib], cx: float) -> Nodule:
    radius_px = diameter / 2 / spacing
    size = geometry.shape[0]
    bbox = (max(0, int(np.floor(row - radius_px))), max(0, int(np.floor(col - radius_px))),
            min(size, int(np.ceil(row + radius_px)) + 1), min(size, int(np.ceil(col + radius_px)) + 1))
    x = (col - (size - 1) / 2) * spacing
    y = row * spacing
    lung = lungs[0] if x < cx else lungs[1]
    top, bottom = lung.centre[1] - lung.axes[1], lung.centre[1] + lung.axes[1]
    zone = _ZONES[min(2, int(3 * (y - top) / (bottom - top)))]
    return Nodule(
        centre_px=(round(row, 3), round(col, 3)),
        centre_mm=(round(row * spacing, 3), round(col * spacing, 3)),
        centre_lps=tuple(round(float(v), 3) for v in geometry.voxel_to_patient(np.array([row, col]))),
        diameter_mm=round(diameter, 3),
        bbox_px=bbox,
        bbox_mm=tuple(round(v * spacing, 3) for v in bbox),
        contrast=round(contrast, 4),
        contrast_pixel=round(contrast * _GAIN, 1),
        side=lung.side,
        zone=zone,
        location=f"{lung.side} {zone} zone",
        over_rib=_over_rib(ribs, x, y, cx),
    )
