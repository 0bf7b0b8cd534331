"""Write Plaid's documented bodies to tests/fixtures/plaid/; `--check` fails on drift.

From the vendored OpenAPI spec: every documented request and 200-response example of the
endpoints we call, one JSON file each (`<endpoint>.<request|response>.<name>.json`), and
the top-level `example:` of each response schema when the spec has one. From ERRORS below
(Plaid's error documentation; the spec's PlaidError schema has no example): errors.json.
Every body is validated against its schema before anything is written. MANIFEST.json
records the spec version and sha256 and what was written.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

ROOT: Final = Path(__file__).resolve().parent.parent
SPEC_PATH: Final = ROOT / "tests" / "fixtures" / "plaid-openapi-2020-09-14.yml.gz"
OUT_DIR: Final = ROOT / "tests" / "fixtures" / "plaid"
GENERATOR: Final = "python scripts/plaid_examples.py"
REGENERATE: Final = "make plaid-examples"
MANIFEST: Final = "MANIFEST.json"
ERRORS_FILE: Final = "errors.json"
SPEC_URI: Final = "urn:plaid-openapi-2020-09-14"
PLAID_ERROR_SCHEMA: Final = "/components/schemas/PlaidError"

SIGNAL_EVALUATE: Final = "/signal/evaluate"
BALANCE_GET: Final = "/accounts/balance/get"
DECISION_REPORT: Final = "/signal/decision/report"
RETURN_REPORT: Final = "/signal/return/report"
SIGNAL_PREPARE: Final = "/signal/prepare"
ENDPOINTS: Final = (
    SIGNAL_EVALUATE,
    BALANCE_GET,
    DECISION_REPORT,
    RETURN_REPORT,
    SIGNAL_PREPARE,
)
SIGNAL_ENDPOINTS: Final = (
    SIGNAL_EVALUATE,
    DECISION_REPORT,
    RETURN_REPORT,
    SIGNAL_PREPARE,
)
BALANCE_ONLY: Final = (BALANCE_GET,)

# Documented examples that break their own schema, kept verbatim (they are what Plaid
# documents) with exactly these errors; any other error, or one of these going away,
# fails generation. The /signal/evaluate example predates the required `risk_tier`.
KNOWN_SCHEMA_DEVIATIONS: Final[dict[str, tuple[str, ...]]] = {
    "signal_evaluate.response.example-1.json": (
        "scores/bank_initiated_return_risk: 'risk_tier' is a required property",
        "scores/customer_initiated_return_risk: 'risk_tier' is a required property",
    ),
}


@dataclass(frozen=True)
class DocumentedError:
    """One row of Plaid's error documentation: status, type, code, a message, where."""

    http_status: int
    error_type: str
    error_code: str
    error_message: str
    endpoints: tuple[str, ...] = ENDPOINTS


_RATE_LIMITED = (
    "rate limit exceeded for attempts to access this item. please try again later"
)

