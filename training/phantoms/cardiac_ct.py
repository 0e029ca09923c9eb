"""Non-contrast cardiac CT phantom (calcium scoring protocol: 3 mm axial slices, 512 x 512).

Anatomy: body outline with subcutaneous fat and chest-wall muscle, lungs, mediastinal fat, heart in
epicardial fat, ascending and descending aorta, spine (posterior) with discs and canal, sloping ribs with
costal cartilage (often ossified), sternum (anterior). Coronary centre lines (LM, LAD, LCX, RCA) run on
the heart surface; calcified plaques (130-1000 HU peak) sit on them, some deliberately close to bone, and
a few aortic-wall calcifications are unlabelled distractors. HU are int16; stored values are HU + 1024
(uint16, 12 bits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from engine.geometry import Geometry
from engine.volume import CodedConcept, Label, LabelMap, Volume
from training.phantoms.agatston import ARTERIES, agatston_scores
from training.phantoms.shapes import (
    axial_grid,
    bias_field,
    ellipsoid_r2,
    rotation,
    smooth_noise,
    white_noise,
)

SLICE_MM = 3.0
RESCALE_INTERCEPT = -1024
ARTERY_LABELS = tuple(
    Label(value, name, colour, CodedConcept(code, "SCT", meaning))
    for value, name, colour, code, meaning in (
        (1, "LM", (255, 0, 0), "3227004", "Left main coronary artery"),
        (2, "LAD", (0, 255, 0), "59438005", "Left anterior descending coronary artery"),
        (3, "LCX", (0, 0, 255), "41879009", "Circumflex branch of left coronary artery"),
        (4, "RCA", (255, 255, 0), "12800002", "Right coronary artery"),
    )
)
_NEAR_BONE_MM = 10.0


@dataclass(frozen=True)
class Plaque:
    """Ground truth for one calcified plaque."""

    artery: int  # 1 LM, 2 LAD, 3 LCX, 4 RCA
    artery_name: str
    centre_voxel: tuple[int, int, int]  # (z, y, x)
    centre_lps: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    peak_hu: float  # designed peak (130-1000)
    measured_peak_hu: int  # highest HU among its voxels in the final image
    max_area_mm2: float  # largest per-slice cross-section of its mask
    voxels: int
    distance_to_bone_mm: float
    near_bone: bool


@dataclass
class CardiacCtCase:
    """A CT volume in HU, the per-artery calcium label map and the plaque / Agatston truth."""

    seed: int
    hu: np.ndarray  # (z, y, x) int16
    geometry: Geometry
    labels: np.ndarray  # (z, y, x) uint8: 0 background, 1 LM, 2 LAD, 3 LCX, 4 RCA
    plaques: list[Plaque]
    agatston: dict[str, float]
    heart_centre_lps: tuple[float, float, float]
    spine_centre_lps: tuple[float, float, float]

    def pixels(self) -> np.ndarray:
        """Stored values (uint16, HU - RescaleIntercept)."""
        return np.clip(self.hu.astype(np.int32) - RESCALE_INTERCEPT, 0, 4095).astype(np.uint16)

    def volume(self) -> Volume:
        """The HU volume as an engine Volume (modality CT)."""
        return Volume(self.hu, self.geometry, modality="CT", meta={"window": (50.0, 350.0)})

    def label_map(self) -> LabelMap:
        """The calcium label map with the artery label table."""
        return LabelMap(self.labels, self.geometry, list(ARTERY_LABELS))

    def truth(self) -> dict:
        """JSON-ready ground truth."""
        return {
            "kind": "cardiac_ct",
            "seed": self.seed,
            "shape": list(self.geometry.shape),
            "spacing_mm": list(self.geometry.spacing),
            "labels": {str(k): v for k, v in ARTERIES.items()},
            "agatston": self.agatston,
            "agatston_definition": "training.phantoms.agatston.agatston_scores (130 HU, 2D 8-connected "
                                   "lesions >= 1 mm^2, weight 1-4 by peak HU, area x weight)",
            "heart_centre_lps": list(self.heart_centre_lps),
            "spine_centre_lps": list(self.spine_centre_lps),
            "plaques": [asdict(p) for p in self.plaques],
        }


@dataclass(frozen=True)
class _Body:
    centre: tuple[float, float]
    axes: tuple[float, float]
    fat: float
    muscle: float


def make_cardiac_ct(seed: int, size: int = 512, slices: int | None = None) -> CardiacCtCase:
    """Render a calcium-scoring CT of ``size`` x ``size`` pixels (0.4-0.7 mm at 512) and 40-56 slices."""
    rng = np.random.default_rng([seed, 3003])
    spacing_xy = rng.uniform(0.4, 0.7) * 512 / size
    drawn_slices = int(rng.integers(40, 57))
    nz = int(slices) if slices else drawn_slices
    body = _Body((0.0, rng.uniform(-5, 5)), (rng.uniform(150, 175), rng.uniform(105, 122)),
                 rng.uniform(8, 22), rng.uniform(9, 13))
    sternum = (rng.uniform(-3, 3), body.centre[1] - body.axes[1] + body.fat + 7.0)
    spine = (rng.uniform(-4, 4), body.centre[1] + body.axes[1] - rng.uniform(48, 58))
    heart = _heart_frame(rng, sternum)
    centre_xy = (0.5 * heart["centre"][0], 0.5 * (heart["centre"][1] + spine[1]))
    half = (size - 1) / 2 * spacing_xy
    origin = (centre_xy[0] - half, centre_xy[1] - half, heart["centre"][2] - (nz - 1) / 2 * SLICE_MM)
    geometry = Geometry(shape=(nz, size, size), spacing=(spacing_xy, spacing_xy, SLICE_MM), origin=origin)
    grid = axial_grid(geometry)

    hu, bone = _thorax(rng, grid, geometry, body, sternum, spine)
    arteries = _coronaries(rng, heart)
    _paint_heart(rng, hu, bone, grid, heart, arteries)
    hu = ndimage.gaussian_filter(hu, (0.3, 0.45 / spacing_xy, 0.45 / spacing_xy))
    bone_points = _bone_points(bone, geometry)
    labels = np.zeros(geometry.shape, dtype=np.uint8)
    designs = _plaque_designs(rng, arteries, bone_points, geometry)
    for design in designs:
        _paint_calcium(hu, labels, grid, geometry, *design)
    _paint_aortic_calcium(rng, hu, grid, geometry, spine)

    noise = white_noise(rng, hu.shape)
    noise = ndimage.gaussian_filter(noise, (0, 0.6, 0.6)) * np.float32(rng.uniform(12, 25) / 0.47)
    hu += noise + np.float32(60.0) * (bias_field(rng, hu.shape, 0.12) - 1)
    hu_int = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    plaques = [_plaque_truth(hu_int, labels, geometry, bone_points, *design) for design in designs]
    return CardiacCtCase(
        seed, hu_int, geometry, labels, plaques,
        agatston_scores(hu_int, labels, spacing_xy * spacing_xy),
        tuple(round(float(v), 3) for v in heart["centre"]),
        (round(spine[0], 3), round(spine[1], 3), round(float(heart["centre"][2]), 3)),
    )


def _thorax(rng: np.random.Generator, grid: tuple[np.ndarray, ...], geometry: Geometry, body: _Body,
            sternum: tuple[float, float], spine: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Everything but the heart: HU volume (float32) and the bone mask."""
    z, y, x = grid
    nz, ny, nx = geometry.shape
    u, v = np.broadcast_arrays((x[0] - body.centre[0]) / body.axes[0], (y[0] - body.centre[1]) / body.axes[1])
    rho = np.sqrt(u * u + v * v)
    depth = (1 - rho) * float(np.mean(body.axes))  # approximate mm inside the skin
    plane = np.full((ny, nx), -1000.0, dtype=np.float32)
    plane[depth > 0] = -100.0
    plane[depth > body.fat] = 45.0
    cavity = depth > body.fat + body.muscle
    lung_noise = smooth_noise(rng, (ny, nx), 4.0 / geometry.spacing[0])
    plane[cavity] = (-850.0 + 35.0 * lung_noise)[cavity]
    mediastinum = ((x[0] - 5) / 30.0) ** 2 + ((y[0] - spine[1] + 55) / 75.0) ** 2 < 1
    plane[mediastinum & cavity] = -90.0
    descending = (spine[0] + rng.uniform(18, 24), spine[1] - rng.uniform(22, 28))
    plane[(x[0] - descending[0]) ** 2 + (y[0] - descending[1]) ** 2 < rng.uniform(10, 13) ** 2] = 40.0
    plane[((x[0] - spine[0]) / 26.0) ** 2 + ((y[0] - spine[1] - 10) / 40.0) ** 2 < 1] = 45.0  # paraspinal
    hu = np.repeat(plane[None], nz, axis=0)
    bone = np.zeros(geometry.shape, dtype=bool)

    vertebra = np.hypot(x[0] - spine[0], y[0] - spine[1])
    arch = np.hypot(x[0] - spine[0], y[0] - spine[1] - 27)
    process = (np.abs(x[0] - spine[0]) < 4) & (y[0] > spine[1] + 35) & (y[0] < spine[1] + 62)
    disc_phase = np.mod(z[:, 0, 0] - rng.uniform(0, 26), rng.uniform(24, 28))
    for k in range(nz):
        disc = disc_phase[k] < 4.5
        hu[k][vertebra < 17] = 90.0 if disc else 220.0
        if not disc:
            hu[k][(vertebra >= 15) & (vertebra < 17)] = 650.0
            bone[k] |= vertebra < 17
        posterior = ((arch >= 8) & (arch < 13) & (y[0] > spine[1] + 14)) | process
        hu[k][posterior] = 500.0
        hu[k][arch < 8] = 15.0
        bone[k] |= posterior
    sternal = ((x[0] - sternum[0]) / 14.0) ** 2 + ((y[0] - sternum[1]) / 7.0) ** 2
    hu[:, sternal < 1] = 300.0
    hu[:, (sternal < 1) & (sternal > 0.6)] = 600.0
    bone[:, sternal < 1] = True
    _paint_ribs(rng, hu, bone, z[:, 0, 0], u, v, depth, body)
    return hu, bone


