"""Counting the asyncio tasks a piece of work creates: a figure that does not move with the machine's load."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class TaskCount:
    created: int = 0


@contextmanager
def counting_tasks() -> Iterator[TaskCount]:
    """Count the tasks created on the running loop inside the block (``count.created``; reset it at will)."""
    count = TaskCount()
    loop = asyncio.get_running_loop()

    def counting(loop: asyncio.AbstractEventLoop, coroutine: Any, **options: Any) -> asyncio.Task[Any]:
        count.created += 1
        return asyncio.Task(coroutine, loop=loop, **options)

    loop.set_task_factory(counting)
    try:
        yield count
    finally:
        loop.set_task_factory(None)