# Plaid's documented error codes for these endpoints, with the HTTP status and error_type
# its error reference gives each. The messages are plausible developer text in Plaid's
# style (error_message is not stable and not safe for programmatic use); the one for
# LAST_UPDATED_DATETIME_OUT_OF_RANGE names the newest balance time, as Plaid's does.
ERRORS: Final[tuple[DocumentedError, ...]] = (
    DocumentedError(
        500, "API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred"
    ),
    DocumentedError(
        503,
        "API_ERROR",
        "PLANNED_MAINTENANCE",
        "the Plaid API is temporarily unavailable due to planned maintenance",
    ),
    DocumentedError(429, "RATE_LIMIT_EXCEEDED", "RATE_LIMIT", _RATE_LIMITED),
    DocumentedError(
        429, "RATE_LIMIT_EXCEEDED", "BALANCE_LIMIT", _RATE_LIMITED, BALANCE_ONLY
    ),
    DocumentedError(
        429,
        "RATE_LIMIT_EXCEEDED",
        "ACCOUNTS_BALANCE_GET_LIMIT",
        "rate limit exceeded for /accounts/balance/get for this client. please try again later",
        BALANCE_ONLY,
    ),
    DocumentedError(
        429,
        "RATE_LIMIT_EXCEEDED",
        "INSTITUTION_RATE_LIMIT",
        "rate limit exceeded for requests to this institution. please try again later",
    ),
    DocumentedError(
        429,
        "RATE_LIMIT_EXCEEDED",
        "CREDITS_EXHAUSTED",
        "all of the API credits available to this client for this product have been used",
    ),
    DocumentedError(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_DOWN",
        "this institution is not currently responding to this request. please try again soon",
    ),
    DocumentedError(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_NOT_RESPONDING",
        "the institution did not respond to this request in time. please try again soon",
    ),
    DocumentedError(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_NOT_AVAILABLE",
        "this institution is not currently available",
    ),
    DocumentedError(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_NO_LONGER_SUPPORTED",
        "this institution is no longer supported by Plaid",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "PRODUCT_NOT_READY",
        "the requested product is not yet ready. please provide a webhook or try the request again later",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "ITEM_LOGIN_REQUIRED",
        "the login details of this item have changed (credentials, MFA, or required user action) and a user login is required to update this information. use Link's update mode to restore the item to a good state",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "ITEM_NOT_FOUND",
        "the Item you requested cannot be found. it does not exist, was removed, or the user revoked access to it",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "ITEM_LOCKED",
        "the account is locked. prompt the user to visit the institution's site and unlock their account",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "PRODUCTS_NOT_SUPPORTED",
        "the requested product is not supported for this Item",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "NO_ACCOUNTS",
        "no valid accounts were found for this Item",
    ),
    DocumentedError(
        400,
        "ITEM_ERROR",
        "ACCESS_NOT_GRANTED",
        "the user did not grant the permissions this product needs for their account",
    ),
    DocumentedError(
        400,
        "INVALID_INPUT",
        "INVALID_ACCESS_TOKEN",
        "provided access token is in an invalid format. expected format: access-<environment>-<identifier>",
    ),
    DocumentedError(
        400,
        "INVALID_INPUT",
        "INVALID_ACCOUNT_ID",
        "one or more of the account IDs is invalid or does not belong to this Item",
    ),
    DocumentedError(
        400,
        "INVALID_INPUT",
        "INVALID_API_KEYS",
        "invalid client_id or secret provided",
    ),
    DocumentedError(
        400,
        "INVALID_REQUEST",
        "INVALID_FIELD",
        "access_token must be a non-empty string",
    ),
    DocumentedError(
        400,
        "INVALID_REQUEST",
        "MISSING_FIELDS",
        "the following required fields are missing: access_token",
    ),
    DocumentedError(
        400,
        "INVALID_REQUEST",
        "UNKNOWN_FIELDS",
        "the following fields are not recognized by this endpoint: unexpected_field",
    ),
    DocumentedError(
        400,
        "INVALID_REQUEST",
        "INVALID_BODY",
        "body could not be parsed as JSON",
    ),
    DocumentedError(
        400,
        "INVALID_RESULT",
        "LAST_UPDATED_DATETIME_OUT_OF_RANGE",
        "requested datetime out of range, most recently updated balance 2026-11-30T10:00:00Z",
        BALANCE_ONLY,
    ),
    DocumentedError(
        403,
        "SIGNAL_ERROR",
        "ADDENDUM_NOT_SIGNED",
        "the Signal Addendum has not been signed",
        SIGNAL_ENDPOINTS,
    ),
    DocumentedError(
        403,
        "SIGNAL_ERROR",
        "NOT_ENABLED_FOR_SIGNAL_TRANSACTION_SCORE_RULESETS",
        "the ruleset uses Signal Transaction Scores, but this client is enabled only for Balance-only rulesets",
        SIGNAL_ENDPOINTS,
    ),
    DocumentedError(
        400,
        "SIGNAL_ERROR",
        "CLIENT_TRANSACTION_ID_ALREADY_IN_USE",
        "client_transaction_id has already been used for a different transaction",
        SIGNAL_ENDPOINTS,
    ),
    DocumentedError(
        400,
        "SIGNAL_ERROR",
        "INVALID_CONFIGURATION_STATE",
        "no ruleset_key was given and this client has no default ruleset configured. contact your Account Manager",
        SIGNAL_ENDPOINTS,
    ),
    DocumentedError(
        400,
        "SIGNAL_ERROR",
        "RULESET_NOT_FOUND",
        "no ruleset was found for the provided ruleset_key",
        SIGNAL_ENDPOINTS,
    ),
    DocumentedError(
        400,
        "SIGNAL_ERROR",
        "SIGNAL_TRANSACTION_NOT_INITIATED",
        "no /signal/evaluate call was found for this client_transaction_id",
        SIGNAL_ENDPOINTS,
    ),
)

_DOC_PAGES: Final = {
    "API_ERROR": "api",
    "RATE_LIMIT_EXCEEDED": "rate-limit-exceeded",
    "INSTITUTION_ERROR": "institution",
    "ITEM_ERROR": "item",
    "INVALID_INPUT": "invalid-input",
    "INVALID_REQUEST": "invalid-request",
    "INVALID_RESULT": "invalid-result",
    "SIGNAL_ERROR": "signal",
}
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9]{15}")
_ISO_8601: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"
)
_EXAMPLE_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"


class GenerationError(Exception):
    """The spec or the error table does not give bodies that conform; nothing written."""


