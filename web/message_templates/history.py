"""Template versions as diffable lines, and the line diff between two of them."""

from __future__ import annotations

import difflib

from core.models import TemplateVersion


def version_lines(version: TemplateVersion) -> list[str]:
    """A version as numbered-diffable lines: theme, then each language's subject and body."""
    lines = [f"Theme: {version.theme or '(none: plain text only)'}"]
    for variant in sorted(version.variants, key=lambda v: v.language):
        lines.append(f"[{variant.language}] Subject: {variant.subject}")
        lines.extend(f"[{variant.language}] {line}" for line in variant.body.split("\n"))
        if variant.html:
            lines.extend(f"[{variant.language}] HTML: {line}" for line in variant.html.split("\n"))
    return lines


def diff_rows(old: list[str], new: list[str], context: int = 3) -> list[dict]:
    """Rows of a line diff: kind (same, removed, added, skip), line numbers, text."""
    rows: list[dict] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if rows:
            rows.append({"kind": "skip", "old": "", "new": "", "text": "…"})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for k in range(i2 - i1):
                    rows.append(
                        {"kind": "same", "old": i1 + k + 1, "new": j1 + k + 1, "text": old[i1 + k]}
                    )
                continue
            for k in range(i1, i2):
                rows.append({"kind": "removed", "old": k + 1, "new": "", "text": old[k]})
            for k in range(j1, j2):
                rows.append({"kind": "added", "old": "", "new": k + 1, "text": new[k]})
    return rows
