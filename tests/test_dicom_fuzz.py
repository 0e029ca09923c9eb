"""The mutation fuzz in every test run: a few hundred seeded mutants of the public corpus (tests/dicom_fuzz.py)
must not crash, hang or abort the scanner or the loader, read outside the scanned folder, run out of memory or
give an error without a path. `make fuzz N=20000` runs a long campaign with the same code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dicom_fuzz import MEMORY_LIMIT_BYTES, campaign

MUTANTS = 800
SEED = 17


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mutation_fuzz_finds_no_crash_hang_abort_or_unnamed_error(tmp_path: Path) -> None:
    summary = campaign(MUTANTS, SEED, out=tmp_path / "reproducers", work=tmp_path / "work")
    print(summary.line())
    assert summary.mutants == MUTANTS
    assert summary.failures == [], "\n".join(
        f"{f['verdict']} {f['mutation']}: {f['failures'][0]}" for f in summary.failures
    )
    assert 0 < summary.peak_mb < MEMORY_LIMIT_BYTES / 2**20
    assert set(summary.verdicts) == {"ok"}
