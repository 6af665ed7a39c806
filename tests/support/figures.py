"""Figures the guarantee tests measure (kills, sends, duplicates, lost, overwritten),
printed in pytest's closing summary so every run, CI's included, shows them."""

from __future__ import annotations

MEASURED: list[tuple[str, str]] = []


def record(test: str, figures: str) -> None:
    """Keep ``figures`` for the summary ``tests/conftest.py`` prints at the end."""
    MEASURED.append((test, figures))
