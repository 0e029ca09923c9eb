"""Real public DICOM from the package registries: the only real images this project can have.

pydicom's own test files, ``pydicom-data`` (package ``data_store``: real CR chest and extremity radiographs,
CT, MR, US) and ``deid-data`` (CT, US, a veterinary chest radiograph). They are the out-of-domain sets of the
model cards' domain-check evaluation and of the AI-limits tests: no phantom resembles them.

Every image is read through the product's own scanner and loader; objects that are not images, or that the
loader refuses, are left out (the robustness of that path is tested elsewhere).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.volume import Volume

PACKAGES = ("pydicom", "data_store", "deid_data")


@dataclass(frozen=True)
class PublicImage:
    """One loaded public series: where it came from, its modality and body part, and the Volume."""

    path: Path
    modality: str
    body_part: str
    volume: Volume

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def corpus_files() -> list[Path]:
    """Every file of the three packages' data folders, sorted (a stable order for reports)."""
    files: list[Path] = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError(f"{package} is not installed (make installs it with the dev extra)")
        root = Path(next(iter(spec.submodule_search_locations)))
        data = root / ("data/test_files" if package == "pydicom" else "data")
        files += [path for path in data.rglob("*") if path.is_file() and not path.name.endswith((".py", ".pyc"))]
    return sorted(files)


def public_images(modalities: set[str] | None = None) -> Iterator[PublicImage]:
    """Each loadable image series of the corpus (optionally only these modalities), one per file."""
    from engine.dicom.loader import load_series
    from engine.dicom.scanner import scan

    for path in corpus_files():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                report = scan(path)
            except Exception:  # noqa: BLE001 - not DICOM, or not readable: not part of this corpus
                continue
            for series in report.series:
                if modalities is not None and series.modality.upper() not in modalities:
                    continue
                try:
                    volume = load_series(series)
                except Exception:  # noqa: BLE001 - refused by the loader (its own tests cover why)
                    continue
                body_part = str(volume.meta.get("BodyPartExamined") or "")
                yield PublicImage(path, series.modality, body_part, volume)
