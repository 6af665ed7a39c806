"""The campaign step form: a saved step as form values, and submitted values parsed
back into what ``core.campaigns.update_step`` takes, with a problem per field."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from core.campaigns import rule_problems, validate_step
from core.models import Step, Template
from core.templates import import_from_library

from ..converters import is_id
from ..rule_fields import parse_rule_rows
from ..security import current_user

INT_FIELDS = (
    "delay_days",
    "delay_hours",
    "window_start_hour",
    "window_end_hour",
    "priority",
    "holdout_percent",
)


def step_form(step: Step) -> dict:
    """The form's values for a saved step (what the inputs show)."""
    return {
        "name": step.name,
        "trigger": step.trigger,
        "anchor": step.anchor,
        "weekdays": step.weekdays,
        "skip_holidays": step.skip_holidays,
        "sender": step.sender,
        "message_type": step.message_type,
        "no_variant_policy": step.no_variant_policy,
        "critical": step.critical,
        "template": str(step.template_id or ""),
        "rules": [
            {
                "rule": r.get("rule", ""),
                "params": r.get("params") if isinstance(r.get("params"), dict) else {},
            }
            for r in step.rules or []
        ],
        "variants": [
            {"template": str(v.get("template", "")), "weight": str(v.get("weight", 1))}
            for v in step.variants or []
        ],
        **{k: str(getattr(step, k)) for k in INT_FIELDS},
    }


def rule_errors(eng, rules: list[dict], rows: list[int] | None = None) -> dict[str, str]:
    """The rule problems of ``rules`` as form errors: ``params-N`` next to form row N
    (``rows[i]`` is the form row of ``rules[i]``; by default the i-th row) and ``rules``
    listing them all, in the words ``core.campaigns.validate_step`` uses."""
    per_row: dict[int, list[str]] = {}
    summary: list[str] = []
    per_field: dict[str, str] = {}
    for n, label, param, why in rule_problems(eng, rules):
        row = rows[n - 1] if rows else n
        per_row.setdefault(row, []).append(f"{param}: {why}" if param else why)
        summary.append(f"{label} › {param}: {why}" if param else f"rule {row}: {why}")
        if param:  # next to the control itself (web/rule_fields.py names them p<row>.<key>)
            per_field[f"params-{row}.{param}"] = why
    errors = {f"params-{row}": "; ".join(texts) for row, texts in per_row.items()}
    errors.update(per_field)
    if summary:
        errors["rules"] = "; ".join(summary)
    return errors


def parse_step_form(eng, form) -> tuple[dict, dict, dict[str, str]]:
    """(values for ``update_step``, the form as typed, field -> problem)."""
    state = {k: form.get(k, "").strip() for k in INT_FIELDS}
    errors: dict[str, str] = {}
    values: dict = {}
    for key in INT_FIELDS:
        raw = state[key] or "0"
        try:
            values[key] = int(raw)
        except ValueError:
            errors[key] = "a whole number"
    state.update(
        name=form.get("name", "").strip(),
        trigger=form.get("trigger", ""),
        anchor=form.get("anchor", "event"),
        weekdays="".join(sorted(set(form.getlist("weekdays")))),
        skip_holidays=bool(form.get("skip_holidays")),
        sender=form.get("sender", ""),
        message_type=form.get("message_type", "").strip(),
        no_variant_policy=form.get("no_variant_policy", "skip"),
        critical=bool(form.get("critical")),
        template=form.get("template", ""),
        rules=[],
        variants=[],
    )
    for key in (
        "name",
        "trigger",
        "anchor",
        "weekdays",
        "skip_holidays",
        "sender",
        "message_type",
        "critical",
    ):
        values[key] = state[key]
    if state["no_variant_policy"] not in ("skip", "review_request"):
        errors["no_variant_policy"] = "skip or review_request"
    values["no_variant_policy"] = state["no_variant_policy"]
    values["template"] = _template_ref(state["template"])
    rules, rows = [], []
    typed = {n: (name, params) for n, name, params in parse_rule_rows(eng, form)}
    for n, name in enumerate(form.getlist("rule"), 1):
        params = typed.get(n, (name, {}))[1]
        state["rules"].append({"rule": name, "params": params})
        if name:
            rules.append({"rule": name, "params": params})
            rows.append(n)
    values["rules"] = rules
    errors.update(rule_errors(eng, rules, rows))
    variants = []
    for label_index, (template, weight) in enumerate(
        zip(form.getlist("variant_template"), form.getlist("variant_weight"), strict=False)
    ):
        state["variants"].append({"template": template, "weight": weight})
        if not template:
            continue
        if not is_id(weight.strip()) or not 1 <= int(weight) <= 100:
            errors["variants"] = f"variant {label_index + 1}: weight is a whole number 1 to 100"
            continue
        ref = _template_ref(template)
        variants.append(
            {
                "template": ref.id if ref else None,
                "weight": int(weight),
                "label": chr(ord("A") + len(variants)),
            }
        )
    if len(variants) == 1:
        errors["variants"] = "an A/B test needs at least two variants (or none)"
    values["variants"] = variants
    for key, why in validate_step(eng, values).items():
        if not key.startswith("rules"):  # said per row above, from the same check
            errors.setdefault(key, why)
    return values, state, errors


