"""ach-risk: decides whether to debit a bank account, over gRPC, with Plaid's evidence.

One folder per layer; each may import only the layers below it (docs/architecture.md):

    cli, main      the command line and the composition root (wires everything)
    api, config    the gRPC surface; settings from the environment and the TOML file
    adapters, ops  Plaid over HTTP and the SQL ledger; logs, metrics, health
    app            the use cases and the ports they own
    domain         the decision core: standard library only
"""
