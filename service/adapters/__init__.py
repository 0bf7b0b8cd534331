"""Thin adapters between the shell's ports and the outside world (Plaid, storage)."""