def _paint_ribs(rng: np.random.Generator, hu: np.ndarray, bone: np.ndarray, z: np.ndarray, u: np.ndarray,
                v: np.ndarray, depth: np.ndarray, body: _Body) -> None:
    ring = (depth > body.fat + 1.5) & (depth < body.fat + body.muscle + 1.0)
    rows, cols = np.nonzero(ring)
    theta = np.arctan2(np.abs(u[rows, cols]), v[rows, cols])  # 0 posterior midline, pi anterior midline
    pitch, height, slope = rng.uniform(24, 28), rng.uniform(9, 12), rng.uniform(28, 38)
    for side in (-1, 1):
        mine = (u[rows, cols] * side) > 0
        phase = np.mod(z[:, None] - rng.uniform(0, pitch) + slope * theta[None, :], pitch)
        inside = phase < height
        edge = np.abs(phase - height / 2) / (height / 2)
        rib = inside & mine[None, :] & (theta[None, :] > 0.25) & (theta[None, :] < 2.45)
        cartilage = inside & mine[None, :] & (theta[None, :] >= 2.45) & (theta[None, :] < 2.95)
        values = 260.0 + 450.0 * edge**4
        ossified = rng.random() < 0.7  # calcified costal cartilage: bone right in front of the heart
        cartilage_hu = rng.uniform(250, 450) if ossified else 120.0
        for k in range(z.size):
            sel = rib[k] | (cartilage[k] if ossified else False)
            hu[k, rows[sel], cols[sel]] = values[k, sel]
            hu[k, rows[cartilage[k]], cols[cartilage[k]]] = cartilage_hu
            bone[k, rows[sel], cols[sel]] = True


