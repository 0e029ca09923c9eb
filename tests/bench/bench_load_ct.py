"""Benchmark: load a 512x512x400 uncompressed CT series, ours against SimpleITK, from a warm page cache.

Prints two lines (medians of the repetitions):

    BENCH load_ct_400 ours=<s> baseline=<s> ratio=<ours/baseline> measure=... peak_mb=... volume_mb=...
    BENCH scan_load_ct_400 ours=<s> baseline=<s> ratio=<ours/baseline> measure=... scan_s=... load_s=...

- load_ct_400: ``engine.dicom.loader.load_series`` of the scanned stack against SimpleITK's
  ``ImageSeriesReader.Execute`` with its file names already known (pixel loading alone; target ratio 0.7);
  ``peak_mb``: peak RSS of a fresh interpreter that scans and loads once; ``interp_mb``: the same
  interpreter after the imports only; ``volume_mb``: the int16 volume; target peak <= 1.2 x volume + interp;
- scan_load_ct_400: ``engine.dicom.scanner.scan`` + ``load_series`` against SimpleITK's
  ``GetGDCMSeriesFileNames`` + ``Execute`` (from a folder to a volume).

The series (CT Image Storage, explicit VR little endian, uint16 with BitsStored 12, slope 1, intercept
-1024, realistic geometry/identification headers) is generated once under ``.bench/`` (gitignored).
Both readers run in this process, alternating, after every file was read once to warm the page cache.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SLICES, ROWS, COLUMNS = 400, 512, 512
FORMAT_VERSION = "1"  # bump when the generated files change


def write_ct_series(folder: Path, slices: int = SLICES, rows: int = ROWS, columns: int = COLUMNS) -> None:
    """A synthetic axial CT series: a water-like disc with noise, one file per slice."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:rows, :columns]
    body = ((yy - rows / 2) ** 2 + (xx - columns / 2) ** 2) < (0.45 * rows) ** 2
    for index in range(slices):
        pixels = np.where(body, 1024 + 40, 24).astype(np.uint16)
        pixels += rng.integers(0, 30, (rows, columns), dtype=np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240101", "101500", "A1"
        ds.Modality, ds.Manufacturer, ds.InstitutionName = "CT", "Sightline", "Bench Hospital"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = (
            "Bench^CT",
            "BENCH",
            "19700101",
            "O",
        )
        ds.StudyDescription, ds.SeriesDescription = "CT CHEST", "bench 1.0 mm"
        ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = 2, index + 1, 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.KVP, ds.XRayTubeCurrent, ds.ConvolutionKernel = "120", 200, "STANDARD"
        ds.SliceThickness, ds.SpacingBetweenSlices = "1.0", "1.0"
        ds.PatientPosition = "HFS"
        ds.ImagePositionPatient = [-250.0, -250.0, -100.0 - index * 1.0]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = -100.0 - index * 1.0
        ds.PixelSpacing = [0.9765625, 0.9765625]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
        ds.WindowCenter, ds.WindowWidth = ["40", "-600"], ["400", "1500"]
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"IM{index:04d}.dcm", enforce_file_format=True)
    (folder / "VERSION").write_text(FORMAT_VERSION)


def ensure_series(folder: Path) -> list[Path]:
    marker = folder / "VERSION"
    if not marker.exists() or marker.read_text() != FORMAT_VERSION:
        write_ct_series(folder)
    return sorted(folder.glob("IM*.dcm"))


def warm(files: list[Path]) -> None:
    for file in files:
        file.read_bytes()


def ours(folder: Path) -> tuple[float, float, np.ndarray]:
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    start = time.perf_counter()
    result = scan(folder)
    scanned = time.perf_counter()
    volume = load_series(result.series[0])
    return scanned - start, time.perf_counter() - scanned, volume.array


def simpleitk(folder: Path) -> tuple[float, float, np.ndarray]:
    """SimpleITK's own series reading: file names (GDCM sorts them) then the reader; returns a copy."""
    import SimpleITK as sitk

    start = time.perf_counter()
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(folder))
    listed = time.perf_counter()
    reader.SetFileNames(names)
    image = reader.Execute()
    read = time.perf_counter() - listed
    return listed - start, read, sitk.GetArrayFromImage(image)


def child(mode: str, folder: Path) -> None:
    """Run in a fresh interpreter: print the peak RSS in MiB after the imports (or after one load)."""
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    if mode == "load":
        volume = load_series(scan(folder).series[0])
        assert volume.array.shape == (SLICES, ROWS, COLUMNS)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # ru_maxrss is KiB on Linux


def peak_mb(mode: str, folder: Path) -> float:
    command = [sys.executable, __file__, "--child", mode, "--folder", str(folder)]
    return float(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=REPO / ".bench" / "ct400")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", choices=("imports", "load"))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder)
        return
    files = ensure_series(args.folder)
    warm(files)
    # Peak RSS first, while this process is still small: Linux carries the parent's high-water mark
    # into a child's ru_maxrss across fork/exec.
    peak, interp = peak_mb("load", args.folder), peak_mb("imports", args.folder)
    reference = simpleitk(args.folder)[2]  # also warms SimpleITK's first-call costs
    mine = ours(args.folder)[2]
    if not np.array_equal(mine, reference):
        raise SystemExit("ours and SimpleITK disagree on the pixel values")
    del mine, reference
    runs: dict[str, list[float]] = {"scan": [], "load": [], "names": [], "read": []}
    for _ in range(args.repeats):
        names, read, _ = simpleitk(args.folder)
        scan_s, load_s, _ = ours(args.folder)
        for key, value in (("names", names), ("read", read), ("scan", scan_s), ("load", load_s)):
            runs[key].append(value)
    median = {key: statistics.median(values) for key, values in runs.items()}
    total_ours = statistics.median(s + lo for s, lo in zip(runs["scan"], runs["load"], strict=True))
    total_sitk = statistics.median(n + r for n, r in zip(runs["names"], runs["read"], strict=True))
    volume_mb = SLICES * ROWS * COLUMNS * 2 / 2**20
    print(
        f"BENCH load_ct_400 ours={median['load']:.4f} baseline={median['read']:.4f}"
        f" ratio={median['load'] / median['read']:.3f} measure=load_series_vs_sitk_ImageSeriesReader.Execute"
        f" repeats={args.repeats} peak_mb={peak:.0f} volume_mb={volume_mb:.0f} interp_mb={interp:.0f}"
        f" peak_target_mb={1.2 * volume_mb + interp:.0f}"
    )
    print(
        f"BENCH scan_load_ct_400 ours={total_ours:.4f} baseline={total_sitk:.4f}"
        f" ratio={total_ours / total_sitk:.3f}"
        f" measure=scan+load_series_vs_sitk_GetGDCMSeriesFileNames+Execute scan_s={median['scan']:.4f}"
        f" load_s={median['load']:.4f} sitk_names_s={median['names']:.4f} sitk_read_s={median['read']:.4f}"
        f" repeats={args.repeats}"
    )


if __name__ == "__main__":
    main()
