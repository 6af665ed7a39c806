"""A small recursive checker for the swagger 2.0 subset Amazon's models use, and the
models' location (``shared/sp-api-models`` beside the clone)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

MODELS = Path(__file__).parents[3] / "shared" / "sp-api-models"


def load(name: str) -> dict:
    """One model file of shared/sp-api-models."""
    return json.loads((MODELS / name).read_text())


def model_problems(value, model: str, path: str, method: str) -> list[str]:
    """What is wrong with request body ``value`` against Amazon's ``model`` for the
    operation. The models are not in the project (their README asks so): CI always has
    ``shared/sp-api-models`` beside the clone; a clone without it gets a warning and no
    check, while the rest of the test still runs."""
    if not MODELS.is_dir():
        warnings.warn(f"no models in {MODELS}: {method} {path} body not checked", stacklevel=2)
        return []
    return problems(value, *body_schema(model, path, method))


def body_schema(model: str, path: str, method: str) -> tuple[dict, dict]:
    """(request body schema, definitions) of an operation."""
    doc = load(model)
    operation = doc["paths"][path][method.lower()]
    [param] = [p for p in operation.get("parameters", []) if p["in"] == "body"]
    return param["schema"], doc["definitions"]


def problems(value, schema: dict, defs: dict, where: str = "$") -> list[str]:
    """What is wrong with ``value`` against ``schema``: type, required, properties,
    items, enum, $ref, maxLength/minLength, maxItems (additional properties allowed)."""
    if "$ref" in schema:
        return problems(value, defs[schema["$ref"].split("/")[-1]], defs, where)
    found: list[str] = []
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if kind in checks and not checks[kind](value):
        return [f"{where}: expected {kind}, got {type(value).__name__} {value!r:.60}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind == "string":
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            found.append(f"{where}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            found.append(f"{where}: shorter than {schema['minLength']}")
    if kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{where}: missing required {name!r}")
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                found += problems(value[name], sub, defs, f"{where}.{name}")
    if kind == "array":
        # The messaging model writes item-count bounds as maxLength/minLength.
        most = schema.get("maxItems", schema.get("maxLength"))
        least = schema.get("minItems", schema.get("minLength"))
        if most is not None and len(value) > most:
            found.append(f"{where}: more than {most} items")
        if least is not None and len(value) < least:
            found.append(f"{where}: fewer than {least} items")
        for n, item in enumerate(value):
            found += problems(item, schema.get("items") or {}, defs, f"{where}[{n}]")
    return found
