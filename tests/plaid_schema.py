"""Plaid's published OpenAPI document (tests/fixtures), checking bodies against it."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).parent / "fixtures" / "plaid-openapi-2020-09-14.yml.gz"
SPEC_URI = "urn:plaid-openapi-2020-09-14"


class PlaidSchema:
    """Checks JSON bodies against the schemas of Plaid's OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, OAS30Validator] = {}

    def response_pointer(self, endpoint: str, status: int) -> str:
        """Where the schema for this endpoint's answer with this status lives."""
        which = "200" if 200 <= status < 300 else "default"
        return f"/paths/{_escape(endpoint)}/post/responses/{which}/content/application~1json/schema"

    def request_pointer(self, endpoint: str) -> str:
        """Where the schema for this endpoint's request body lives."""
        return f"/paths/{_escape(endpoint)}/post/requestBody/content/application~1json/schema"

    def errors(self, pointer: str, body: object) -> list[str]:
        """Every way `body` breaks the schema at `pointer` (empty when it conforms)."""
        validator = self._validators.get(pointer)
        if validator is None:
            validator = OAS30Validator(
                {"$ref": f"{SPEC_URI}#{pointer}"},
                registry=self._registry,
                format_checker=oas30_format_checker,
            )
            self._validators[pointer] = validator
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in validator.iter_errors(body)
        ]


@functools.cache
def plaid_schema() -> PlaidSchema:
    """Loaded once per process: the document is 3 MB of YAML."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with gzip.open(SPEC_PATH, "rb") as f:
        document: dict[str, Any] = yaml.load(f, Loader=loader)
    return PlaidSchema(document)


def _escape(endpoint: str) -> str:
    return endpoint.replace("~", "~0").replace("/", "~1")
