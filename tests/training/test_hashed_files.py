"""Every data file a shipped plugin loads is hashed in its manifest's [[files]], and an altered one refuses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.ai.manifest import load_manifest
from engine.ai.registry import PluginRefused, discover
from training.ccella.plugin_files import DATA_FILES
from training.hashed_files import file_entries, hash_plugin, loaded_files

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
EXTRA = {"prostate_synthesis": DATA_FILES}
SHIPPED = ["brain_tumor_mri", "chest_xray_nodules", "coronary_calcium_ct", "prostate_synthesis"]


@pytest.mark.parametrize("plugin", SHIPPED)
def test_shipped_manifest_lists_every_loaded_file_with_its_current_hash(plugin: str) -> None:
    folder = PLUGINS / plugin
    manifest = load_manifest(folder / "manifest.toml")
    library = manifest.retrieval.library if manifest.retrieval is not None else None
    assert manifest.files == file_entries(folder, library, EXTRA.get(plugin, ()))
    listed = {entry.path for entry in manifest.files}
    if library:  # the library and every thumbnail it shows
        assert library in listed and sum(p.startswith("thumbs/") for p in listed) == len(listed) - 1
    assert set(EXTRA.get(plugin, ())) <= listed
    plugin_object = discover([PLUGINS], entry_points=False).get(plugin)
    assert all(status == "ok" for status, _ in plugin_object.hash_status().values())


def test_an_altered_library_refuses_a_copied_shipped_plugin_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "plugins" / "chest_xray_nodules"
    shutil.copytree(PLUGINS / "chest_xray_nodules", folder, ignore=shutil.ignore_patterns("__pycache__"))
    plugin = discover([folder.parent], entry_points=False).get("chest_xray_nodules")
    plugin.verify_models()  # the copy as shipped passes
    with (folder / "library.npz").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(PluginRefused) as caught:
        plugin.verify_models()
    assert f"file {folder / 'library.npz'} has SHA-256" in str(caught.value)
    assert plugin.hash_status()["library.npz"][0] == "mismatch"


def test_a_removed_thumbnail_refuses_the_plugin(tmp_path: Path) -> None:
    folder = tmp_path / "plugins" / "coronary_calcium_ct"
    shutil.copytree(PLUGINS / "coronary_calcium_ct", folder, ignore=shutil.ignore_patterns("__pycache__"))
    thumbnail = sorted((folder / "thumbs").iterdir())[0]
    thumbnail.unlink()
    plugin = discover([folder.parent], entry_points=False).get("coronary_calcium_ct")
    with pytest.raises(PluginRefused, match=f"file {thumbnail} is missing"):
        plugin.verify_models()


def test_rewriting_files_keeps_every_other_line_and_is_idempotent(tmp_path: Path) -> None:
    folder = tmp_path / "brain_tumor_mri"
    shutil.copytree(PLUGINS / "brain_tumor_mri", folder, ignore=shutil.ignore_patterns("__pycache__"))
    shipped = (folder / "manifest.toml").read_text()
    before_files = shipped[: shipped.index("\n[[files]]")]
    (folder / "thumbs" / "phantom-000000.png").write_bytes(b"new thumbnail")
    hash_plugin(folder)
    rewritten = (folder / "manifest.toml").read_text()
    assert rewritten.startswith(before_files) and rewritten != shipped
    manifest = load_manifest(folder / "manifest.toml")
    assert manifest.models == load_manifest(PLUGINS / "brain_tumor_mri" / "manifest.toml").models
    hash_plugin(folder)
    assert (folder / "manifest.toml").read_text() == rewritten


def test_a_loaded_file_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        loaded_files(tmp_path, None, ["tokenizer.json"])
