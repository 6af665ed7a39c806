"""The fake SP-API (tests/fake_spapi) against Amazon's own models (shared/sp-api-models).

Every path and method the fake serves as SP-API exists in the models under the same
operationId; required query parameters and bodies are enforced (400 without them); and
every JSON answer, success or error, validates against the model's response schema for
its status, with a small recursive checker for the swagger 2.0 subset the models use.
"""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
import pytest

from tests.fake_spapi import ROUTES, FakeSPAPI
from tests.fake_spapi.auth import access_token_for
from tests.fake_spapi.schema import MODELS, load, problems

DE = "A1PA6795UKMFR9"
ORDER = "302-1111111-2222222"
pytestmark = pytest.mark.skipif(not MODELS.is_dir(), reason=f"no models in {MODELS}")


def test_the_checker_catches_what_it_claims():
    defs = {
        "Money": {
            "type": "object",
            "required": ["amount"],
            "properties": {"amount": {"type": "string"}},
        },
        "S": {"type": "string", "enum": ["A", "B"]},
    }
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/definitions/Money"}},
            "s": {"$ref": "#/definitions/S"},
        },
    }
    assert problems({"items": [{"amount": "1.00"}], "s": "A"}, schema, defs) == []
    assert problems({}, schema, defs) == ["$: missing required 'items'"]
    assert problems({"items": [{"amount": 1}]}, schema, defs) == [
        "$.items[0].amount: expected string, got int 1"
    ]
    assert problems({"items": [], "s": "C"}, schema, defs) == ["$.s: 'C' is not one of ['A', 'B']"]


# -- the fake and valid sample requests per operation --------------------------------


@pytest.fixture
def fake():
    with FakeSPAPI() as server:
        server.add_order(ORDER, delivered_days_ago=7)
        server.add_order("302-3333333-4444444", fulfilled_by="AMAZON", delivered_days_ago=10)
        server.page_size = 1  # every list answer carries a next token
        for op in server.limits:
            server.limits[op] = (100.0, 100)  # the contract, not the usage plans
        yield server


class Client:
    def __init__(self, fake):
        self.fake = fake
        self.http = httpx.Client(
            base_url=fake.url,
            headers={"x-amz-access-token": access_token_for("good-refresh-token")},
            timeout=5,
        )

    def send(self, method, path, query=None, body=None):
        if body is None:
            return self.http.request(method, path, params=query)
        return self.http.request(
            method,
            path,
            params=query,
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )


PDF = b"%PDF-1.4 fake invoice\n%%EOF\n"
MD5 = base64.b64encode(hashlib.md5(PDF).digest()).decode()


def uploaded(client: Client, kind: str) -> str:
    answer = client.send(
        "POST",
        f"/uploads/2020-11-01/uploadDestinations/messaging/v1/orders/{ORDER}/messages/{kind}",
        {"marketplaceIds": DE, "contentMD5": MD5, "contentType": "application/pdf"},
    ).json()["payload"]
    put = httpx.put(answer["url"], content=PDF, headers=answer["headers"])
    assert put.status_code == 200, put.text
    return answer["uploadDestinationId"]


def report_ids(client: Client) -> tuple[str, str]:
    created = client.send(
        "POST",
        "/reports/2021-06-30/reports",
        body={
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
            "marketplaceIds": [DE],
            "dataStartTime": "2020-01-01T00:00:00Z",
        },
    ).json()["reportId"]
    while True:
        report = client.send("GET", f"/reports/2021-06-30/reports/{created}").json()
        if report["processingStatus"] == "DONE":
            return created, report["reportDocumentId"]


MESSAGE_BODIES = {
    "confirmCustomizationDetails": {"text": "Which name should we engrave?"},
    "confirmDeliveryDetails": {"text": "When can we deliver?"},
    "confirmOrderDetails": {"text": "Please confirm the size."},
    "confirmServiceDetails": {"text": "When may the technician come?"},
    "unexpectedProblem": {"text": "The parcel is delayed."},
    "digitalAccessKey": {"text": "Your key: ABCD-1234"},
    "legalDisclosure": {},
}


