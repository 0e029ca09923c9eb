"""The work of an AI run as a background job: load the chosen series, then engine.analysis.service (the path
`sightline analyze` takes); the job finishes with the service's Analysis."""

from __future__ import annotations

from pathlib import Path

from app.jobs.background import JobContext, Work
from app.viewer_model.ai_inputs import Candidate, chosen_series
from engine.ai.registry import PluginRegistry
from engine.catalog import Catalog
from engine.volume import Volume


def analysis_work(catalog: Catalog, registry: PluginRegistry, plugin_id: str, chosen: dict[str, Candidate],
                  shown: Volume | None, audit_log: Path | None = None) -> Work:
    """The work that runs ``plugin_id`` on the ``chosen`` series (``shown``, the volume on screen, is reused
    rather than loaded again); it stops at the plugin's next progress report after Cancel."""

    def work(context: JobContext) -> object:
        from engine.analysis.service import analyze_series

        context.progress(0, 0, "loading the input series")
        series, loaded = chosen_series(catalog, chosen, shown)
        return analyze_series(plugin_id, series, loaded, context.progress, context.cancel, registry=registry,
                              audit_log=audit_log)

    return work
