"""The adapter contract suite: the tests every adapter passes, shipped ones and plugins alike.

Use it from your plugin's tests::

    from crmgraph.adapters.sdk.testing import AdapterContract, ContractSamples

    class TestMySystemAdapter(AdapterContract):
        @pytest.fixture
        def make_adapter(self):             # a fresh, unopened adapter talking to a real test system
            return lambda: MySystemAdapter("mysystem", {"url": ...})

        @pytest.fixture
        def make_unreachable_adapter(self): # the same adapter pointed at a closed port
            return lambda: MySystemAdapter("mysystem", {"url": "http://127.0.0.1:9"})

        @pytest.fixture
        def contract_samples(self):         # ids and keys that exist in the test system
            return ContractSamples(known_ids={"party": [...]}, related_keys={("order", "party"): [...]})
"""

from __future__ import annotations

from crmgraph.adapters.sdk.testing.contract import AdapterContract, ContractSamples, run_with

__all__ = ["AdapterContract", "ContractSamples", "run_with"]
