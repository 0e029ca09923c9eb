"""Manifest schema: a valid manifest parses; every kind of mistake names the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import engine.ai.manifest as manifest_module
from engine.ai.manifest import ManifestError, load_manifest, parse_manifest

SHA = "ab" * 32
VALID = f"""
schema_version = 1
id = "brain_tumour"
name = "Brain tumour segmentation"
version = "0.1.0"
kind = "segmentation"
modalities = ["MR"]
entry_point = "logic:run"
intended_use = "Research only."
training_data = "Phantoms."
clinical_use = false

[[inputs]]
role = "T1c"
modalities = ["MR"]
description_patterns = ["(?i)t1.*(post|gd)"]
sequence_tags = {{ ScanningSequence = "GR|SE" }}

[[inputs]]
role = "FLAIR"
description_patterns = ["(?i)flair"]
required = false

[[models]]
name = "segmenter"
path = "models/seg.onnx"
sha256 = "{SHA}"

[preprocessing]
target_spacing = [1.0, 1.0, 1.0]
normalise = "zscore"

[[labels]]
value = 1
name = "necrosis"
color = [255, 0, 0]
code = {{ scheme = "SCT", value = "6574001", meaning = "Necrosis" }}

[calibration]
temperature = 1.7

[explainability]
method = "gradcam"
parameters = {{ layer = "enc4" }}

[retrieval]
library = "library.npz"
"""


def test_valid_manifest_parses_into_typed_fields(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text(VALID)
    manifest = load_manifest(path)
    assert (manifest.id, manifest.kind, manifest.clinical_use) == ("brain_tumour", "segmentation", False)
    assert [role.role for role in manifest.inputs] == ["T1c", "FLAIR"]
    assert manifest.inputs[1].required is False
    assert manifest.model("segmenter").sha256 == SHA
    assert manifest.preprocessing == {"target_spacing": [1.0, 1.0, 1.0], "normalise": "zscore"}
    assert manifest.calibration.temperature == 1.7 and manifest.calibration.high == 0.90
    assert manifest.explainability.parameters == {"layer": "enc4"}
    assert manifest.retrieval is not None and manifest.retrieval.top_k == 5
    (label,) = manifest.label_table()
    assert label.color == (255, 0, 0) and label.concept is not None and label.concept.value == "6574001"


def test_the_documented_example_is_a_valid_manifest() -> None:
    doc = manifest_module.__doc__
    example = doc.split("Example (every field; optional ones say so)::", 1)[1]
    lines = [line[4:] for line in example.splitlines()[1:] if line.startswith("    ") or not line.strip()]
    text = "\n".join(lines).replace("<64 hex digits>", SHA)
    assert parse_manifest(text, "example").id == "brain_tumour"


def _broken(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (_broken("clinical_use = false\n", ""), "clinical_use", "is required"),
        (_broken("clinical_use = false", "clinical_use = true"), "clinical_use", "must be false"),
        (_broken('kind = "segmentation"', 'kind = "triage"'), "kind", "must be one of"),
        (_broken(f'sha256 = "{SHA}"', 'sha256 = "1234"'), "models[0].sha256", "64 lower-case hex"),
        (_broken('path = "models/seg.onnx"', 'path = "../seg.onnx"'), "models[0].path", "relative path"),
        (_broken('name = "Brain tumour segmentation"', 'nmae = "x"'), "nmae", "unknown field"),
        (_broken('"(?i)flair"', '"(flair"'), "inputs[1].description_patterns[0]", "regular expression"),
        (_broken("ScanningSequence", "ScanSequence"), "inputs[0].sequence_tags.ScanSequence", "DICOM"),
        (_broken("temperature = 1.7", "temperature = -1"), "calibration.temperature", "positive"),
        (_broken("temperature = 1.7", "high = 0.5"), "calibration.high", "medium < high"),
        (_broken("color = [255, 0, 0]", "color = [255, 0]"), "labels[0].color", "3 items"),
        (_broken("color = [255, 0, 0]", "color = [256, 0, 0]"), "labels[0].color", "0..255"),
        (_broken('version = "0.1.0"', 'version = "one"'), "version", "1.2.3"),
        (_broken('entry_point = "logic:run"', 'entry_point = "logic"'), "entry_point", "module:function"),
        (_broken('modalities = ["MR"]\nentry', 'modalities = "MR"\nentry'), "modalities", "an array"),
        (_broken('role = "FLAIR"', 'role = "T1c"'), "inputs[1].role", "duplicate"),
        (_broken("schema_version = 1", "schema_version = 2"), "schema_version", "unsupported"),
    ],
)
def test_errors_name_the_file_and_the_field(text: str, field: str, reason: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text, "plugins/x/manifest.toml")
    message = str(caught.value)
    assert message.startswith("plugins/x/manifest.toml: ")
    assert f"'{field}'" in message and reason in message
    assert caught.value.field == field


def test_unreadable_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.toml"
    path.write_text("id = [unclosed\n")
    with pytest.raises(ManifestError, match=re.escape(str(path)) + ": not valid TOML"):
        load_manifest(path)


SHIPPED = ("brain_tumor_mri", "chest_xray_nodules", "coronary_calcium_ct", "prostate_synthesis")
HOST = """
[host]
report = "report:write_pdf"
result_widget = "widget:ChartView"
result_title = "Chart"
dock = "widget:Panel"
dock_title = "Panel"
commands = ["cli:register", "more_cli:register"]
self_check = "check:run"

[suitability]
body_parts = ["BRAIN"]
pixel_spacing_mm = [0.3, 3.0]
min_age_years = 18

[plausibility]
measurements = { "whole tumour volume" = [0.0, 400.0] }
"""


@pytest.mark.parametrize("plugin", SHIPPED)
def test_to_toml_round_trips_each_shipped_manifest(plugin: str) -> None:
    shipped = load_manifest(Path(__file__).resolve().parents[2] / "plugins" / plugin / "manifest.toml")
    text = shipped.to_toml("Generated by a test.")
    assert text.startswith("# Generated by a test.\n")
    assert parse_manifest(text, "round trip") == shipped


def test_to_toml_round_trips_every_table() -> None:
    manifest = parse_manifest(VALID + HOST, "valid")
    assert manifest.host.commands == ["cli:register", "more_cli:register"]
    text = manifest.to_toml()
    assert parse_manifest(text, "round trip") == manifest
    assert 'sequence_tags = { ScanningSequence = "GR|SE" }' in text
    assert '"whole tumour volume" = [0.0, 400.0]' in text


def test_to_toml_writes_regular_expressions_as_literal_strings() -> None:
    manifest = parse_manifest(VALID.replace('"(?i)flair"', "'(?i)fl\\+air'"), "valid")
    text = manifest.to_toml()
    assert "description_patterns = ['(?i)fl\\+air']" in text
    assert parse_manifest(text, "round trip") == manifest


@pytest.mark.parametrize(
    ("table", "field"),
    [('[host]\nreport = "report.write_pdf"\n', "host.report"),
     ('[host]\ncommands = ["cli"]\n', "host.commands[0]"),
     ('[host]\ndock = "widget:Panel"\n', "host.dock_title"),
     ('[host]\nwidget = "widget:Panel"\n', "host.widget")],
)
def test_host_table_mistakes_name_the_field(table: str, field: str) -> None:
    with pytest.raises(ManifestError) as error:
        parse_manifest(VALID + table, "plugins/x/manifest.toml")
    assert error.value.field == field and "plugins/x/manifest.toml" in str(error.value)
