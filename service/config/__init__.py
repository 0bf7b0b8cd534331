"""Settings from the environment and the TOML file, validated once at start-up.

Each section of the file has one model here; the values they produce are handed to the
composition root (service/main.py), which passes them on. Nothing below this layer
imports it (docs/architecture.md).
"""
