"""The first-run welcome screen: shown once after the first start, re-opened from Help, opens a sample."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from app.settings.preferences import DictStore, Preferences  # noqa: E402
from app.widgets.welcome import SHOWN_KEY, WelcomeDialog, sample_studies, show_welcome, study_title  # noqa: E402
from engine.paths import data_dir  # noqa: E402


@pytest.fixture
def make_window(qtbot, tmp_path: Path):
    """Builds shown main windows sharing one preferences store (as two starts of the app would)."""
    from app.widgets.main_window import MainWindow
    from engine.catalog import Catalog

    store, made = DictStore(), []

    def make() -> MainWindow:
        catalog = Catalog(tmp_path / f"catalog{len(made)}.sqlite")
        window = MainWindow(Preferences(store), catalog)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        made.append((window, catalog))
        return window

    yield make
    for window, catalog in made:
        window.close()
        catalog.close()


def _samples(root: Path) -> Path:
    for name, series in (("chest_xray", ["DX_PA"]), ("brain_mri", ["T1", "FLAIR"])):
        for folder in series:
            (root / name / folder).mkdir(parents=True)
    (root / ".brain_mri.partial").mkdir()
    return root


def test_sample_studies_are_listed_with_their_series(tmp_path: Path) -> None:
    studies = sample_studies(_samples(tmp_path))
    assert [p.name for p in studies] == ["brain_mri", "chest_xray"]
    assert study_title(studies[0]) == "Brain MRI (FLAIR, T1)"
    assert sample_studies(tmp_path / "missing") == []


def test_shown_once_then_only_from_help(make_window, qtbot) -> None:
    first = make_window()
    qtbot.waitUntil(lambda: first.findChild(WelcomeDialog) is not None, timeout=5000)
    assert first.preferences.store.value(SHOWN_KEY)
    second = make_window()  # the next start: the flag is set, nothing pops up
    qtbot.wait(900)
    assert second.findChild(WelcomeDialog) is None
    help_action = second.findChild(type(second.actions_by_id["file.quit"]), "help.welcome")
    help_action.trigger()
    dialog = second.findChild(WelcomeDialog)
    assert dialog is not None and dialog.isVisible()


def test_welcome_shows_data_folder_notice_and_opens_a_sample(make_window, qtbot, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    samples = _samples(tmp_path / "samples")
    monkeypatch.setattr("app.widgets.welcome.sample_studies", lambda: sample_studies(samples))
    window = make_window()
    opened: list[Path] = []
    monkeypatch.setattr(window, "open_path", opened.append)
    dialog = show_welcome(window, window.preferences.store, window.open_path)
    assert str(data_dir()) in dialog.data_label.text()
    assert "Not for clinical use" in dialog.notice.text() and "phantoms" in dialog.notice.text()
    assert [p.name for p in dialog.study_buttons] == ["brain_mri", "chest_xray"]
    dialog.study_buttons[samples / "chest_xray"].click()
    assert opened == [samples / "chest_xray"]
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=2000)


# --- sample studies made on the first start (the installer ships none) ------------------------------------

# A child like the real generator (same module, same output lines) that writes two small prostate studies,
# so the GUI test runs in seconds; test_cancel_stops_the_real_generator runs the real one.
TINY_GENERATOR = """
import sys
from training.phantoms import make_prostate_mri, samples
from training.phantoms.export import write_prostate_mri_study

samples.SAMPLE_STUDIES = {
    name: (lambda folder, seed=seed: write_prostate_mri_study(make_prostate_mri(seed, shape=(4, 32, 32)), folder))
    for name, seed in (("prostate_a", 1), ("prostate_b", 2))
}
sys.exit(samples.main(sys.argv[1:]))
"""


def _tiny_command(out: Path, force: bool = False) -> list[str]:
    return [sys.executable, "-c", TINY_GENERATOR, "--out", str(out)] + (["--force"] if force else [])


def test_create_samples_button_writes_them_into_the_data_folder_and_the_catalog(
        make_window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import samples as samples_command

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(samples_command, "generator_command", _tiny_command)
    monkeypatch.setattr("app.widgets.welcome.sample_studies", lambda folder=None: sample_studies(
        folder or tmp_path / "home" / "samples"))
    window = make_window()
    assert window.catalog.studies() == []
    dialog = show_welcome(window, window.preferences.store, window.open_path, catalog=window.catalog,
                          refresh=window.refresh_catalog)
    assert dialog.study_buttons == {} and dialog.create_button.isVisible()
    seen: list[str] = []
    dialog.job.progress.connect(lambda _job, _done, _total, message: seen.append(message))
    qtbot.mouseClick(dialog.create_button, Qt.LeftButton)
    assert dialog.progress.isVisible() and dialog.cancel_button.isVisible()
    qtbot.waitUntil(lambda: len(dialog.study_buttons) == 2, timeout=120_000)
    written = tmp_path / "home" / "samples"
    assert sorted(p.name for p in dialog.study_buttons) == ["prostate_a", "prostate_b"]
    assert all(p.parent == written and (p / "T2_axial").is_dir() for p in dialog.study_buttons)
    assert any("writing prostate_b (2/2)" in m for m in seen)
    assert len(window.catalog.studies()) == 2  # catalogued: the study browser lists them
    assert not dialog.create_button.isVisible() and not dialog.progress.isVisible()
    assert "Created 2 sample studies" in dialog.status.text()
    assert not list(written.glob(".*"))  # no partial study left


def test_cancel_stops_the_real_generator(tmp_path: Path) -> None:
    from app.cli.samples import create_samples
    from engine.progress import Cancelled, CancelToken

    token, messages = CancelToken(), []

    def progress(done: int, total: int, message: str) -> None:
        messages.append(message)
        if message.startswith("writing brain_mri"):
            token.cancel()

    with pytest.raises(Cancelled):
        create_samples(tmp_path, progress, token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chest_xray"]  # finished study kept, no partial
    assert messages[1].startswith("writing chest_xray (1/4)")


def test_generator_command_of_the_installed_app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app.cli import samples as samples_command

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert samples_command.generator_command(tmp_path) == [sys.executable, "--write-samples", "--out",
                                                           str(tmp_path.resolve())]
    assert samples_command.default_out() == tmp_path / "home" / "samples"


def test_frozen_entry_point_runs_the_generator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    from training.phantoms import make_prostate_mri, samples
    from training.phantoms.export import write_prostate_mri_study

    spec = importlib.util.spec_from_file_location(
        "sightline_main", Path(__file__).resolve().parents[1] / "resources" / "packaging" / "sightline_main.py")
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    monkeypatch.setattr(samples, "SAMPLE_STUDIES", {"tiny": lambda folder: write_prostate_mri_study(
        make_prostate_mri(3, shape=(4, 32, 32)), folder)})
    assert entry.main(["--write-samples", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "tiny" / "T2_axial").is_dir()
