"""The gRPC surface: decode, convert to app values, call a use case, convert back.

interceptors.py admits calls (API keys, load shedding), servicer.py handles the five
RPCs, convert*.py translate protobuf to and from app values, status.py maps every
exception to a gRPC status with details, reflection.py serves reflection
(method symbols included). Imports service.app, service.domain and
service.ops (metrics); never an adapter (docs/architecture.md).
"""
