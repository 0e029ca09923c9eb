"""One-page PDF reports of AI results (matplotlib, imported only when a report is written)."""
