"""The crash-recovery offer at start (Qt-free): what the dialog lists and what the user decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.editing.recovery import RecoverableSession

RESTORE, DISCARD, LATER = "restore", "discard", "later"


@dataclass(frozen=True)
class RecoveryDecision:
    """Restore one session, discard some, or decide later (nothing touched)."""

    action: str
    sessions: tuple[RecoverableSession, ...] = ()

    def __post_init__(self) -> None:
        if self.action not in (RESTORE, DISCARD, LATER):
            raise ValueError(f"unknown recovery action {self.action!r}")
        if self.action == RESTORE and len(self.sessions) != 1:
            raise ValueError("restore exactly one session at a time")


def session_row(session: RecoverableSession) -> tuple[str, str, str]:
    """(what, last saved in local time, 'N actions') as the dialog lists a session."""
    saved = datetime.fromisoformat(session.saved_utc).astimezone().strftime("%Y-%m-%d %H:%M")
    count = f"{session.actions} action{'s' if session.actions != 1 else ''}"
    return session.description or session.key, saved, count
