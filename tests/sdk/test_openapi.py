"""The OpenAPI document a running gateway serves at /api/openapi.json,
checked by an independent validator (openapi-spec-validator, against the
OpenAPI 3.1 meta-schema and its rules: unique operation ids, resolvable
references, path parameters declared), read without a key."""

import json
import urllib.request

from openapi_spec_validator import OpenAPIV31SpecValidator, validate


def test_the_served_document_is_valid_openapi_3_1(gateway):
    with urllib.request.urlopen(f"{gateway.url}/api/openapi.json") as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        doc = json.load(r)
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/outcomes/{id}/validate" in doc["paths"]
    # Every operation can be named by a generated client.
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), ids
