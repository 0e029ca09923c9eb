"""synthesize(): the Qt-free function the synthesis panel, `sightline synthesize` and the self-check call.

Resolves the synthesis plugin, checks its model hashes, runs its ``generate(context, request)`` entry with
progress and cancellation, scores the prompt against the training reports (engine.ai.domain, the
manifest's ``[domain]``), stamps provenance and appends every generation — completed, failed or
cancelled — to the hash-chained audit log (event ``ai_synthesis``). The prompt itself is not logged (a
report may identify a patient); its SHA-256 and length are.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from engine.ai import audit, domain
from engine.ai.context import PluginContext
from engine.ai.entry import PluginError, run_entry
from engine.ai.registry import Plugin, PluginRefused, PluginRegistry
from engine.ai.result import DomainScore, Provenance
from engine.ai.runner import default_registry
from engine.ai.sessions import SessionCache, shared_cache
from engine.progress import CancelToken, ProgressCallback

from .types import SynthesisRequest, SynthesisResult

DEFAULT_PLUGIN = "prostate_synthesis"
AUDIT_EVENT = "ai_synthesis"


def synthesize(
    request: SynthesisRequest,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    plugin_id: str = DEFAULT_PLUGIN,
    registry: PluginRegistry | None = None,
    sessions: SessionCache | None = None,
    audit_log: str | os.PathLike | None = None,
) -> SynthesisResult:
    """Generate one SYNTHETIC volume for ``request``; raises PluginRefused, PluginError or Cancelled."""
    plugin = (registry or default_registry()).get(plugin_id)
    if plugin.manifest.kind != "synthesis":
        raise PluginError(f"plugin {plugin_id} is a {plugin.manifest.kind} plugin, not a synthesis plugin")
    context = PluginContext(plugin=plugin, inputs={}, sessions=sessions or shared_cache(),
                            cancel=cancel or CancelToken(), progress=progress)
    result, provenance = run_entry(context, lambda entry: entry(context, request), _result_type(plugin), AUDIT_EVENT,
                                   lambda provenance, status: _details(request, provenance, status, None), audit_log)
    result.provenance = provenance
    result.domain = domain.score(plugin.manifest.domain, plugin.folder, result.domain_features)
    if not result.domain.in_domain:
        result.warnings.insert(0, prompt_warning(result.domain))
    audit.append(AUDIT_EVENT, _details(request, provenance, "completed", result), audit_log)
    return result


def _result_type(plugin: Plugin) -> type[SynthesisResult]:
    """The SynthesisResult class of the plugin's own package (a copy of this plugin in another folder imports
    under another package name), else this module's."""
    try:
        found = plugin.host_object("types:SynthesisResult")
    except PluginRefused:
        return SynthesisResult
    return found if isinstance(found, type) else SynthesisResult


def prompt_warning(score: DomainScore) -> str:
    """The reader's words for a prompt outside the training reports."""
    if score.score is None:
        return "no validated prompt domain: the class and lesion read from the prompt are low confidence"
    return (f"the prompt is not like the prostate MRI reports the model was trained on (score {score.score:.3f}, "
            f"threshold {score.threshold:.3f}): the class and lesion read from it are low confidence")


def _details(request: SynthesisRequest, provenance: Provenance, status: str, result: SynthesisResult | None
             ) -> dict:
    details = {
        **provenance.audit_details(status),
        "prompt_sha256": hashlib.sha256(request.prompt.encode()).hexdigest(),
        "prompt_chars": len(request.prompt),
        "class_mode": request.class_mode,
        "seed": int(request.seed),
        "steps": int(request.steps),
        "guidance": float(request.guidance),
    }
    if result is not None:
        details.update(
            predicted_class=result.predicted_class,
            probabilities={name: round(p, 6) for name, p in result.probabilities.items()},
            class_used=result.class_used,
            predicted_side=result.predicted_side,
            side_probabilities={name: round(p, 6) for name, p in result.side_probabilities.items()},
            predicted_level=result.predicted_level,
            level_probabilities={name: round(p, 6) for name, p in result.level_probabilities.items()},
            prompt_domain_score=result.domain.score if result.domain else None,
            prompt_in_domain=bool(result.domain and result.domain.in_domain),
            volume_sha256=hashlib.sha256(np.ascontiguousarray(result.volume.array).tobytes()).hexdigest(),
            volume_shape=list(result.volume.array.shape),
        )
    return details