class _SpecLoader(yaml.CSafeLoader):
    """Safe YAML where dates stay strings, as they are in JSON bodies."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


class Spec:
    """The vendored OpenAPI document and its digest, checking bodies against its schemas."""

    def __init__(self, document: dict[str, Any], sha256: str) -> None:
        self.document = document
        self.sha256 = sha256
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[str, OAS30Validator] = {}

    @property
    def version(self) -> str:
        return str(self.document["info"]["version"])

    def resolve(self, pointer: str) -> Any:
        """The value at a JSON pointer into the document."""
        node: Any = self.document
        for part in pointer.lstrip("/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]
        return node

    def errors(self, pointer: str, body: object) -> list[str]:
        """Every way `body` breaks the schema at `pointer`, sorted (empty if it conforms)."""
        validator = self._validators.get(pointer)
        if validator is None:
            validator = OAS30Validator(
                {"$ref": f"{SPEC_URI}#{pointer}"},
                registry=self._registry,
                format_checker=oas30_format_checker,
            )
            self._validators[pointer] = validator
        return sorted(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
            for e in validator.iter_errors(body)
        )


def load_spec(path: Path = SPEC_PATH) -> Spec:
    raw = gzip.decompress(path.read_bytes())
    document = yaml.load(raw, Loader=_SpecLoader)  # noqa: S506 (a safe loader)
    if not isinstance(document, dict):
        raise GenerationError(f"{path} is not an OpenAPI document")
    return Spec(document, hashlib.sha256(raw).hexdigest())


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def slug(endpoint: str) -> str:
    """`/accounts/balance/get` -> `accounts_balance_get`."""
    return endpoint.strip("/").replace("/", "_")


@dataclass(frozen=True)
class Example:
    """One documented body: where it is in the spec and which schema it answers to."""

    file: str
    endpoint: str
    kind: str
    name: str
    source: str
    schema: str
    value: Any = field(compare=False)

    def manifest_entry(self) -> dict[str, object]:
        return {
            "file": self.file,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "schema": self.schema,
            "schema_deviations": list(KNOWN_SCHEMA_DEVIATIONS.get(self.file, ())),
        }


def examples(spec: Spec) -> Iterator[Example]:
    """Every documented example of ENDPOINTS, request bodies then 200 responses."""
    for endpoint in ENDPOINTS:
        operation = pointer("paths", endpoint, "post")
        for kind, media in (
            (
                "request",
                f"{operation}{pointer('requestBody', 'content', 'application/json')}",
            ),
            (
                "response",
                f"{operation}{pointer('responses', '200', 'content', 'application/json')}",
            ),
        ):
            content = spec.resolve(media)
            schema = f"{media}/schema"
            if "example" in content:
                raise GenerationError(f"{media}: a single `example` is not handled")
            for name in sorted(content.get("examples", {})):
                if not _EXAMPLE_NAME.fullmatch(name):
                    raise GenerationError(
                        f"{media}: example name {name!r} is not a file name"
                    )
                source = f"{media}{pointer('examples', name, 'value')}"
                yield Example(
                    f"{slug(endpoint)}.{kind}.{name}.json",
                    endpoint,
                    kind,
                    name,
                    source,
                    schema,
                    spec.resolve(source),
                )
            if kind == "response":
                yield from _schema_example(spec, endpoint, schema)


def _schema_example(spec: Spec, endpoint: str, schema: str) -> Iterator[Example]:
    """The top-level `example:` of a response schema (following $refs), if it has one."""
    target = schema
    node = spec.resolve(target)
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise GenerationError(f"{target}: external $ref {ref} is not handled")
        target = ref[1:]
        node = spec.resolve(target)
    if "example" in node:
        yield Example(
            f"{slug(endpoint)}.response.schema-example.json",
            endpoint,
            "response",
            "schema-example",
            f"{target}/example",
            schema,
            node["example"],
        )


def request_id(error_code: str) -> str:
    """A stable 15-character alphanumeric request_id, as Plaid's look."""
    number = int.from_bytes(hashlib.sha256(error_code.encode()).digest(), "big")
    chars = []
    for _ in range(15):
        number, digit = divmod(number, len(_BASE62))
        chars.append(_BASE62[digit])
    return "".join(chars)


def error_entries() -> list[dict[str, Any]]:
    """errors.json: each documented error's status, endpoints and body."""
    return [
        {
            "http_status": e.http_status,
            "endpoints": list(e.endpoints),
            "body": {
                "error_type": e.error_type,
                "error_code": e.error_code,
                "error_message": e.error_message,
                "display_message": None,
                "request_id": request_id(e.error_code),
                "documentation_url": (
                    f"https://plaid.com/docs/errors/{_DOC_PAGES[e.error_type]}/"
                    f"#{e.error_code.lower()}"
                ),
                "suggested_action": None,
            },
        }
        for e in ERRORS
    ]


