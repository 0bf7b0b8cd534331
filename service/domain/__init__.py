"""The functional core: pure decision logic. Standard library only; no I/O, clock or randomness."""
