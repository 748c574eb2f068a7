"""The adapter SDK's runtime: what every adapter builds on (contract, calls, HTTP transport, resilience).

Plugin authors import the stable names from :mod:`crmgraph.adapters`; the contract suite their tests run is
:mod:`crmgraph.adapters.sdk.testing`.
"""
