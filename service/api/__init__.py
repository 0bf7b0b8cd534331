"""The thin gRPC layer: convert, call the shell, convert back, map errors."""
