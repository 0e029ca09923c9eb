"""Report templates for the synthesis panel, kept as data (report_templates.json beside this module)."""

from __future__ import annotations

import json
import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATES_FILE = Path(__file__).with_name("report_templates.json")


@dataclass(frozen=True)
class ReportTemplate:
    """A prompt template: id, title, the class it describes, text with {placeholders}, default values."""

    id: str
    title: str
    expected_class: str
    text: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def placeholders(self) -> list[str]:
        return [name for _, name, _, _ in string.Formatter().parse(self.text) if name]

    def fill(self, **values: Any) -> str:
        """The prompt with ``values`` (falling back to the defaults); KeyError names a missing field."""
        merged = {**self.defaults, **values}
        missing = [name for name in self.placeholders if name not in merged]
        if missing:
            raise KeyError(f"template {self.id} needs a value for: {', '.join(missing)}")
        return self.text.format(**merged)


@dataclass(frozen=True)
class TemplateField:
    """A placeholder's allowed values: a list of ``choices``, or an integer range ``minimum``..``maximum``."""

    name: str
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0


def _read(path: str | os.PathLike | None) -> dict[str, Any]:
    return json.loads(Path(path or TEMPLATES_FILE).read_text(encoding="utf-8"))


def load_templates(path: str | os.PathLike | None = None) -> list[ReportTemplate]:
    """The templates of ``path`` (default: the plugin's own file), in file order."""
    return [ReportTemplate(id=t["id"], title=t["title"], expected_class=t["expected_class"], text=t["text"],
                           defaults=dict(t.get("defaults", {}))) for t in _read(path)["templates"]]


def load_fields(path: str | os.PathLike | None = None) -> dict[str, TemplateField]:
    """The placeholders' allowed values from the same file ("fields"), by name."""
    fields = {}
    for name, spec in _read(path).get("fields", {}).items():
        if isinstance(spec, list):
            fields[name] = TemplateField(name, choices=tuple(str(v) for v in spec))
        else:
            fields[name] = TemplateField(name, minimum=int(spec["min"]), maximum=int(spec["max"]))
    return fields
