"""Server reflection that also resolves method symbols, so ghz and grpcurl need no protos.

grpcio-reflection's servicer answers `file_containing_symbol` with the descriptor pool's
`FindFileContainingSymbol`, and the upb protobuf runtime's pool finds services, messages,
enums and fields there but not a method (`pkg.Service.Method`): it raises KeyError, and
the client sees NOT_FOUND. ghz asks for exactly that symbol (`--call pkg.Service.Method`)
and so does `grpcurl describe pkg.Service.Method`: both failed with "Symbol not found".
A method is declared in its service's file, so when the pool cannot place a symbol and
the name before its last dot is a service with a method of that name, this servicer
answers with the service's file. Every other request is grpcio-reflection's own answer.

grpcio-reflection ships only `grpc.reflection.v1alpha.ServerReflection`; clients that try
`v1` first (grpcurl, ghz) fall back to it on UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

SERVICE_NAME: str = reflection.SERVICE_NAME


class MethodAwareReflectionServicer(ReflectionServicer):  # type: ignore[misc]
    """grpcio-reflection's asyncio servicer, plus method symbols (see the module doc)."""

    def __init__(
        self,
        service_names: Iterable[str],
        pool: descriptor_pool.DescriptorPool | None = None,
    ) -> None:
        self._methods_pool = pool or descriptor_pool.Default()
        super().__init__(service_names, pool=self._methods_pool)

    # The one hook the base class's ServerReflectionInfo calls for this request
    # (grpc_reflection/v1alpha/_base.py); tests/e2e/test_reflection.py fails if a
    # release of grpcio-reflection stops calling it.
    def _file_containing_symbol(
        self, request: reflection_pb2.ServerReflectionRequest, symbol: str
    ) -> reflection_pb2.ServerReflectionResponse:
        response = super()._file_containing_symbol(request, symbol)
        if response.HasField("error_response"):
            service = self._service_of_method(symbol)
            if service is not None:
                response = super()._file_containing_symbol(request, service)
        return response

    def _service_of_method(self, symbol: str) -> str | None:
        """`pkg.Service` when `symbol` is `pkg.Service.Method` of a known service."""
        service_name, _, method = symbol.rpartition(".")
        if not service_name:
            return None
        try:
            service = self._methods_pool.FindServiceByName(service_name)
        except KeyError:
            return None
        return service_name if method in service.methods_by_name else None


def enable_reflection(service_names: Iterable[str], server: grpc.aio.Server) -> None:
    """Serve reflection for `service_names` (plus reflection itself) on `server`."""
    names = (*service_names, SERVICE_NAME)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        MethodAwareReflectionServicer(names), server
    )
