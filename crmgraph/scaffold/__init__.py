"""Starting points for a new source: ``crmgraph adapters new NAME`` (see docs/adapters.md).

Two kinds: a YAML source for the declarative REST adapter (the first choice for an HTTP API), or a
Python adapter package with its entry point and the contract suite wired into its tests. Either passes
its own tests as generated, against a stand-in API it ships with.
"""