def _heart_frame(rng: np.random.Generator, sternum: tuple[float, float]) -> dict:
    """Heart ellipsoid: long axis towards left-anterior-inferior, anterior surface a few mm behind bone."""
    long_axis = np.array([0.6, -0.45, -0.6]) @ rotation(rng, 10.0).T
    long_axis /= np.linalg.norm(long_axis)
    left = np.array([1.0, 0.0, 0.0]) - long_axis[0] * long_axis
    left /= np.linalg.norm(left)
    anterior = np.cross(long_axis, left)
    if anterior[1] > 0:
        anterior = -anterior
    radii = np.array([rng.uniform(55, 64), rng.uniform(40, 47), rng.uniform(43, 50)])
    axes = np.column_stack([long_axis, anterior, left])
    extent_y = float(np.sqrt(np.sum((axes[1] * radii) ** 2)))
    gap = rng.uniform(1, 6)  # epicardial fat + gap to the back of the sternum / cartilage
    centre = np.array([rng.uniform(22, 34), sternum[1] + 7.0 + gap + extent_y, rng.uniform(-6, 6)])
    return {"centre": centre, "axes": axes, "radii": radii, "fat": rng.uniform(3, 7)}


def _surface(heart: dict, s: np.ndarray, phi: np.ndarray, offset: float) -> np.ndarray:
    """Points (n, 3) LPS on the heart surface pushed out by ``offset`` mm; s = 0 apex, pi base; phi = 0
    anterior, + towards the patient's left."""
    a, b, c = heart["radii"] + offset
    long_axis, anterior, left = heart["axes"].T
    s, phi = np.broadcast_arrays(np.atleast_1d(s), np.atleast_1d(phi))
    return (heart["centre"][None] + np.outer(a * np.cos(s), long_axis)
            + np.outer(b * np.sin(s) * np.cos(phi), anterior) + np.outer(c * np.sin(s) * np.sin(phi), left))


