"""BackgroundJob, the one thread + cancel token + signals pattern of the window's background work: a job ends
in its outcome (finished, failed or cancelled) then ``ended``, every signal carries the job's number, ``busy``
is already clear when the outcome arrives, and jobs replace each other unless told not to."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Qt

from app.jobs.background import BackgroundJob, JobContext, error_message
from engine.ai.suitability import InputRefused

TIMEOUT_MS = 10_000


class Recorder(QObject):
    """Records a BackgroundJob's signals in the GUI thread (bound slots: queued, as in the window)."""

    def __init__(self, job: BackgroundJob) -> None:
        super().__init__()
        self.job = job
        self.events: list[tuple] = []
        job.progress.connect(self.on_progress)
        job.finished.connect(self.on_finished)
        job.failed.connect(self.on_failed)
        job.cancelled.connect(self.on_cancelled)
        job.ended.connect(self.on_ended)

    def on_progress(self, job: int, done: int, total: int, message: str) -> None:
        self.events.append(("progress", job, done, total, message))

    def on_finished(self, job: int, outcome: object) -> None:
        self.events.append(("finished", job, outcome))

    def on_failed(self, job: int, message: str) -> None:
        self.events.append(("failed", job, message))

    def on_cancelled(self, job: int) -> None:
        self.events.append(("cancelled", job))

    def on_ended(self, job: int) -> None:
        self.events.append(("ended", job))

    def wait_ended(self, qtbot, count: int = 1) -> None:  # noqa: ANN001
        qtbot.waitUntil(lambda: sum(event[0] == "ended" for event in self.events) >= count, timeout=TIMEOUT_MS)


def until_cancelled(started: threading.Event):  # noqa: ANN201
    """Work that runs until its job is cancelled."""

    def work(context: JobContext) -> None:
        started.set()
        while True:
            context.cancel.raise_if_cancelled()
            time.sleep(0.005)

    return work


def test_a_job_reports_progress_and_finishes_with_what_its_work_returns(qtbot) -> None:
    job = BackgroundJob("test")
    recorder = Recorder(job)

    def work(context: JobContext) -> str:
        context.progress(1, 2, "half")
        return f"done {context.job}"

    assert job.start(work) == 1 and job.current == 1
    recorder.wait_ended(qtbot)
    job.wait(5.0)
    assert recorder.events == [("progress", 1, 1, 2, "half"), ("finished", 1, "done 1"), ("ended", 1)]
    assert not job.busy


def test_a_failing_job_reports_the_error_type_and_message(qtbot) -> None:
    job = BackgroundJob("test")
    recorder = Recorder(job)

    def work(_context: JobContext) -> None:
        raise ValueError("no pixel data")

    job.start(work)
    recorder.wait_ended(qtbot)
    assert recorder.events == [("failed", 1, "ValueError: no pixel data"), ("ended", 1)]


def test_error_message_gives_a_refused_input_its_own_sentence() -> None:
    refused = InputRefused("bright_lesions", ["series 3 is a chest CT", "slices are 10 mm thick"])
    assert error_message(refused) == "bright_lesions refuses the study: series 3 is a chest CT; slices are 10 mm thick"
    assert error_message(KeyError("role")) == "KeyError: 'role'"
    assert error_message(RuntimeError("model failed")) == "RuntimeError: model failed"


def test_cancel_stops_the_running_job_and_says_whether_one_ran(qtbot) -> None:
    job = BackgroundJob("test")
    recorder = Recorder(job)
    started = threading.Event()
    job.start(until_cancelled(started))
    assert started.wait(5.0) and job.busy
    assert job.cancel() is True
    recorder.wait_ended(qtbot)
    assert recorder.events == [("cancelled", 1), ("ended", 1)]
    assert not job.busy and job.cancel() is False


def test_a_new_job_replaces_the_running_one_whose_signals_keep_its_number(qtbot) -> None:
    job = BackgroundJob("test")
    recorder = Recorder(job)
    started = threading.Event()
    first = job.start(until_cancelled(started))
    assert started.wait(5.0)
    second = job.start(lambda context: "second")
    recorder.wait_ended(qtbot, 2)
    assert (first, second, job.current) == (1, 2, 2)
    assert ("cancelled", 1) in recorder.events and ("finished", 2, "second") in recorder.events
    assert recorder.events.index(("cancelled", 1)) < recorder.events.index(("ended", 1))
    assert not any(event[0] == "finished" and event[1] == 1 for event in recorder.events)


def test_busy_is_clear_when_the_outcome_arrives_so_its_slot_may_start_the_next_job(qtbot) -> None:
    job = BackgroundJob("test")
    seen: list[tuple[int, object, bool]] = []

    class Chain(QObject):
        def on_finished(self, number: int, outcome: object) -> None:
            seen.append((number, outcome, job.busy))
            if number == 1:
                job.start(lambda context: "next")

        def on_failed(self, number: int, _message: str) -> None:
            seen.append((number, "failed", job.busy))
            job.start(lambda context: "after failure")

    chain = Chain()
    job.finished.connect(chain.on_finished)
    job.failed.connect(chain.on_failed)
    at_emit: list[bool] = []  # busy as the worker thread emits (a direct connection), not after it moved on
    for signal in (job.finished, job.failed, job.cancelled):
        signal.connect(lambda *_args: at_emit.append(job.busy), Qt.DirectConnection)
    job.start(lambda context: "first")
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=TIMEOUT_MS)
    assert seen == [(1, "first", False), (2, "next", False)]
    job.start(lambda context: 1 / 0)
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=TIMEOUT_MS)
    assert seen[2:] == [(3, "failed", False), (4, "after failure", False)]
    assert at_emit == [False] * 4


def test_jobs_that_do_not_replace_each_other_both_finish(qtbot) -> None:
    job = BackgroundJob("test", replace=False)
    recorder = Recorder(job)
    gate = threading.Event()

    def work(context: JobContext) -> int:
        assert gate.wait(5.0)
        return context.job * 10

    job.start(work)
    job.start(work)
    assert job.busy
    gate.set()
    recorder.wait_ended(qtbot, 2)
    job.wait(5.0)
    assert sorted(event for event in recorder.events if event[0] == "finished") == [("finished", 1, 10),
                                                                                    ("finished", 2, 20)]
    assert not any(event[0] == "cancelled" for event in recorder.events) and not job.busy
