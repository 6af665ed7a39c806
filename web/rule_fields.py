"""The campaign editor's typed rule controls: a stored rule's parameters as the controls
show them, and the submitted controls back into parameters.

Each rule row ``n`` posts its rule as the n-th ``rule`` value and each parameter as
``p<n>.<key>`` (several values for a marketplace multi-select). The controls come from
the rule's ``fields`` (``core.contracts.ParamField``, built from its ``Params`` spec);
what is saved is still checked by the rule's own ``validate`` on the server
(``core.campaigns.rule_problems``), which names the field that is wrong.
"""

from __future__ import annotations

from core.contracts import ParamField, parse_codes

FLAG_OPTIONS = (("yes", "yes"), ("no", "no"))
# Amazon's own names for the fulfilment channels, shown as the choice they mean.
_ALIASES = {"AFN": "FBA", "MFN": "FBM"}


def codes(value) -> set[str]:
    """The codes a stored value lists (a marketplace multi-select's selection)."""
    try:
        return parse_codes(value)
    except (TypeError, AttributeError):
        return set()


def shown(kind: str, value) -> str:
    """A stored value as its input shows it."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(map(str, value))
    text = str(value).strip()
    if kind == "codes":
        return ", ".join(text.replace(",", " ").split())
    if kind == "date":
        return text[:10]  # <input type=date> shows the day only
    return text


def options(field: ParamField) -> tuple[tuple[str, str], ...]:
    return FLAG_OPTIONS if field.kind == "flag" else field.choices


def choice_value(field: ParamField, value) -> str:
    """The option a stored value selects ("" for any); a value no option matches is
    returned as it is, so the editor shows it as not valid instead of hiding it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if field.kind == "flag":
        if isinstance(value, bool):
            return "yes" if value else "no"
        text = str(value).strip().lower()
        return {"1": "yes", "true": "yes", "0": "no", "false": "no"}.get(text, text)
    text = str(value).strip()
    for option, _label in field.choices:
        if option.lower() in (text.lower(), _ALIASES.get(text.upper(), "").lower()):
            return option
    return text


def _typed(field_kind: str, values: list[str]) -> str:
    if field_kind == "marketplaces":
        return " ".join(v.strip().upper() for v in values if v.strip())
    text = (values[-1] if values else "").strip()
    if field_kind == "codes":
        return " ".join(text.replace(",", " ").split())
    return text


def parse_rule_rows(eng, form) -> list[tuple[int, str, dict]]:
    """(row number, rule name, parameters) of every submitted rule row, blank values left
    out (an unset parameter restricts nothing). Rows whose rule is blank are skipped."""
    rows = []
    for n, name in enumerate(form.getlist("rule"), 1):
        if not name:
            continue
        rule = eng.rules.get(name)
        if rule is not None and rule.fields:
            kinds = {f.key: f.kind for f in rule.fields}
        else:  # a rule without controls: the parameters it had, as text inputs
            kinds = dict.fromkeys(form.getlist(f"p{n}._keys"), "text")
        params = {}
        for key, kind in kinds.items():
            value = _typed(kind, form.getlist(f"p{n}.{key}"))
            if value:
                params[key] = value
        rows.append((n, name, params))
    return rows
