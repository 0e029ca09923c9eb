"""Exact cosine retrieval and the reference-library format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ai.library import LibraryError, load_library, save_library
from engine.ai.retrieval import ExactCosineIndex


def _brute_force(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    sims = (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    return np.argsort(-sims)[:k]


def test_exact_index_matches_brute_force_search() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(500, 16))
    queries = rng.normal(size=(7, 16))
    rows, sims = ExactCosineIndex(matrix).search(queries, 5)
    assert rows.shape == sims.shape == (7, 5)
    for query, found, similarities in zip(queries, rows, sims, strict=True):
        np.testing.assert_array_equal(found, _brute_force(matrix, query, 5))
        assert np.all(np.diff(similarities) <= 0)
        expected = matrix[found] @ query / (np.linalg.norm(matrix[found], axis=1) * np.linalg.norm(query))
        np.testing.assert_allclose(similarities, expected, rtol=1e-5)


def test_a_vector_finds_itself_first_and_k_is_capped() -> None:
    matrix = np.eye(3, dtype=np.float32) + 0.1
    rows, sims = ExactCosineIndex(matrix).search(matrix[1] * 7.0, 10)
    assert rows.shape == (1, 3) and rows[0, 0] == 1 and sims[0, 0] == pytest.approx(1.0)


def test_index_rejects_bad_vectors() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        ExactCosineIndex(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="dimension"):
        ExactCosineIndex(np.ones((2, 3))).search(np.ones(4), 1)


def _library(tmp_path: Path, **overrides) -> Path:
    (tmp_path / "thumbs").mkdir(exist_ok=True)
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / "thumbs" / name).write_bytes(b"png")
    arguments = dict(
        embeddings=np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32),
        case_ids=["case-a", "case-b", "case-c"],
        labels=["nodule", "normal", "nodule"],
        thumbnails=["thumbs/a.png", "thumbs/b.png", "thumbs/c.png"],
    )
    arguments.update(overrides)
    return save_library(tmp_path / "library.npz", **arguments)


def test_library_round_trip_and_similar_cases(tmp_path: Path) -> None:
    library = load_library(_library(tmp_path))
    assert len(library) == 3 and library.case_ids[2] == "case-c"
    cases = library.similar(np.array([1.0, 0.1]), k=2)
    assert [case.case_id for case in cases] == ["case-a", "case-c"]
    centre = np.array([2 / 3, 2 / 3])  # the library's mean embedding
    query, case_a = np.array([1.0, 0.1]) - centre, np.array([1.0, 0.0]) - centre
    expected = query @ case_a / (np.linalg.norm(query) * np.linalg.norm(case_a))
    assert cases[0].label == "nodule" and cases[0].similarity == pytest.approx(expected, abs=1e-6)
    assert cases[0].thumbnail == str(tmp_path / "thumbs" / "a.png")


def test_similarity_is_centred_so_a_shared_component_does_not_make_every_case_look_alike(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    specific = rng.normal(size=(20, 8)).astype(np.float32)
    embeddings = 50.0 + specific  # a large component every case shares, as pooled ReLU features have
    names = [f"case-{i}" for i in range(20)]
    library = load_library(save_library(tmp_path / "library.npz", embeddings=embeddings, case_ids=names,
                                        labels=names, thumbnails=[f"{n}.png" for n in names]),
                           check_thumbnails=False)
    cases = library.similar(embeddings[3] + 0.01, k=20)
    raw = embeddings @ embeddings[3] / np.linalg.norm(embeddings, axis=1) / np.linalg.norm(embeddings[3])
    assert raw.min() > 0.99  # uncentred, every case would read "1.00"
    assert cases[0].case_id == "case-3" and cases[0].similarity > 0.99
    assert cases[-1].similarity < 0.0  # centred, unlike cases are told apart


def test_library_accepts_another_index_backend(tmp_path: Path) -> None:
    built = []

    class RecordingIndex(ExactCosineIndex):
        def __init__(self, embeddings: np.ndarray) -> None:
            built.append(len(embeddings))
            super().__init__(embeddings)

    library = load_library(_library(tmp_path), index_factory=RecordingIndex)
    assert built == []
    library.similar(np.array([0.0, 1.0]), 1)
    library.similar(np.array([1.0, 0.0]), 1)
    assert built == [3]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"case_ids": ["x", "x", "y"]}, "not unique"),
        ({"thumbnails": ["/etc/a.png", "b", "c"]}, "relative"),
        ({"thumbnails": ["../a.png", "b", "c"]}, "relative"),
        ({"labels": ["a", "b"]}, "labels must be 3 strings"),
        ({"embeddings": np.array([[1, 0], [0, 0], [1, 1]], dtype=np.float32)}, "non-zero"),
        (
            {
                "embeddings": np.zeros((0, 2), dtype=np.float32),
                "case_ids": [],
                "labels": [],
                "thumbnails": [],
            },
            "non-empty",
        ),
    ],
)
def test_invalid_libraries_are_refused_with_the_reason(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(LibraryError, match=message):
        _library(tmp_path, **overrides)


def test_load_checks_the_files_and_the_thumbnails(tmp_path: Path) -> None:
    path = _library(tmp_path)
    (tmp_path / "thumbs" / "b.png").unlink()
    with pytest.raises(LibraryError, match="thumbs/b.png of case case-b does not exist"):
        load_library(path)
    assert len(load_library(path, check_thumbnails=False)) == 3
    np.savez(tmp_path / "partial.npz", embeddings=np.ones((1, 2), dtype=np.float32))
    with pytest.raises(LibraryError, match="missing arrays case_ids"):
        load_library(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LibraryError, match="not a readable library"):
        load_library(tmp_path / "junk.npz")