def _coronaries(rng: np.random.Generator, heart: dict) -> dict[int, np.ndarray]:
    """Centre lines (n, 3) LPS per artery value, running in the epicardial fat."""
    off = heart["fat"] * 0.5
    groove = np.pi * rng.uniform(0.68, 0.74)  # atrioventricular groove
    lad_phi = rng.uniform(0.1, 0.3)
    return {
        1: _surface(heart, np.linspace(np.pi * 0.84, groove, 12), np.linspace(-0.15, lad_phi, 12), off),
        2: _surface(heart, np.linspace(groove, np.pi * 0.1, 60),
                    lad_phi + 0.1 * np.sin(np.linspace(0, 3, 60)), off),
        3: _surface(heart, groove, np.linspace(lad_phi + 0.2, rng.uniform(1.9, 2.4), 50), off),
        4: _surface(heart, groove + 0.05, np.linspace(-0.5, -rng.uniform(2.3, 2.9), 60), off),
    }


def _paint_heart(rng: np.random.Generator, hu: np.ndarray, bone: np.ndarray, grid: tuple[np.ndarray, ...],
                 heart: dict, arteries: dict[int, np.ndarray]) -> None:
    centre, axes, radii = tuple(heart["centre"]), heart["axes"], heart["radii"]
    soft = ~bone
    hu[(ellipsoid_r2(grid, centre, tuple(radii + heart["fat"]), axes) < 1) & soft] = -90.0
    hu[(ellipsoid_r2(grid, centre, tuple(radii), axes) < 1) & soft] = 40.0
    z, y, x = grid
    root = arteries[1][0] - 14.0 * axes[:, 2]
    radius = rng.uniform(13, 16)
    ascending = ((x - np.float32(root[0])) ** 2 + (y - np.float32(root[1])) ** 2 < radius**2) & (
        z > np.float32(root[2] - 15))
    hu[ascending & soft] = 40.0
    for line in arteries.values():
        _paint_tube(hu, grid, line, rng.uniform(1.4, 2.0), 40.0, soft)


