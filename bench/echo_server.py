"""A bare grpc.aio unary server: the baseline the bench compares EvaluatePayment with.

`bench.v1.EchoService/Echo` (bench/echo.proto) through a generic handler on raw bytes: no
message parsing, no interceptors; it answers a fixed EchoResponse of `--response-bytes`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc


def encoded_response(size: int) -> bytes:
    """An EchoResponse whose `payload` (field 1, bytes) makes it about `size` bytes."""
    payload = b"x" * max(0, size - 4)
    length, varint = len(payload), bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    return b"\x0a" + bytes(varint) + payload


async def serve(listen: str, response_bytes: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    response = encoded_response(response_bytes)

    async def echo(
        _request: bytes, _context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        return response

    handler = grpc.method_handlers_generic_handler(
        "bench.v1.EchoService",
        {"Echo": grpc.unary_unary_rpc_method_handler(echo)},
    )
    server = grpc.aio.server(options=[("grpc.server.max_pending_requests", 8192)])
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(listen) == 0:
        raise OSError(f"cannot listen on {listen}")
    await server.start()
    print(f"echo listening on {listen}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:50061")
    parser.add_argument("--response-bytes", type=int, default=1500)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.response_bytes))
