"""The work of a synthesis request as a background job (engine.synthesis.runner.synthesize); the job finishes
with the SynthesisResult."""

from __future__ import annotations

from app.jobs.background import JobContext, Work
from engine.synthesis.types import SynthesisRequest


def synthesis_work(request: SynthesisRequest) -> Work:
    """The work that generates ``request`` with the default plugin registry and audit log; it stops at the next
    denoising step after Cancel."""

    def work(context: JobContext) -> object:
        from engine.synthesis.runner import synthesize

        return synthesize(request, context.progress, context.cancel)

    return work
