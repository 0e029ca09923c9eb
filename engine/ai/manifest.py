r"""Plugin manifests (``manifest.toml``): the schema as dataclasses, plus loading with clear errors.

Example (every field; optional ones say so)::

    schema_version = 1
    id = "brain_tumour"                       # lower-case letters, digits, '_' or '-'
    name = "Brain tumour segmentation"
    version = "0.1.0"
    kind = "segmentation"                     # detection | segmentation | calcium | synthesis
    modalities = ["MR"]
    entry_point = "logic:run"                 # module (inside the plugin folder/package) : function;
                                              #   omitted when a [pipeline] table declares the inference
    intended_use = "Research: outline glioma sub-regions on four-sequence brain MRI."
    training_data = "Synthetic phantoms (training/phantoms), not patient data."
    clinical_use = false                      # required, and must be false

    [[inputs]]                                # one table per input series role
    role = "T1c"
    modalities = ["MR"]                       # optional; empty = any
    description_patterns = ["(?i)t1.*(post|gd|\\+c)"]   # optional; any may match
    exclude_patterns = []                     # optional; none may match
    sequence_tags = { ScanningSequence = "GR|SE" }      # optional; DICOM keyword -> regex, all must match
    dimensions = "3d"                         # optional: "2d" (projection), "3d" (volume) or "any" (default)
    required = true                           # optional, default true

    [[models]]
    name = "segmenter"
    path = "model.onnx"                       # relative to the plugin folder
    sha256 = "<64 hex digits>"

    [preprocessing]                           # optional, free-form; handed to the plugin as a dict
    target_spacing = [1.0, 1.0, 1.0]

    [[labels]]                                # optional; output label table
    value = 1
    name = "necrosis"
    color = [255, 0, 0]
    code = { scheme = "SCT", value = "6574001", meaning = "Necrosis" }

    [calibration]                             # optional; defaults shown
    temperature = 1.0
    high = 0.90
    medium = 0.70

    [explainability]                          # optional
    method = "gradcam"                        # none | gradcam | occlusion
    parameters = { layer = "features" }       # optional, free-form

    [retrieval]                               # optional
    library = "library.npz"                   # relative to the plugin folder
    top_k = 5

    [suitability]                             # optional; what the plugin accepts (engine.ai.suitability)
    body_parts = ["BRAIN", "HEAD"]            # BodyPartExamined / AnatomicRegionSequence; others refused
    region_name = "brain MRI"                 # how a refusal names the expected study
    views = []                                # accepted ViewPosition values; others refused
    warn_views = []                           # accepted with a warning on every output
    pixel_spacing_mm = [0.3, 3.0]             # plausible in-plane spacing; outside refused
    spacing = "required"                      # or "sizes_withheld": unknown spacing runs without sizes
    slice_thickness_mm = [0.5, 6.0]           # outside refused
    contrast = "any"                          # or "none": a ContrastBolusAgent refuses
    min_age_years = 18                        # PatientAge below refuses
    refused_image_types = ["LOCALIZER"]

    [plausibility]                            # optional; physical bounds (engine.ai.plausibility)
    finding_size_mm = [3.0, 30.0]             # findings outside are dropped, with the reason
    max_findings = 10                         # more flags the result: every finding needs review
    measurements = { "whole tumour volume" = [0.0, 400.0] }  # outside flags the result

    [domain]                                  # optional; without it every finding needs review
    reference = "domain.npz"                  # training-set features (engine.ai.domain)
    sha256 = "<64 hex digits>"
    threshold = 0.12                          # set on validation at 95% in-distribution retention
    k = 5
    features = "embedding"
    retention = 0.95

    [host]                                    # optional; what the host app takes from the plugin. Each entry
                                              # names "module:attribute" inside the plugin package, imported
                                              # only when the host first needs it (models are not checked for it)
    report = "report:write_pdf"               # PDF writer (result, volume, path, title) -> Path
                                              # (default: the host's key-image page)
    result_widget = "widget:ChartView"        # Qt widget (only app imports it) the AI panel shows under the
                                              # measurements: Class(parent), show_result(result) -> bool
                                              # (False: nothing to show, the box hides), clear()
    result_title = "Coronary calcium"         # the caption above it
    dock = "widget:Panel"                     # Qt widget of a dock of its own in the main window:
                                              # Class(plugin, open_path, parent), close_job() on window close
    dock_title = "Synthesis"                  # the dock's title
    commands = ["cli:register"]               # functions register(subparsers) adding `sightline` subcommands
                                              # (heavy imports inside the handlers, as app/cli does)
    self_check = "check:run"                  # `sightline --smoke-test` step check(plugin, out, steps) -> str
                                              # (default: analyse the first sample study that fits the inputs)

    [pipeline]                                # optional; a declarative plugin (engine.ai.pipeline.schema)

    [[files]]                                 # optional; every other file the plugin loads, hashed
    name = "example input"
    path = "example/ct.nii.gz"
    sha256 = "<64 hex digits>"

    [example]                                 # optional; run by `sightline plugins add` (engine.ai.install)
    inputs = { CT = "example/ct.nii.gz" }
    expected_labels = "example/expected_labels.nii.gz"

``Manifest.to_toml()`` writes a manifest back as TOML that ``parse_manifest`` reads to an equal Manifest (the
training pipelines write the shipped manifests with it).
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.ai.calibration import Calibration
from engine.ai.domain import Domain
from engine.ai.pipeline.schema import check_pipeline
from engine.ai.plausibility import Plausibility
from engine.ai.schema_check import FieldError, SchemaError, build, check_relative
from engine.ai.suitability import Suitability
from engine.volume import CodedConcept, Label

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.toml"
Kind = Literal["detection", "segmentation", "calcium", "synthesis"]
ANALYSIS_KINDS: tuple[str, ...] = ("detection", "segmentation", "calcium")  # run_plugin returns AnalysisResult

_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path | str, reason: str, field: str = "") -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.field = field


@dataclass(frozen=True)
class Code:
    """A coded concept as written in a manifest: scheme designator, code value, code meaning."""

    scheme: str
    value: str
    meaning: str

    def __post_init__(self) -> None:
        for name in ("scheme", "value", "meaning"):
            if not getattr(self, name).strip():
                raise FieldError(name, "must not be empty")

    def concept(self) -> CodedConcept:
        return CodedConcept(value=self.value, scheme=self.scheme, meaning=self.meaning)


@dataclass(frozen=True)
class OutputLabel:
    """One output label: voxel value, name, RGB colour and its coded concept (used by SEG/SR)."""

    value: int
    name: str
    color: tuple[int, int, int]
    code: Code

    def __post_init__(self) -> None:
        if not 1 <= self.value <= 65535:
            raise FieldError("value", f"must be 1..65535, got {self.value}")
        if any(not 0 <= c <= 255 for c in self.color):
            raise FieldError("color", f"components must be 0..255, got {list(self.color)}")

    def to_label(self) -> Label:
        return Label(value=self.value, name=self.name, color=self.color, concept=self.code.concept())


@dataclass(frozen=True)
class InputRole:
    """An input series role (e.g. T1, T1c, T2, FLAIR) and the rules that recognise a series for it."""

    role: str
    modalities: list[str] = field(default_factory=list)
    description_patterns: list[str] = field(default_factory=list)
    exclude_patterns: list[str] = field(default_factory=list)
    sequence_tags: dict[str, str] = field(default_factory=dict)
    dimensions: Literal["any", "2d", "3d"] = "any"
    required: bool = True

    def __post_init__(self) -> None:
        if not self.role.strip():
            raise FieldError("role", "must not be empty")
        for name in ("description_patterns", "exclude_patterns"):
            for i, pattern in enumerate(getattr(self, name)):
                _check_regex(f"{name}[{i}]", pattern)
        if self.sequence_tags:  # pydicom only then: the window reads the manifests at start-up
            from pydicom.datadict import tag_for_keyword
        for keyword, pattern in self.sequence_tags.items():
            if tag_for_keyword(keyword) is None:
                raise FieldError(f"sequence_tags.{keyword}", "is not a DICOM attribute keyword")
            _check_regex(f"sequence_tags.{keyword}", pattern)


@dataclass(frozen=True)
class ModelFile:
    """A model file shipped with the plugin and the SHA-256 it must have."""

    name: str
    path: str
    sha256: str

    def __post_init__(self) -> None:
        check_relative("path", self.path)
        if not _SHA256.match(self.sha256):
            raise FieldError("sha256", f"must be 64 lower-case hex digits, got {self.sha256!r}")


@dataclass(frozen=True)
class Explainability:
    """How the plugin explains its output (e.g. Grad-CAM), with free-form parameters."""

    method: Literal["none", "gradcam", "occlusion"] = "none"
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retrieval:
    """The plugin's similar-case reference library (see engine.ai.library) and how many cases to show."""

    library: str
    top_k: int = 5

    def __post_init__(self) -> None:
        check_relative("library", self.library)
        if self.top_k < 1:
            raise FieldError("top_k", f"must be at least 1, got {self.top_k}")


