"""Shifting stored DA and DT values by a whole number of days (time of day and UTC offset are kept)."""

from __future__ import annotations

import datetime as dt
import re

_DA = re.compile(r"(\d{4})\.?(\d{2})\.?(\d{2})")  # YYYYMMDD, or the retired YYYY.MM.DD


def shift_date(value: str, days: int) -> str | None:
    """Shift one DA value; None when it is not a readable date."""
    match = _DA.fullmatch(value.strip())
    if not match:
        return None
    try:
        date = dt.date(int(match[1]), int(match[2]), int(match[3]))
        return (date + dt.timedelta(days=days)).strftime("%Y%m%d")
    except (ValueError, OverflowError):
        return None


def shift_datetime(value: str, days: int) -> str | None:
    """Shift one DT value of at least YYYYMMDD precision; None otherwise (a bare year cannot be shifted)."""
    text = value.strip()
    shifted = shift_date(text[:8], days) if len(text) >= 8 else None
    return None if shifted is None else shifted + text[8:]
