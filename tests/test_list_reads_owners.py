"""HubSpot's owners, read whole and kept: one read for many lookups, again after the TTL or for a new id."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from crmgraph.adapters.hubspot import owners as owners_module
from crmgraph.adapters.hubspot.owners import OwnerDirectory

OWNERS = {"1": {"id": "1", "email": "a@x.example"}, "2": {"id": "2", "email": "b@x.example"}}


class Reader:
    """The account's owner list, counting how often it is read."""

    def __init__(self, fail: bool = False) -> None:
        self.reads = 0
        self.fail = fail
        self.owners: dict[str, Any] = dict(OWNERS)

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("the owner list is unavailable")
        return dict(self.owners)


def test_concurrent_lookups_share_one_read_and_later_ones_none() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], int]:
        directory, reader = OwnerDirectory(ttl_s=60), Reader()
        found = list(await asyncio.gather(*(directory.lookup(["1", "2"], reader) for _ in range(5))))
        found.append(await directory.lookup(["2"], reader))
        return found, reader.reads

    found, reads = asyncio.run(scenario())
    assert reads == 1
    assert found[:5] == [OWNERS] * 5 and found[5] == {"2": OWNERS["2"]}


def test_the_list_is_read_again_after_its_ttl() -> None:
    async def scenario() -> int:
        directory, reader = OwnerDirectory(ttl_s=0.02), Reader()
        await directory.lookup(["1"], reader)
        await asyncio.sleep(0.03)
        await directory.lookup(["1"], reader)
        return reader.reads

    assert asyncio.run(scenario()) == 2


def test_an_unknown_id_reads_the_list_again_at_most_every_few_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        directory, reader = OwnerDirectory(ttl_s=60), Reader()
        await directory.lookup(["1"], reader)
        reader.owners["3"] = {"id": "3", "email": "c@x.example"}  # an owner created since
        unknown_now = await directory.lookup(["3"], reader)  # too soon after the read: not read again
        monkeypatch.setattr(owners_module, "MIN_REFRESH_S", 0.0)
        found_later = await directory.lookup(["3"], reader)
        return unknown_now, found_later, reader.reads

    unknown_now, found_later, reads = asyncio.run(scenario())
    assert unknown_now == {} and found_later == {"3": {"id": "3", "email": "c@x.example"}} and reads == 2


def test_a_failed_read_fails_its_callers_and_is_not_kept() -> None:
    async def scenario() -> tuple[int, dict[str, Any]]:
        directory, reader = OwnerDirectory(ttl_s=60), Reader(fail=True)
        results = await asyncio.gather(*(directory.lookup(["1"], reader) for _ in range(3)), return_exceptions=True)
        assert all(isinstance(result, RuntimeError) for result in results)
        reader.fail = False
        found = await directory.lookup(["1"], reader)
        return reader.reads, found

    reads, found = asyncio.run(scenario())
    assert reads == 2 and found == {"1": OWNERS["1"]}