def sample(client: Client, route) -> tuple[str, str, dict, object]:
    """A valid request for the route: (method, path, query, body)."""
    t, mkt = route.template, {"marketplaceIds": DE}
    if t == "/orders/2026-01-01/orders":
        return (
            "GET",
            t,
            {
                "lastUpdatedAfter": "2020-01-01T00:00:00Z",
                "marketplaceIds": DE,
                "includedData": "FULFILLMENT,PACKAGES,PROCEEDS,BUYER,RECIPIENT",
            },
            None,
        )
    if t == "/orders/v0/orders":
        return "GET", t, {"LastUpdatedAfter": "2020-01-01T00:00:00Z", "MarketplaceIds": DE}, None
    if t.startswith("/orders/2026-01-01/"):
        return "GET", t.replace("{orderId}", ORDER), {"includedData": "FULFILLMENT,PACKAGES"}, None
    if t.startswith("/orders/"):
        return "GET", t.replace("{orderId}", ORDER), {}, None
    if t.startswith("/uploads/"):
        path = t.replace("{resource}", f"messaging/v1/orders/{ORDER}/messages/invoice")
        return "POST", path, {**mkt, "contentMD5": MD5, "contentType": "application/pdf"}, None
    if t.endswith("/messages/invoice") or t.endswith("/messages/warranty"):
        kind = t.rsplit("/", 1)[1]
        body = {
            "attachments": [{"uploadDestinationId": uploaded(client, kind), "fileName": "i.pdf"}]
        }
        return "POST", t.replace("{amazonOrderId}", ORDER), mkt, body
    if "/messages/" in t:
        kind = t.rsplit("/", 1)[1]
        return "POST", t.replace("{amazonOrderId}", ORDER), mkt, MESSAGE_BODIES[kind]
    if t.startswith("/solicitations/") or t.startswith("/messaging/"):
        return route.method, t.replace("{amazonOrderId}", ORDER), mkt, None
    if t == "/reports/2021-06-30/reports":
        body = {
            "reportType": "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
            "marketplaceIds": [DE],
        }
        return "POST", t, {}, body
    if t.endswith("{reportId}"):
        return "GET", t.replace("{reportId}", report_ids(client)[0]), {}, None
    if t.endswith("{reportDocumentId}"):
        return "GET", t.replace("{reportDocumentId}", report_ids(client)[1]), {}, None
    raise AssertionError(f"no sample request for {t}")


SPAPI_ROUTES = [r for r in ROUTES if r.model]


def model_operation(route) -> tuple[dict, dict]:
    model = load(route.model)
    return model["paths"][route.template][route.method.lower()], model["definitions"]


