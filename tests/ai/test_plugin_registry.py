"""Plugin discovery (folders + entry points), SHA-256 refusal, lazy import, and input-role matching."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from engine.ai import registry as registry_module
from engine.ai.manifest import InputRole
from engine.ai.registry import PluginRefused, discover
from engine.ai.roles import SeriesCandidate, match_roles, role_score


def test_discovers_folder_plugins_without_importing_their_code(make_plugin) -> None:
    folder = make_plugin(
        "alpha",
        logic="import sys\nsys.modules['__alpha_logic_ran__'] = sys\ndef run(context):\n    return None\n",
    )
    registry = discover([folder.parent], entry_points=False)
    assert list(registry.plugins) == ["alpha"] and registry.problems == []
    plugin = registry.get("alpha")
    assert plugin.folder == folder and plugin.manifest.version == "1.2.3"
    assert "__alpha_logic_ran__" not in sys.modules
    entry = plugin.load_entry()
    assert "__alpha_logic_ran__" in sys.modules and callable(entry)
    sys.modules.pop("__alpha_logic_ran__")


def test_plugin_logic_may_import_its_own_helper_modules(make_plugin) -> None:
    folder = make_plugin(
        "beta", logic="from . import helpers\n\ndef run(context):\n    return helpers.VALUE\n"
    )
    (folder / "helpers.py").write_text("VALUE = 42\n")
    entry = discover([folder.parent], entry_points=False).get("beta").load_entry()
    assert entry(None) == 42


def test_model_hash_mismatch_refuses_the_plugin_naming_file_and_hashes(make_plugin) -> None:
    folder = make_plugin("gamma", sha256="0" * 64)
    plugin = discover([folder.parent], entry_points=False).get("gamma")
    with pytest.raises(PluginRefused) as caught:
        plugin.verify_models()
    message = str(caught.value)
    actual = plugin.hash_status()["scaler"][1]
    assert str(folder / "model.onnx") in message and "0" * 64 in message and actual in message
    assert plugin.hash_status()["scaler"][0] == "mismatch"


def test_a_model_changed_after_verification_is_checked_again(make_plugin) -> None:
    folder = make_plugin("delta")
    plugin = discover([folder.parent], entry_points=False).get("delta")
    plugin.verify_models()
    plugin.verify_models()  # cached: nothing changed
    (folder / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(PluginRefused, match="but the manifest expects"):
        plugin.verify_models()
    (folder / "model.onnx").unlink()
    with pytest.raises(PluginRefused, match="is missing"):
        plugin.verify_models()
    assert plugin.hash_status() == {"scaler": ("missing", "")}


def test_broken_manifests_and_duplicate_ids_are_reported_not_fatal(
    make_plugin, manifest_text, tmp_path
) -> None:
    make_plugin("good")
    broken = tmp_path / "plugins" / "broken"
    broken.mkdir()
    (broken / "manifest.toml").write_text(
        manifest_text("broken", "1" * 64).replace("clinical_use = false", "")
    )
    twin = tmp_path / "plugins" / "zz_twin"
    twin.mkdir()
    (twin / "manifest.toml").write_text(manifest_text("good", "1" * 64))
    (tmp_path / "plugins" / "not_a_plugin").mkdir()
    registry = discover([tmp_path / "plugins", tmp_path / "absent"], entry_points=False)
    assert list(registry.plugins) == ["good"]
    assert len(registry.problems) == 2
    assert "broken/manifest.toml: field 'clinical_use': is required" in registry.problems[0]
    assert "duplicate plugin id 'good'" in registry.problems[1]
    with pytest.raises(KeyError, match="known: good"):
        registry.get("nope")


def test_entry_point_plugins_are_found_through_their_package(
    make_model, manifest_text, tmp_path, monkeypatch
):
    package = tmp_path / "site" / "third_party_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _, sha = make_model(folder=package, spatial_dims=3)
    (package / "manifest.toml").write_text(manifest_text("third_party", sha))
    (package / "logic.py").write_text("def run(context):\n    return 'third party ran'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    entry = importlib.metadata.EntryPoint(
        name="tp", value="third_party_plugin:manifest.toml", group=registry_module.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(registry_module.importlib.metadata, "entry_points", lambda group: [entry])
    registry = discover([], entry_points=True)
    plugin = registry.get("third_party")
    assert plugin.package == "third_party_plugin" and plugin.folder == package
    plugin.verify_models()
    assert plugin.load_entry()(None) == "third party ran"


def test_missing_entry_function_is_a_clear_refusal(make_plugin) -> None:
    folder = make_plugin("epsilon", logic="def other(context):\n    return None\n")
    with pytest.raises(PluginRefused, match=r"logic\.py has no function run\(\)"):
        discover([folder.parent], entry_points=False).get("epsilon").load_entry()


MRI_ROLES = [
    InputRole(
        role="T1", modalities=["MR"], description_patterns=["(?i)t1"], exclude_patterns=["(?i)post|gd|\\+c"]
    ),
    InputRole(role="T1c", modalities=["MR"], description_patterns=["(?i)t1.*(post|gd|\\+c)"]),
    InputRole(role="T2", modalities=["MR"], description_patterns=["(?i)t2"], exclude_patterns=["(?i)flair"]),
    InputRole(
        role="FLAIR",
        modalities=["MR"],
        description_patterns=["(?i)flair"],
        sequence_tags={"ScanningSequence": "IR"},
    ),
]
STUDY = [
    SeriesCandidate("1", "AX T2 FLAIR", "MR", {"ScanningSequence": "SE\\IR"}),
    SeriesCandidate("2", "T1 AXIAL post GD", "MR"),
    SeriesCandidate("3", "Localizer", "MR"),
    SeriesCandidate("4", "t1_mprage", "MR"),
    SeriesCandidate("5", "T2 TSE", "MR"),
    SeriesCandidate("6", "T1 scout", "CT"),
]


def test_roles_are_matched_one_to_one_by_the_manifest_rules() -> None:
    match = match_roles(MRI_ROLES, STUDY)
    assert match.assignment == {"T1": "4", "T1c": "2", "T2": "5", "FLAIR": "1"}
    assert match.complete
    assert match.candidates["T1"] == ["4"]


def test_rules_score_and_exclude() -> None:
    flair = MRI_ROLES[3]
    assert role_score(flair, STUDY[0]) == 2  # description + sequence tag
    assert role_score(flair, SeriesCandidate("x", "FLAIR", "MR", {"ScanningSequence": "SE"})) is None
    assert role_score(MRI_ROLES[0], STUDY[1]) is None  # excluded: post contrast
    assert role_score(MRI_ROLES[0], STUDY[5]) is None  # wrong modality


def test_user_override_wins_and_missing_roles_are_listed() -> None:
    match = match_roles(MRI_ROLES, STUDY[1:], overrides={"T1": "3"})
    assert match.assignment["T1"] == "3" and match.assignment["T1c"] == "2"
    assert match.missing == ["FLAIR"] and not match.complete
    with pytest.raises(ValueError, match="not in the study"):
        match_roles(MRI_ROLES, STUDY, overrides={"T1": "99"})
    with pytest.raises(ValueError, match="unknown role"):
        match_roles(MRI_ROLES, STUDY, overrides={"DWI": "1"})


def test_one_series_never_fills_two_roles() -> None:
    roles = [InputRole(role="A", description_patterns=["x"]), InputRole(role="B", description_patterns=["x"])]
    match = match_roles(roles, [SeriesCandidate("1", "x")])
    assert len(match.assignment) == 1 and len(match.missing) == 1


def test_a_role_declares_2d_or_3d_and_ties_go_to_the_first_series() -> None:
    volume_role = InputRole("ct", ["CT"], dimensions="3d")
    scout, axial = SeriesCandidate("scout", "Topogram", "CT", dimensions="2d"), SeriesCandidate("ax", "", "CT",
                                                                                             dimensions="3d")
    assert role_score(volume_role, scout) is None and role_score(volume_role, axial) == 0
    assert match_roles([volume_role], [scout, axial]).assignment == {"ct": "ax"}
    unknown = SeriesCandidate("nifti", "", "CT")  # dimensions not known: not excluded
    assert role_score(volume_role, unknown) == 0
    first, second = SeriesCandidate("a", "", "CT", dimensions="3d"), SeriesCandidate("b", "", "CT", dimensions="3d")
    assert match_roles([volume_role], [first, second]).assignment == {"ct": "a"}
    assert match_roles([volume_role], [second, first]).assignment == {"ct": "b"}
