"""Comparing two plans of the same data (the per-order planner's and the set-based
re-plan's): snapshots of messages and decisions keyed by (order id, step id)."""

from __future__ import annotations


def assert_same_plans(expected: tuple[dict, dict], got: tuple[dict, dict], context="") -> None:
    """``expected`` and ``got`` are (messages, decisions) snapshots; fail naming how many
    of each differ, with three examples, after ``context`` (say the seed)."""
    for kind, want, have in zip(("message", "decision"), expected, got, strict=True):
        diff = {
            k: (want.get(k), have.get(k))
            for k in set(want) | set(have)
            if want.get(k) != have.get(k)
        }
        assert not diff, f"{context}{len(diff)} {kind}s differ, e.g. {list(diff.items())[:3]}"
