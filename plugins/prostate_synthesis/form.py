"""The synthesis panel's Qt-free logic: class-mode labels, prompt filling and the result summary."""

from __future__ import annotations

from typing import Any

from .templates import ReportTemplate
from .types import SynthesisResult

CLASS_MODE_LABELS: dict[str, str] = {
    "auto": "Predicted from the report (CCELLA)",
    "negative": "Negative — explicit override (extension)",
    "positive": "Positive — explicit override (extension)",
}


def fill_prompt(template: ReportTemplate, values: dict[str, Any]) -> str:
    """The template's report with the panel's field values (only the placeholders it uses)."""
    return template.fill(**{name: values[name] for name in template.placeholders if name in values})


def describe_result(result: SynthesisResult) -> str:
    """One line for the panel: the class predicted from the report, its probabilities, the class used and the
    lesion side and level the model read in the report."""
    probabilities = ", ".join(f"{name} {p:.2f}" for name, p in result.probabilities.items())
    if result.request.class_mode == "auto":
        used = f"class used: {result.class_used} (predicted)"
    else:
        used = f"class used: {result.class_used} (explicit override)"
    findings = [f"{finding} {predicted} ({probabilities[predicted]:.2f})"
                for finding, probabilities, predicted in (
                    ("side", result.side_probabilities, result.predicted_side),
                    ("level", result.level_probabilities, result.predicted_level)) if probabilities]
    side = f"; lesion read: {', '.join(findings)}" if findings else ""
    low = " — LOW CONFIDENCE" if result.class_confidence == "low" else ""
    warnings = "".join(f"\n\u26a0 {text}" for text in result.warnings)
    return (f"Predicted from the report: {result.predicted_class}{low} ({probabilities}); {used}{side}; "
            f"seed {result.request.seed}, {result.request.steps} steps, guidance {result.request.guidance:g}"
            f"{warnings}")
