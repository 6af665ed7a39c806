"""Every request the fake receives and every answer it sends, checked against Amazon's
models (``shared/sp-api-models``, Swagger 2.0) with ``jsonschema``.

What is checked per operation (path-level and operation-level parameters merged):

* request: every required query parameter present (others the model does not name are
  not refused: Swagger 2.0 does not forbid them, and the library adds marketplace ids
  to GETs that take none);
  each value of the declared type, enum and item count (arrays may come repeated, as
  httpx sends lists, or comma-separated, as Amazon documents them); a body only where
  the model defines one, JSON, sent as ``application/json``, valid against its schema;
  a required body present;
* answer: a status the model lists for the operation; a content type among those the
  model ``produces``; a JSON body valid against that status's schema.

The Sellers API is not among the shared models; its one operation the plugin uses is
checked against ``SELLERS``, Amazon's Sellers v1 response model transcribed here.

A violation is recorded on the fake (``FakeSPAPI.violations``) and fails the test that
caused it when the fake is closed (``FakeSPAPI.__exit__``).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache

from jsonschema import Draft4Validator, FormatChecker

from .schema import MODELS, load

# Amazon's Sellers API v1 (getMarketplaceParticipations): response shapes and required
# fields, as its published model defines them.
_SELLERS_DEFS = {
    "Marketplace": {
        "type": "object",
        "required": [
            "id",
            "name",
            "countryCode",
            "defaultCurrencyCode",
            "defaultLanguageCode",
            "domainName",
        ],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "countryCode": {"type": "string", "pattern": "^([A-Z]{2})$"},
            "defaultCurrencyCode": {"type": "string"},
            "defaultLanguageCode": {"type": "string"},
            "domainName": {"type": "string"},
        },
    },
    "Participation": {
        "type": "object",
        "required": ["isParticipating", "hasSuspendedListings"],
        "properties": {
            "isParticipating": {"type": "boolean"},
            "hasSuspendedListings": {"type": "boolean"},
        },
    },
    "ErrorList": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}
_SELLERS_OK = {
    "type": "object",
    "properties": {
        "payload": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["marketplace", "participation"],
                "properties": {
                    "marketplace": {"$ref": "#/definitions/Marketplace"},
                    "participation": {"$ref": "#/definitions/Participation"},
                },
            },
        },
        "errors": {"$ref": "#/definitions/ErrorList"},
    },
}
_SELLERS_ERROR = {
    "type": "object",
    "properties": {"errors": {"$ref": "#/definitions/ErrorList"}},
}
SELLERS = {
    "produces": ["application/json"],
    "paths": {
        "/sellers/v1/marketplaceParticipations": {
            "get": {
                "operationId": "getMarketplaceParticipations",
                "parameters": [],
                "responses": {
                    "200": {"schema": _SELLERS_OK},
                    **{
                        str(s): {"schema": _SELLERS_ERROR}
                        for s in (400, 403, 404, 413, 415, 429, 500, 503)
                    },
                },
            }
        }
    },
    "definitions": _SELLERS_DEFS,
}


# Swagger's ``format: date-time`` is RFC 3339; checked without an extra dependency.
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None


def available() -> bool:
    """Whether the models are beside the clone (CI always has them)."""
    return MODELS.is_dir()


@cache
def _doc(model: str) -> dict:
    return SELLERS if model == "sellers" else load(model)


@cache
def _validator(model: str, path: str, method: str, where: str) -> Draft4Validator:
    """A validator for one schema of an operation; ``where`` is ``body`` or a status."""
    doc = _doc(model)
    operation = doc["paths"][path][method]
    if where == "body":
        [param] = [p for p in _parameters(model, path, method) if p["in"] == "body"]
        schema = param["schema"]
    else:
        schema = operation["responses"][where]["schema"]
    # Swagger's "#/definitions/X" references resolve against this root.
    return Draft4Validator(
        {**schema, "definitions": doc.get("definitions", {})}, format_checker=FORMATS
    )


def _parameters(model: str, path: str, method: str) -> list[dict]:
    item = _doc(model)["paths"][path]
    return [*item.get("parameters", []), *item[method].get("parameters", [])]


def _errors(validator: Draft4Validator, value) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '$'}: {e.message[:200]}"
        for e in validator.iter_errors(value)
    ]


def _scalar_problem(param: dict, value: str) -> str | None:
    kind = param.get("type", "string")
    if kind == "integer":
        try:
            int(value)
        except ValueError:
            return f"{value!r} is not an integer"
    elif kind == "boolean" and value not in ("true", "false"):
        return f"{value!r} is not true or false"
    elif param.get("format") == "date-time":
        try:
            ok = _date_time(value)
        except ValueError:
            ok = False
        if not ok:
            return f"{value!r} is not an RFC 3339 date-time"
    if "enum" in param and value not in param["enum"]:
        return f"{value!r} is not one of {param['enum']}"
    return None


def request_problems(model: str, template: str, req) -> list[str]:
    """What is wrong with ``req`` (a ``tests.fake_spapi.http.Request``) for the model's
    operation at ``template``."""
    method = req.method.lower()
    params = _parameters(model, template, method)
    declared = {p["name"]: p for p in params if p["in"] == "query"}
    found: list[str] = []
    for name, param in declared.items():
        raw = req.query.get(name)
        if not raw:
            if param.get("required"):
                found.append(f"required query parameter {name!r} is missing")
            continue
        if param.get("type") == "array":
            values = [v for value in raw for v in value.split(",")]
            most = param.get("maxItems")
            if most is not None and len(values) > most:
                found.append(f"{name}: {len(values)} values, the model allows {most}")
            for value in values:
                problem = _scalar_problem(param.get("items") or {}, value)
                if problem:
                    found.append(f"{name}: {problem}")
        else:
            if len(raw) > 1:
                found.append(f"{name} sent {len(raw)} times")
            problem = _scalar_problem(param, raw[0])
            if problem:
                found.append(f"{name}: {problem}")
    body_param = next((p for p in params if p["in"] == "body"), None)
    if body_param is None:
        if req.raw:
            found.append(f"a body ({req.raw[:80]!r}) where the model defines none")
        return found
    if not req.raw:
        if body_param.get("required"):
            found.append("the required body is missing")
        return found
    content_type = req.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/json":
        found.append(f"body sent as {content_type!r}, the model consumes application/json")
    try:
        body = json.loads(req.raw)
    except ValueError:
        return [*found, "the body is not JSON"]
    found += [f"body {e}" for e in _errors(_validator(model, template, method, "body"), body)]
    return found


def answer_problems(model: str, template: str, method: str, reply) -> list[str]:
    """What is wrong with ``reply`` (a ``tests.fake_spapi.http.Reply``) as the model's
    answer of the operation."""
    doc = _doc(model)
    operation = doc["paths"][template][method.lower()]
    status = str(reply.status)
    if status not in operation["responses"]:
        return [f"status {status} is not an answer the model lists"]
    found = []
    produces = operation.get("produces") or doc.get("produces") or ["application/json"]
    media = reply.content_type.split(";")[0].strip()
    if media not in produces:
        found.append(f"answered {media!r}, the model produces {produces}")
    if "schema" not in operation["responses"][status]:
        return found
    try:
        body = json.loads(reply.payload())
    except ValueError:
        return [*found, "the answer is not JSON"]
    validator = _validator(model, template, method.lower(), status)
    found += [f"answer {status} {e}" for e in _errors(validator, body)]
    return found
