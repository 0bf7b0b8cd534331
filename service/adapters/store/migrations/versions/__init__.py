"""Versioned schema changes, applied in order; never edit one that has shipped."""