@pytest.mark.parametrize("route", SPAPI_ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_every_served_operation_exists_in_the_models(route):
    model = load(route.model)
    assert route.template in model["paths"], f"{route.template} is not in {route.model}"
    operation = model["paths"][route.template].get(route.method.lower())
    assert operation is not None, f"{route.method} {route.template} is not in {route.model}"
    assert operation["operationId"] == route.operation


def test_the_models_cover_what_the_plugin_calls():
    """Each operation the Amazon plugin uses is served by the fake."""
    served = {r.operation for r in SPAPI_ROUTES}
    used = {
        "searchOrders", "getOrders", "getOrderItems", "getSolicitationActionsForOrder",
        "createProductReviewAndSellerFeedbackSolicitation", "getMessagingActionsForOrder",
        "GetAttributes", "confirmCustomizationDetails", "createConfirmDeliveryDetails",
        "createUnexpectedProblem", "CreateWarranty", "sendInvoice", "createDigitalAccessKey",
        "createUploadDestinationForResource", "createReport", "getReport", "getReportDocument",
    }  # fmt: skip
    assert used <= served, used - served


@pytest.mark.parametrize("route", SPAPI_ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_answers_validate_against_the_response_schemas(fake, route):
    client = Client(fake)
    operation, defs = model_operation(route)
    method, path, query, body = sample(client, route)
    for param in operation.get("parameters", []):
        if param["in"] == "body":  # the sample itself is what the model describes
            assert problems(body, param["schema"], defs) == []
    answer = client.send(method, path, query, body)
    assert answer.status_code < 300, answer.text
    schema = operation["responses"][str(answer.status_code)].get("schema")
    assert schema is not None, f"the model has no {answer.status_code} answer for {path}"
    assert problems(answer.json(), schema, defs) == []
    assert answer.headers["x-amzn-RateLimit-Limit"]
    # an unknown id answers the model's error shape for that status
    if "{" in route.template:
        unknown = route.template
        for name in ("{orderId}", "{amazonOrderId}", "{reportId}", "{reportDocumentId}"):
            unknown = unknown.replace(name, "999-0000000-0000000")
        if "{resource}" not in unknown:
            answer = client.send(method, unknown, query, body)
            assert answer.status_code == 404, answer.text
            schema = operation["responses"]["404"]["schema"]
            assert problems(answer.json(), schema, defs) == []


@pytest.mark.parametrize("route", SPAPI_ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_required_parameters_are_enforced(fake, route):
    client = Client(fake)
    operation, defs = model_operation(route)
    method, path, query, body = sample(client, route)
    required = [
        p
        for p in operation.get("parameters", [])
        if p.get("required") and p["in"] in ("query", "body")
    ]
    for param in required:
        if param["in"] == "query":
            answer = client.send(
                method, path, {k: v for k, v in query.items() if k != param["name"]}, body
            )
        else:
            answer = client.send(method, path, query, None)
            if answer.status_code < 300 and route.operation not in ("sendInvoice", "createReport"):
                continue  # an empty body is a valid body for messages without required fields
        assert answer.status_code == 400, (
            f"{param['name']} missing: {answer.status_code} {answer.text}"
        )
        assert problems(answer.json(), operation["responses"]["400"]["schema"], defs) == []
        # The fake's own model check saw the bad request too (and it is this test's doing).
        assert any(param["name"] in v or "body" in v for v in fake.violations), fake.violations
        fake.violations.clear()


def test_throttled_and_faulted_answers_use_the_error_shape(fake):
    client = Client(fake)
    operation, defs = model_operation(
        next(r for r in SPAPI_ROUTES if r.operation == "searchOrders")
    )
    fake.limits["searchOrders"] = (0.0056, 1)
    query = {"lastUpdatedAfter": "2020-01-01T00:00:00Z", "marketplaceIds": DE}
    assert client.send("GET", "/orders/2026-01-01/orders", query).status_code == 200
    throttled = client.send("GET", "/orders/2026-01-01/orders", query)
    assert throttled.status_code == 429 and fake.throttled == 1
    assert problems(throttled.json(), operation["responses"]["429"]["schema"], defs) == []
    fake.limits["searchOrders"] = (100.0, 100)
    fake.faults["searchOrders"] = ["500"]
    failed = client.send("GET", "/orders/2026-01-01/orders", query)
    assert failed.status_code == 500
    assert problems(failed.json(), operation["responses"]["500"]["schema"], defs) == []
    # 2 sent past the limit (the 429 is not a call Amazon acted on)
    assert fake.count("searchOrders") == 2


def test_unknown_paths_and_bad_tokens_are_refused(fake):
    client = Client(fake)
    assert client.send("GET", "/orders/v0/nothing").status_code == 404
    denied = httpx.get(
        fake.url + "/orders/v0/orders",
        params={"MarketplaceIds": DE, "CreatedAfter": "2020-01-01T00:00:00Z"},
        headers={"x-amz-access-token": "Atza|stolen"},
    )
    assert denied.status_code == 403 and fake.count("getOrders") == 0


# -- the fake's own check of every request and answer ---------------------------------


def test_a_model_violation_is_recorded_and_fails_at_exit():
    """What makes every end-to-end test a contract test: the fake checks each request
    and answer against the models and raises when it is closed."""
    server = FakeSPAPI()
    with pytest.raises(AssertionError, match="violation") as raised:
        with server:
            server.add_order(ORDER)
            client = Client(server)
            # marketplaceIds has at most one item in the model
            client.send("GET", f"/messaging/v1/orders/{ORDER}", {"marketplaceIds": f"{DE},{DE}"})
            # a body where the model has none
            client.send(
                "POST",
                f"/solicitations/v1/orders/{ORDER}/solicitations/productReviewAndSellerFeedback",
                {"marketplaceIds": DE},
                {"marketplaceIds": [DE]},
            )
    text = str(raised.value)
    assert "marketplaceIds: 2 values, the model allows 1" in text
    assert "where the model defines none" in text


def test_answers_the_fake_would_send_wrongly_are_caught():
    from tests.fake_spapi.http import Reply
    from tests.fake_spapi.validate import answer_problems

    path = "/solicitations/v1/orders/{amazonOrderId}"
    good = {"_links": {"self": {"href": "/x"}, "actions": []}, "_embedded": {"actions": []}}
    hal = "application/hal+json"
    assert (
        answer_problems("solicitations.json", path, "GET", Reply(200, good, content_type=hal)) == []
    )
    assert answer_problems("solicitations.json", path, "GET", Reply(200, good)) == [
        "answered 'application/json', the model produces ['application/hal+json']"
    ]
    missing = {"_links": {"actions": []}, "_embedded": {"actions": []}}
    [problem] = answer_problems(
        "solicitations.json", path, "GET", Reply(200, missing, content_type=hal)
    )
    assert "'self' is a required property" in problem
    assert answer_problems("solicitations.json", path, "GET", Reply(418, {})) == [
        "status 418 is not an answer the model lists"
    ]
    participation = {"isParticipating": True, "hasSuspendedListings": False}
    market = {"id": DE, "name": "Amazon.de"}
    sellers = {"payload": [{"marketplace": market, "participation": participation}]}
    found = answer_problems(
        "sellers", "/sellers/v1/marketplaceParticipations", "GET", Reply(200, sellers)
    )
    assert len(found) == 4 and all("is a required property" in p for p in found)


def test_requests_that_break_the_models_are_caught():
    from tests.fake_spapi.http import Request
    from tests.fake_spapi.validate import request_problems

    def create_report(body, content_type="application/json"):
        req = Request(
            "POST",
            "/reports/2021-06-30/reports",
            {},
            {"content-type": content_type},
            raw=json.dumps(body).encode(),
        )
        return request_problems(REPORTS, "/reports/2021-06-30/reports", req)

    good = {"reportType": "GET_SELLER_FEEDBACK_DATA", "marketplaceIds": [DE]}
    assert create_report(good) == []
    assert create_report({**good, "dataStartTime": "2026-11-01T00:00:00Z"}) == []
    [late] = create_report({**good, "dataStartTime": "yesterday"})
    assert "dataStartTime" in late and "date-time" in late
    [missing] = create_report({"marketplaceIds": [DE]})
    assert "'reportType' is a required property" in missing
    assert create_report(good, "text/plain") == [
        "body sent as 'text/plain', the model consumes application/json"
    ]
    search = Request("GET", "/orders/2026-01-01/orders", {"lastUpdatedAfter": ["last week"]}, {})
    assert request_problems("orders_2026-01-01.json", "/orders/2026-01-01/orders", search) == [
        "lastUpdatedAfter: 'last week' is not an RFC 3339 date-time"
    ]


REPORTS = "reports_2021-06-30.json"
