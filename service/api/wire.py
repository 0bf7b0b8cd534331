"""Requests whose bytes do not decode: named field by field, never an exception.

gRPC's default deserializer raises on bad bytes (invalid UTF-8, a corrupt length), which
grpc.aio answers UNKNOWN with the exception's text, before authentication. The handlers
get an `Undecodable` instead, refuse it after authentication as INVALID_ARGUMENT, and
a stream answers it in its place and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from service.app.errors import FieldViolation, InvalidRequest

# A message nested deeper than this is refused whole (protobuf's own limit is 100).
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What a request's bytes became when they did not decode: where they went wrong."""

    violations: tuple[FieldViolation, ...]

    def error(self) -> InvalidRequest:
        return InvalidRequest(list(self.violations))


def tolerant(
    deserialize: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """`deserialize`, answering Undecodable where it would raise."""
    if deserialize is None:
        return None
    message_class = getattr(deserialize, "__self__", None)
    descriptor = getattr(message_class, "DESCRIPTOR", None)

    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except (DecodeError, ValueError, RuntimeError):
            where = _locate(descriptor, raw, "", 0) if descriptor else None
            return Undecodable(where or (_whole("the request does not decode"),))

    return parse


def _whole(problem: str, path: str = "") -> FieldViolation:
    return FieldViolation(path or "(request)", problem)


def _locate(
    descriptor: Descriptor, raw: bytes, prefix: str, depth: int
) -> tuple[FieldViolation, ...] | None:
    """The first field of `raw` that does not decode as `descriptor` says."""
    if depth > _MAX_DEPTH:
        return (_whole(f"nested more than {_MAX_DEPTH} levels deep", prefix),)
    at = 0
    while at < len(raw):
        try:
            key, at = _varint(raw, at)
            number, wire_type = key >> 3, key & 7
            payload, at = _payload(raw, at, wire_type)
        except _Corrupt as exc:
            return (_whole(f"corrupt protobuf bytes: {exc}", prefix),)
        field = descriptor.fields_by_number.get(number)
        if field is None:
            continue  # unknown fields are skipped, as protobuf skips them
        path = f"{prefix}.{field.name}" if prefix else field.name
        found = _check(field, wire_type, payload, path, depth)
        if found:
            return found
    return None


def _check(
    field: FieldDescriptor, wire_type: int, payload: bytes, path: str, depth: int
) -> tuple[FieldViolation, ...] | None:
    if field.type == FieldDescriptor.TYPE_STRING and wire_type == 2:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            return (FieldViolation(path, "is not valid UTF-8"),)
        return None
    if field.message_type is not None and wire_type == 2:
        return _locate(field.message_type, payload, path, depth + 1)
    return None


class _Corrupt(Exception):
    """The bytes end inside a field or use a wire type protobuf does not have."""


def _varint(raw: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(raw) or shift > 63:
            raise _Corrupt("a varint runs past the end")
        byte = raw[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _payload(raw: bytes, at: int, wire_type: int) -> tuple[bytes, int]:
    if wire_type == 0:
        _, end = _varint(raw, at)
    elif wire_type == 1:
        end = at + 8
    elif wire_type == 5:
        end = at + 4
    elif wire_type == 2:
        length, at = _varint(raw, at)
        end = at + length
    else:
        raise _Corrupt(f"wire type {wire_type} is not used by this API")
    if end > len(raw):
        raise _Corrupt("a field runs past the end")
    return raw[at:end], end
