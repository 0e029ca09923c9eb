"""The first-run welcome screen: shown once after the first start, re-opened from Help, opens a sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

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