def _template_ref(value: str):
    """A Template for a picker value: an id, or ``lib:<key>`` (imported on save)."""
    if is_id(value):
        return Template.get_or_none(Template.id == int(value))
    if value.startswith("lib:"):
        try:
            return import_from_library(value[4:], user=current_user().username)
        except ValueError:
            return None
    return None


# -- per-product content (Step.product_content: SKU -> {key: text}) ------------------------

PRODUCT_EXTRA_ROWS = 2  # blank rows offered to add a SKU without JavaScript
MAX_PRODUCT_ROWS = 200
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _extra_text(fields: dict) -> str:
    return "\n".join(f"{k}: {v}" for k, v in fields.items() if k != "manual_link")


def product_rows(step: Step) -> list[dict]:
    """The per-product table's rows for a saved step (SKU, manual link, extra keys)."""
    return [
        {
            "sku": sku,
            "manual_link": str((fields or {}).get("manual_link", "")),
            "extra": _extra_text(fields or {}),
            "remove": False,
        }
        for sku, fields in sorted((step.product_content or {}).items())
    ]


def https_link_problem(value: str) -> str:
    """Why ``value`` is not a link Amazon lets a message carry ("" when it is).

    Amazon allows only secure (https) links needed to complete the order, such as the
    product's manual (docs/amazon-rules.md §3); the linter refuses any other link at send time.
    """
    if not value:
        return ""
    try:
        host = urlparse(value).hostname or ""
        scheme = urlparse(value).scheme
    except ValueError:  # e.g. an unclosed "[" of an IPv6 host
        host = scheme = ""
    if scheme != "https" or "." not in host or any(c.isspace() for c in value):
        return "must be a secure https:// link, e.g. https://example.com/manual.pdf"
    return ""


def parse_product_form(form) -> tuple[dict, list[dict], dict[str, str]]:
    """(``product_content`` to save, the rows as typed, field id -> problem).

    Field ids name the input (``pc-2-manual_link``) so the error sits next to it.
    """
    count = form.get("pc_rows", "0")
    count = min(int(count), MAX_PRODUCT_ROWS) if is_id(count) else 0
    content: dict[str, dict] = {}
    rows: list[dict] = []
    errors: dict[str, str] = {}
    for n in range(1, count + 1):
        row = {
            "sku": form.get(f"pc-{n}-sku", "").strip(),
            "manual_link": form.get(f"pc-{n}-manual_link", "").strip(),
            "extra": form.get(f"pc-{n}-extra", "").strip(),
            "remove": bool(form.get(f"pc-{n}-remove")),
        }
        rows.append(row)
        if row["remove"] or not (row["sku"] or row["manual_link"] or row["extra"]):
            continue  # a removed or untouched blank row
        fields: dict[str, str] = {}
        if not row["sku"]:
            errors[f"pc-{n}-sku"] = f"row {n}: give the SKU this content is for"
        elif len(row["sku"]) > 80:
            errors[f"pc-{n}-sku"] = f"row {n}: a SKU has at most 80 characters"
        elif row["sku"] in content:
            errors[f"pc-{n}-sku"] = f"row {n}: SKU {row['sku']} is already in the table"
        problem = https_link_problem(row["manual_link"])
        if problem:
            errors[f"pc-{n}-manual_link"] = f"row {n}: the manual link {problem}"
        elif row["manual_link"]:
            fields["manual_link"] = row["manual_link"]
        for line in row["extra"].splitlines():
            if not line.strip():
                continue
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or not KEY_RE.fullmatch(key):
                errors[f"pc-{n}-extra"] = (
                    f"row {n}: write one “key: text” per line; a key is letters, digits "
                    "and _ (e.g. care_tip: Rinse after use)"
                )
                break
            if key == "manual_link":
                errors[f"pc-{n}-extra"] = f"row {n}: put the manual link in its own column"
                break
            fields[key] = value.strip()
        if row["sku"] and f"pc-{n}-sku" not in errors:
            content[row["sku"]] = fields
    return content, rows, errors