def _error_problems(spec: Spec, entries: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    codes = [e.error_code for e in ERRORS]
    problems += [
        f"error code {c} is listed twice" for c in set(codes) if codes.count(c) > 1
    ]
    for documented, entry in zip(ERRORS, entries, strict=True):
        body = entry["body"]
        where = f"{ERRORS_FILE} {documented.error_code}"
        problems += [f"{where}: {e}" for e in spec.errors(PLAID_ERROR_SCHEMA, body)]
        if not _REQUEST_ID.fullmatch(str(body.get("request_id"))):
            problems.append(f"{where}: request_id is not 15 alphanumeric characters")
        if not 400 <= documented.http_status <= 599:
            problems.append(
                f"{where}: HTTP status {documented.http_status} is no error"
            )
        if not documented.endpoints or set(documented.endpoints) - set(ENDPOINTS):
            problems.append(f"{where}: endpoints {documented.endpoints} are not ours")
        if documented.error_code == "LAST_UPDATED_DATETIME_OUT_OF_RANGE" and not (
            _ISO_8601.search(documented.error_message)
        ):
            problems.append(f"{where}: the message names no ISO 8601 balance time")
    return problems


def _example_problems(spec: Spec, found: list[Example]) -> list[str]:
    problems: list[str] = []
    for example in found:
        expected = sorted(KNOWN_SCHEMA_DEVIATIONS.get(example.file, ()))
        actual = spec.errors(example.schema, example.value)
        if actual != expected:
            problems.append(
                f"{example.file} ({example.source}) against {example.schema}: "
                f"schema errors {actual}, expected {expected}"
            )
    names = {e.file for e in found}
    problems += [
        f"{name}: KNOWN_SCHEMA_DEVIATIONS names an example the spec no longer has"
        for name in sorted(set(KNOWN_SCHEMA_DEVIATIONS) - names)
    ]
    problems += [
        f"{endpoint}: the spec documents no 200 response example"
        for endpoint in ENDPOINTS
        if not any(e.endpoint == endpoint and e.kind == "response" for e in found)
    ]
    return problems


def dump(value: object) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return (
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    ).encode()


def render(spec: Spec) -> dict[str, bytes]:
    """Every file of tests/fixtures/plaid by name, after validating every body."""
    found = list(examples(spec))
    entries = error_entries()
    problems = _example_problems(spec, found) + _error_problems(spec, entries)
    if problems:
        raise GenerationError(
            "documented bodies do not match the spec:\n  " + "\n  ".join(problems)
        )
    files = {e.file: dump(e.value) for e in found}
    files[ERRORS_FILE] = dump(entries)
    files[MANIFEST] = dump(
        {
            "generator": GENERATOR,
            "regenerate": REGENERATE,
            "spec": {
                "path": str(SPEC_PATH.relative_to(ROOT)),
                "version": spec.version,
                "sha256": spec.sha256,
            },
            "files": sorted(files),
            "examples": [e.manifest_entry() for e in found],
            "errors": {
                "file": ERRORS_FILE,
                "schema": PLAID_ERROR_SCHEMA,
                "count": len(entries),
            },
        }
    )
    return files


def differences(files: dict[str, bytes], out_dir: Path = OUT_DIR) -> list[str]:
    """How `out_dir` differs from `files`: missing, differing and extra files."""
    present = (
        {p.name for p in out_dir.iterdir() if p.is_file()}
        if out_dir.is_dir()
        else set()
    )
    found = [f"missing: {name}" for name in sorted(set(files) - present)]
    found += [
        f"differs: {name}"
        for name in sorted(set(files) & present)
        if (out_dir / name).read_bytes() != files[name]
    ]
    found += [f"extra: {name}" for name in sorted(present - set(files))]
    return found


def check(spec: Spec | None = None, out_dir: Path = OUT_DIR) -> list[str]:
    """Regenerate in memory; the differences from `out_dir` (empty when up to date)."""
    return differences(render(spec or load_spec()), out_dir)


def write(files: dict[str, bytes], out_dir: Path = OUT_DIR) -> None:
    """Make `out_dir` hold exactly `files`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in out_dir.iterdir():
        if path.is_file() and path.name not in files:
            path.unlink()
    for name, content in files.items():
        target = out_dir / name
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if out of date")
    args = parser.parse_args(argv)
    try:
        files = render(load_spec())
    except GenerationError as exc:
        print(f"plaid_examples: {exc}", file=sys.stderr)
        return 2
    out = OUT_DIR.relative_to(ROOT)
    if args.check:
        drift = differences(files)
        if drift:
            print(f"{out} drifted from the spec; run `{REGENERATE}`:", file=sys.stderr)
            for line in drift:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"{out} is up to date ({len(files)} files)")
        return 0
    write(files)
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