_HOOK = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Host:
    """Manifest ``[host]``: the plugin's parts the host app uses besides its entry point ("module:attribute"
    inside the plugin package, empty = none): its PDF report, a result widget for the AI panel, a dock,
    extra `sightline` subcommands and its step of the self-check."""

    report: str = ""
    result_widget: str = ""
    result_title: str = ""
    dock: str = ""
    dock_title: str = ""
    commands: list[str] = field(default_factory=list)
    self_check: str = ""

    def __post_init__(self) -> None:
        hooks = {name: getattr(self, name) for name in ("report", "result_widget", "dock", "self_check")}
        hooks.update({f"commands[{i}]": spec for i, spec in enumerate(self.commands)})
        for name, spec in hooks.items():
            if spec and not _HOOK.match(spec):
                raise FieldError(name, f"must be 'module:attribute', got {spec!r}")
        if self.dock and not self.dock_title.strip():
            raise FieldError("dock_title", "must name the dock when a dock is declared")


@dataclass(frozen=True)
class Manifest:
    """A validated plugin manifest (ARCHITECTURE §4)."""

    schema_version: int
    id: str
    name: str
    version: str
    kind: Kind
    modalities: list[str]
    entry_point: str = field(default="", kw_only=True)  # "" for a declarative [pipeline] plugin
    intended_use: str
    training_data: str
    clinical_use: bool
    inputs: list[InputRole]
    models: list[ModelFile]
    labels: list[OutputLabel] = field(default_factory=list)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    explainability: Explainability = field(default_factory=Explainability)
    retrieval: Retrieval | None = None
    suitability: Suitability = field(default_factory=Suitability)
    plausibility: Plausibility = field(default_factory=Plausibility)
    domain: Domain | None = None
    host: Host = field(default_factory=Host)
    # Declarative plugins and installation: engine.ai.pipeline parses `pipeline`, engine.ai.install `example`.
    pipeline: dict[str, Any] = field(default_factory=dict)
    files: list[ModelFile] = field(default_factory=list)
    example: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise FieldError("schema_version", f"unsupported version {self.schema_version} "
                                               f"(this Sightline reads {SCHEMA_VERSION})")
        if not _ID.match(self.id):
            raise FieldError("id", f"must be lower-case letters, digits, '_' or '-', got {self.id!r}")
        if not _VERSION.match(self.version):
            raise FieldError("version", f"must look like 1.2.3, got {self.version!r}")
        if self.entry_point and not _ENTRY_POINT.match(self.entry_point):
            raise FieldError("entry_point", f"must be 'module:function', got {self.entry_point!r}")
        if bool(self.entry_point) == bool(self.pipeline):
            raise FieldError("entry_point", "give either an entry_point or a [pipeline] table (exactly one)")
        if self.clinical_use is not False:
            raise FieldError("clinical_use", "must be false: Sightline plugins are research software")
        for name in ("name", "intended_use", "training_data"):
            if not getattr(self, name).strip():
                raise FieldError(name, "must not be empty")
        if not self.modalities:
            raise FieldError("modalities", "must list at least one modality")
        if not self.inputs:
            raise FieldError("inputs", "must declare at least one input series role")
        _check_unique("inputs", [role.role for role in self.inputs], "role")
        _check_unique("models", [model.name for model in self.models], "name")
        _check_unique("labels", [label.value for label in self.labels], "value")
        _check_unique("labels", [label.name for label in self.labels], "name")
        _check_unique("files", [f.name for f in [*self.models, *self.files]], "name")
        if self.pipeline:
            check_pipeline(self.pipeline, self)

    def model(self, name: str) -> ModelFile:
        """The model entry called ``name`` (KeyError naming the choices if absent)."""
        for model in self.models:
            if model.name == name:
                return model
        names = ", ".join(m.name for m in self.models)
        raise KeyError(f"plugin {self.id} has no model {name!r} (has: {names})")

    def label_table(self) -> list[Label]:
        """The output labels as engine Labels (for LabelMap, SEG and SR)."""
        return [label.to_label() for label in self.labels]

    @property
    def is_analysis(self) -> bool:
        """Whether the plugin analyses series (the AI panel and `sightline analyze` run it) rather than
        generating images."""
        return self.kind in ANALYSIS_KINDS

    def to_toml(self, header: str = "") -> str:
        """The manifest as TOML (fields left at their defaults are omitted); ``header`` becomes comment lines
        at the top. ``parse_manifest(m.to_toml(), ...) == m``."""
        scalars, tables = [], []
        for name, value in _fields(self):
            if isinstance(value, list) and value and all(dataclasses.is_dataclass(v) for v in value):
                tables += [f"[[{name}]]\n" + _body(item) for item in value]
            elif dataclasses.is_dataclass(value):
                tables.append(f"[{name}]\n" + _body(value))
            elif isinstance(value, dict):  # preprocessing, pipeline, example: free-form tables, nested ones too
                tables += _dict_tables(name, value)
            else:
                scalars.append(f"{_key(name)} = {_value(value)}\n")
        comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
        return comments + "".join(scalars) + "".join(f"\n{table}" for table in tables)


