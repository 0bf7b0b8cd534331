"""The layer rules of docs/architecture.md that import-linter cannot state alone."""

from __future__ import annotations

import subprocess
import sys

import grimp


def test_the_domain_imports_only_the_standard_library_and_itself() -> None:
    graph = grimp.build_graph("service", include_external_packages=True)
    domain = {m for m in graph.modules if m.startswith("service.domain")}
    assert "service.domain.model" in domain  # the graph really holds the domain
    outside = {
        (module, imported)
        for module in domain
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] not in sys.stdlib_module_names
        and not imported.startswith("service.domain")
    }
    assert outside == set()


def test_a_production_process_never_loads_the_emulator() -> None:
    """Only the embedded default (PLAID_ENV=emulator without PLAID_BASE_URL) imports
    plaid_emulator, at that moment; importing the service for serving does not."""
    code = (
        "import sys, service.cli, service.main, service.api.servicer;"
        "sys.exit('plaid_emulator' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
