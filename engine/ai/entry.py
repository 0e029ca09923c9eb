"""The skeleton every plugin run shares, analysis or synthesis: the models are verified against their
SHA-256, the entry function is loaded, provenance is stamped, and a run that fails or is cancelled is
audited before the error reaches the caller (the caller audits a completed run with its own details)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import onnxruntime as ort

from engine.ai import audit
from engine.ai.context import PluginContext
from engine.ai.result import Provenance
from engine.progress import Cancelled

T = TypeVar("T")
AuditDetails = Callable[[Provenance, str], dict]


class PluginError(RuntimeError):
    """A plugin that could not run on these inputs, or returned something that is not what its kind returns."""


def run_entry(context: PluginContext, call: Callable[[Callable[..., Any]], T], returns: type[T], event: str,
              details: AuditDetails, audit_log: str | os.PathLike | None = None) -> tuple[T, Provenance]:
    """``call(entry)`` with the plugin's entry function; returns its output (checked to be a ``returns``)
    and the run's provenance. A failure or cancellation is appended to the audit log as ``event``."""
    plugin = context.plugin
    plugin.verify_models()
    entry = plugin.load_entry()
    manifest = plugin.manifest
    provenance = Provenance(
        plugin_id=manifest.id,
        plugin_version=manifest.version,
        models={model.name: model.sha256 for model in manifest.models},
        onnxruntime_version=ort.__version__,
        providers=context.providers_used,
        started_utc=datetime.now(UTC).isoformat(timespec="milliseconds"),
        duration_s=0.0,
        inputs={role: volume.ids for role, volume in context.inputs.items()},
    )
    clock = time.perf_counter()
    try:
        output = call(entry)
        if not isinstance(output, returns):
            article = "an" if returns.__name__[0] in "AEIOU" else "a"
            raise PluginError(f"plugin {manifest.id} returned {type(output).__name__}, not {article} "
                              f"{returns.__name__}")
    except Exception as error:
        provenance.duration_s = time.perf_counter() - clock
        status = "cancelled" if isinstance(error, Cancelled) else f"failed: {type(error).__name__}: {error}"
        audit.append(event, details(provenance, status), audit_log)
        raise
    provenance.duration_s = time.perf_counter() - clock
    return output, provenance
