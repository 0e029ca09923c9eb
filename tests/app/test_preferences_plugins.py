"""Preferences ▸ Plugins: every plugin with source, hash, signature and domain status; the model card as
Markdown; trusting a public key turns 'bad signature' (unknown key) into 'signed by <name>'."""

from __future__ import annotations

import shutil

import pytest

from engine.ai.plugin_status import NO_DOMAIN, plugin_statuses
from engine.ai.signing import generate_key, list_trusted_keys, sign_manifest
from engine.paths import system_plugins_dir, user_plugins_dir
from tests.ai.declared_plugin import make_plugin
from tests.app.conftest import save_artifact


@pytest.fixture
def plugin_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SIGHTLINE_MACHINE_DIR", str(tmp_path / "machine"))
    generate_key(tmp_path / "site.key", tmp_path / "site.pub")
    signed = make_plugin(user_plugins_dir() / "declared")
    sign_manifest(signed, tmp_path / "site.key")
    make_plugin(system_plugins_dir() / "declared_unsigned", plugin_id="declared_unsigned")
    altered = make_plugin(user_plugins_dir() / "declared_altered", plugin_id="declared_altered")
    (altered / "MODEL_CARD.md").write_text("edited after hashing\n")
    forged = make_plugin(user_plugins_dir() / "declared_forged", plugin_id="declared_forged")
    shutil.copyfile(signed / "manifest.toml.sig", forged / "manifest.toml.sig")
    return tmp_path


def test_statuses_name_source_hashes_signature_and_domain(plugin_folders) -> None:
    rows = {status.plugin_id: status for status in plugin_statuses()}
    assert {"brain_tumor_mri", "chest_xray_nodules", "declared", "declared_altered"} <= set(rows)
    shipped = rows["chest_xray_nodules"]
    assert (shipped.source, shipped.hash_status, shipped.signature) == ("shipped", "ok", "unsigned")
    assert shipped.domain.startswith("validated domain data (domain.npz") and shipped.model_card is not None
    assert rows["declared"].source == "user" and rows["declared_unsigned"].source == "machine"
    assert rows["declared"].signature == "bad signature" and "not a trusted key" in rows["declared"].signature_detail
    assert rows["declared_unsigned"].signature == "unsigned" and rows["declared"].domain == NO_DOMAIN
    assert rows["declared_altered"].hash_status == "mismatch: MODEL_CARD.md"
    assert rows["declared_forged"].signature == "bad signature"


def test_plugins_page_clicked_through(plugin_folders, window, qtbot, monkeypatch) -> None:
    from PySide6.QtCore import Qt

    from app.widgets import plugins_page
    from app.widgets.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog(window.preferences, window)
    qtbot.addWidget(dialog)
    dialog.resize(1400, 760)
    dialog.show()
    dialog.tabs.setCurrentWidget(dialog.plugins)
    page = dialog.plugins
    table = page.table
    ids = [table.item(row, 0).text() for row in range(table.rowCount())]
    cells = {table.item(row, 0).text(): [table.item(row, c).text() for c in range(table.columnCount())]
             for row in range(table.rowCount())}
    assert cells["declared_altered"][4] == "mismatch: MODEL_CARD.md"
    assert cells["declared"][5] == "bad signature" and cells["brain_tumor_mri"][4] == "ok"
    assert list_trusted_keys() == [] and page.keys.count() == 0

    # Add the site's public key through the button (the file dialog answers with site.pub)
    monkeypatch.setattr(plugins_page.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(plugin_folders / "site.pub"), "")))
    qtbot.mouseClick(page.add_key_button, Qt.LeftButton)
    assert page.keys.count() == 1 and page.keys.item(0).text().startswith("site  (")
    row = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert table.item(row["declared"], 5).text() == "signed by site"
    assert table.item(row["declared_forged"], 5).text() == "bad signature"  # the signature is not of its manifest

    # the altered plugin's row names the file in the detail line
    table.selectRow(row["declared_altered"])
    assert "File mismatch: MODEL_CARD.md" in page.detail.text()
    table.selectRow(row["brain_tumor_mri"])
    save_artifact(dialog, "preferences_plugins.png")

    # the model card, rendered as Markdown, read-only
    qtbot.mouseClick(page.card_button, Qt.LeftButton)
    card = page.last_card
    assert card is not None and card.view.isReadOnly()
    qtbot.waitExposed(card)
    text = card.view.toPlainText()
    assert "phantom" in text.lower() and "#" not in text.splitlines()[0]  # a heading, not raw Markdown
    save_artifact(card, "preferences_plugins_model_card.png")
    card.close()
    assert ids == sorted(ids)


def test_trusting_a_key_keeps_its_name_once_and_refuses_a_clash(tmp_path, monkeypatch) -> None:
    from engine.ai.signing import SignatureError, trust_key

    monkeypatch.setenv("SIGHTLINE_HOME", str(tmp_path / "home"))
    generate_key(tmp_path / "a.key", tmp_path / "site.pub")
    (tmp_path / "other").mkdir()
    generate_key(tmp_path / "b.key", tmp_path / "other" / "site.pub")
    first = trust_key(tmp_path / "site.pub")
    assert first.name == "site" and first.scope == "user" and trust_key(tmp_path / "site.pub") == first
    with pytest.raises(SignatureError, match="already called 'site'"):
        trust_key(tmp_path / "other" / "site.pub")
    (tmp_path / "junk.pub").write_text("not a key\n")
    with pytest.raises(SignatureError, match="junk.pub"):
        trust_key(tmp_path / "junk.pub")
    assert [key.name for key in list_trusted_keys()] == ["site"]