def _paint_tube(hu: np.ndarray, grid: tuple[np.ndarray, ...], line: np.ndarray, radius: float, value: float,
                allowed: np.ndarray) -> None:
    z, y, x = grid
    for point in line:
        box = _box(grid, point, radius + 1.0)
        r2 = ((x[..., box[2]] - point[0]) ** 2 + (y[:, box[1]] - point[1]) ** 2 + (z[box[0]] - point[2]) ** 2)
        hu[box][(r2 < radius**2) & allowed[box]] = value


def _box(grid: tuple[np.ndarray, ...], point: np.ndarray, reach: float) -> tuple[slice, slice, slice]:
    z, y, x = (axis.ravel() for axis in grid)
    return tuple(slice(int(np.searchsorted(axis, c - reach)), int(np.searchsorted(axis, c + reach)))
                 for axis, c in ((z, point[2]), (y, point[1]), (x, point[0])))


class NearestPoints:
    """Exact nearest-neighbour distances to a fixed point set (``query`` like scipy's cKDTree), by chunked brute
    force in numpy: the installed app runs these generators for its sample studies and ships no scipy.spatial
    (nor the scipy.linalg / scipy.sparse it imports)."""

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points, dtype=float).reshape(-1, 3)

    def query(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance to, and index of, the nearest point of each query point (a scalar pair for one point)."""
        single = np.ndim(queries) == 1
        wanted = np.atleast_2d(np.asarray(queries, dtype=float))
        distances, indices = np.full(len(wanted), np.inf), np.zeros(len(wanted), dtype=int)
        if len(self.points):
            squared_norms = np.einsum("ij,ij->i", self.points, self.points)
            step = max(1, (1 << 22) // max(len(self.points), 1))
            for start in range(0, len(wanted), step):
                block = wanted[start:start + step]
                squared = (np.einsum("ij,ij->i", block, block)[:, None] - 2.0 * block @ self.points.T
                           + squared_norms[None, :])
                nearest = np.argmin(squared, axis=1)
                indices[start:start + step] = nearest
                distances[start:start + step] = np.linalg.norm(block - self.points[nearest], axis=1)
        return (distances[0], indices[0]) if single else (distances, indices)


def _bone_points(bone: np.ndarray, geometry: Geometry) -> NearestPoints:
    index = np.argwhere(bone[:, ::2, ::2]) * np.array([1, 2, 2])
    return NearestPoints(geometry.voxel_to_patient(index.astype(float)))


def _plaque_designs(rng: np.random.Generator, arteries: dict[int, np.ndarray], bone: NearestPoints,
                    geometry: Geometry) -> list[tuple]:
    """(artery, centre_lps, radii, peak_hu) per plaque; the first LAD plaque (and sometimes the first RCA one)
    goes where its artery runs nearest to bone."""
    if rng.random() < 0.12:
        return []  # calcium score zero
    counts = {1: rng.integers(0, 2), 2: rng.integers(1, 5), 3: rng.integers(0, 4), 4: rng.integers(0, 4)}
    designs = []
    for artery, line in arteries.items():
        inside = _in_volume(line, geometry, margin=3)
        if not inside.any():
            continue
        candidates = line[inside]
        distance, _ = bone.query(candidates)
        for k in range(int(counts[artery])):
            radii = (rng.uniform(0.9, 3.9), rng.uniform(0.9, 3.9), rng.uniform(2.0, 5.0))
            clear = distance > max(radii) + 1.5
            for _, other, other_radii, _ in designs:  # plaques never touch: each keeps its own peak
                clear &= np.linalg.norm(candidates - other, axis=1) > max(radii) + max(other_radii) + 1.5
            if not clear.any():
                continue
            near = artery == 2 and k == 0 or artery == 4 and k == 0 and rng.random() < 0.5
            pick = np.argmin(np.where(clear, distance, np.inf)) if near else rng.choice(np.nonzero(clear)[0])
            centre = _snap(candidates[pick] + rng.uniform(-0.8, 0.8, size=3), geometry)
            peak = float(np.exp(rng.uniform(np.log(130.0), np.log(1000.0))))
            designs.append((artery, centre, radii, peak))
    return designs


def _in_volume(points: np.ndarray, geometry: Geometry, margin: int) -> np.ndarray:
    index = geometry.patient_to_voxel(points)
    upper = np.asarray(geometry.shape) - 1 - margin
    return np.all((index >= margin) & (index <= upper), axis=1)


def _snap(point: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The voxel centre nearest ``point`` (plaque peaks then fall exactly on a voxel)."""
    return geometry.voxel_to_patient(np.rint(geometry.patient_to_voxel(point)))


def _paint_calcium(hu: np.ndarray, labels: np.ndarray | None, grid: tuple[np.ndarray, ...],
                   geometry: Geometry, artery: int, centre: np.ndarray, radii: tuple, peak: float) -> None:
    box = _box(grid, centre, max(radii) + 1.0)
    sub = (grid[0][box[0]], grid[1][:, box[1]], grid[2][..., box[2]])
    r2 = ellipsoid_r2(sub, tuple(centre), radii)
    inside = r2 < 1
    value = np.float32(peak) * (1 - 0.45 * r2)
    region = hu[box]
    region[inside] = np.maximum(region[inside], value[inside])
    if labels is not None:
        labels[box][inside] = artery


def _paint_aortic_calcium(rng: np.random.Generator, hu: np.ndarray, grid: tuple[np.ndarray, ...],
                          geometry: Geometry, spine: tuple[float, float]) -> None:
    """Unlabelled calcifications in the descending aortic wall: distractors for a calcium scorer."""
    nz = geometry.shape[0]
    for _ in range(int(rng.integers(0, 4))):
        z = geometry.origin[2] + rng.uniform(0.2, 0.8) * (nz - 1) * SLICE_MM
        angle = rng.uniform(0, 2 * np.pi)
        centre = np.array([spine[0] + 21 + 11 * np.cos(angle), spine[1] - 25 + 11 * np.sin(angle), z])
        _paint_calcium(hu, None, grid, geometry, 0, _snap(centre, geometry),
                       (rng.uniform(1, 2.5), rng.uniform(1, 2.5), rng.uniform(2, 4)), rng.uniform(200, 700))


def _plaque_truth(hu: np.ndarray, labels: np.ndarray, geometry: Geometry, bone: NearestPoints, artery: int,
                  centre: np.ndarray, radii: tuple, peak: float) -> Plaque:
    grid = axial_grid(geometry)
    box = _box(grid, centre, max(radii) + 1.0)
    sub = (grid[0][box[0]], grid[1][:, box[1]], grid[2][..., box[2]])
    mine = (ellipsoid_r2(sub, tuple(centre), radii) < 1) & (labels[box] == artery)
    pixel_area = geometry.spacing[0] * geometry.spacing[1]
    distance = float(bone.query(centre)[0]) - max(radii[:2])
    return Plaque(
        artery=artery,
        artery_name=ARTERIES[artery],
        centre_voxel=tuple(int(v) for v in np.rint(geometry.patient_to_voxel(centre))),
        centre_lps=tuple(round(float(v), 3) for v in centre),
        radii_mm=tuple(round(float(r), 3) for r in radii),
        peak_hu=round(peak, 1),
        measured_peak_hu=int(hu[box][mine].max()) if mine.any() else 0,
        max_area_mm2=round(float(mine.sum(axis=(1, 2)).max(initial=0)) * pixel_area, 3),
        voxels=int(mine.sum()),
        distance_to_bone_mm=round(max(distance, 0.0), 2),
        near_bone=distance < _NEAR_BONE_MM,
    )