def parse_manifest(text: str, source: Path | str) -> Manifest:
    """Validate manifest TOML ``text``; ``source`` names it in errors."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(source, f"not valid TOML ({error})") from None
    try:
        return build(Manifest, table)
    except SchemaError as error:
        raise ManifestError(source, str(error), error.field) from None


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate the manifest file at ``path``."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(source, f"cannot read the manifest ({error})") from None
    return parse_manifest(text, source)


def _fields(item: Any) -> list[tuple[str, Any]]:
    """(name, value) of a dataclass's fields or a dict's items, without the ones at their defaults (or None)."""
    if isinstance(item, dict):
        return [(str(name), value) for name, value in item.items() if value is not None]
    out = []
    for spec in dataclasses.fields(item):
        value = getattr(item, spec.name)
        if spec.default is not dataclasses.MISSING:
            default = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        else:
            default = dataclasses.MISSING
        if value is None or (value == default and spec.name != "clinical_use"):
            continue
        out.append((spec.name, value))
    return out


def _dict_tables(name: str, mapping: dict[str, Any], header: str = "") -> list[str]:
    """``mapping`` as the TOML table ``[name]`` (or ``header``), its scalars first, then its sub-tables
    ``[name.key]`` and arrays of tables ``[[name.key]]``, recursively."""
    scalars, tables = [], []
    for key, value in _fields(mapping):
        path = f"{name}.{_key(key)}"
        if isinstance(value, dict) and value:
            tables += _dict_tables(path, value)
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                tables += _dict_tables(path, item, header=f"[[{path}]]")
        else:
            scalars.append(f"{_key(key)} = {_value(value)}\n")
    return [(header or f"[{name}]") + "\n" + "".join(scalars), *tables]


def _body(item: Any) -> str:
    return "".join(f"{_key(name)} = {_value(value)}\n" for name, value in _fields(item))


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any) -> str:
    """A TOML value: strings, booleans, numbers, arrays, and inline tables for dicts and dataclasses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if "\\" in value and "'" not in value and value.isprintable():  # a regex stays readable: 'literal'
            return f"'{value}'"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict) or dataclasses.is_dataclass(value):
        pairs = ", ".join(f"{_key(name)} = {_value(item)}" for name, item in _fields(value))
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def _check_regex(name: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise FieldError(name, f"not a valid regular expression ({error})") from None


def _check_unique(name: str, values: list, key: str) -> None:
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            raise FieldError(f"{name}[{i}].{key}", f"duplicate {key} {value!r}")
        seen.add(value)
