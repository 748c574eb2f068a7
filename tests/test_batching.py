"""The per-request batch loader: one batch per turn of the event loop, one read per key, errors per key."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from crmgraph.resolvers.batching import BatchLoader


class Recorder:
    """A load function that records each batch it is asked for and answers ``key * 2`` (``fail`` keys fail)."""

    def __init__(self, fail: Sequence[int] = ()) -> None:
        self.batches: list[list[int]] = []
        self.fail = set(fail)

    async def __call__(self, keys: list[int]) -> list[int | BaseException]:
        self.batches.append(keys)
        await asyncio.sleep(0)
        return [ValueError(f"no {key}") if key in self.fail else key * 2 for key in keys]


def test_keys_asked_in_one_turn_are_one_batch_and_each_key_is_read_once() -> None:
    recorder = Recorder()

    async def scenario() -> tuple[list[int], int]:
        loader = BatchLoader[int, int](recorder)
        first = await asyncio.gather(loader.load(1), loader.load(2), loader.load(1))
        again = await loader.load(2)  # answered already: no second read
        return list(first), again

    assert asyncio.run(scenario()) == ([2, 4, 2], 4)
    assert recorder.batches == [[1, 2]]


def test_keys_asked_in_a_later_turn_make_a_second_batch() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        loader = BatchLoader[int, int](recorder)
        await loader.load(1)
        await loader.load(3)

    asyncio.run(scenario())
    assert recorder.batches == [[1], [3]]


def test_an_error_in_a_slot_fails_that_key_only() -> None:
    async def scenario() -> list[int | BaseException]:
        loader = BatchLoader[int, int](Recorder(fail=[2]))
        return list(await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True))

    ok, failed = asyncio.run(scenario())
    assert ok == 2 and isinstance(failed, ValueError) and str(failed) == "no 2"


def test_a_failed_batch_fails_every_key_and_a_misaligned_answer_is_refused() -> None:
    async def broken(keys: list[int]) -> list[int]:
        raise ConnectionError("gone")

    async def short(keys: list[int]) -> list[int]:
        return keys[:1]

    async def scenario(load_fn: object) -> list[object]:
        loader = BatchLoader[int, int](load_fn)  # type: ignore[arg-type]
        return list(await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True))

    assert all(isinstance(r, ConnectionError) for r in asyncio.run(scenario(broken)))
    misaligned = asyncio.run(scenario(short))
    assert all(isinstance(r, RuntimeError) and "2 keys got 1 results" in str(r) for r in misaligned)


def test_a_batch_whose_callers_all_gave_up_is_not_sent() -> None:
    recorder = Recorder()

    async def scenario() -> None:
        loader = BatchLoader[int, int](recorder)
        loader.load(1).cancel()
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert recorder.batches == []


def test_on_arrival_runs_before_any_waiting_caller_resumes() -> None:
    events: list[str] = []

    async def scenario() -> None:
        loader = BatchLoader[int, int](Recorder())
        future = loader.load(5)

        async def caller() -> None:
            events.append(f"caller got {await future}")

        waiting = asyncio.ensure_future(caller())
        await asyncio.sleep(0)  # the caller is now awaiting the key
        loader.on_arrival(5, lambda value: events.append(f"arrived {value}"))
        await waiting
        loader.on_arrival(5, lambda value: events.append(f"already there {value}"))

    asyncio.run(scenario())
    assert events == ["arrived 10", "caller got 10", "already there 10"]


@pytest.mark.parametrize("failing", ["slot", "batch"])
def test_on_arrival_is_not_called_for_a_key_that_failed(failing: str) -> None:
    called: list[object] = []

    async def broken(keys: list[int]) -> list[int]:
        raise ConnectionError("gone")

    async def scenario() -> None:
        loader = BatchLoader[int, int](Recorder(fail=[1]) if failing == "slot" else broken)
        future = loader.load(1)
        loader.on_arrival(1, called.append)
        with pytest.raises((ValueError, ConnectionError)):
            await future

    asyncio.run(scenario())
    assert called == []


def test_a_failing_on_arrival_callback_does_not_fail_the_batch(caplog: pytest.LogCaptureFixture) -> None:
    def broken(value: int) -> None:
        raise KeyError(value)

    async def scenario() -> int:
        loader = BatchLoader[int, int](Recorder())
        future = loader.load(4)
        loader.on_arrival(4, broken)
        return await future

    assert asyncio.run(scenario()) == 8
    assert "on-arrival callback" in caplog.text


def test_the_answer_waits_for_reads_that_reads_started_ahead_start_in_turn() -> None:
    """Explain's end of execution: a read started ahead that, on arrival, starts another one (the next level
    of a query) is followed by that one too, so no upstream call outlives its request."""
    from types import SimpleNamespace

    from crmgraph.adapters.sdk.calls import CallLog
    from crmgraph.schema.explain import UpstreamExplain

    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        log = CallLog()
        first, second = loop.create_future(), loop.create_future()
        log.started_ahead.add(first)

        def next_level(_: object) -> None:
            log.started_ahead.add(second)
            loop.call_later(0.02, second.set_result, None)

        first.add_done_callback(next_level)
        loop.call_later(0.01, first.set_result, None)
        extension = UpstreamExplain()
        extension.execution_context = SimpleNamespace(context=SimpleNamespace(call_log=log))  # type: ignore[assignment]
        steps = extension.on_execute()
        await steps.__anext__()
        with pytest.raises(StopAsyncIteration):
            await steps.__anext__()
        return second.done()

    assert asyncio.run(scenario())
