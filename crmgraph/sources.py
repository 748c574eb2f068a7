"""The configured sources: one adapter instance per entry of ``sources:``, opened and closed together."""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType

from crmgraph.adapters.sdk.base import Adapter
from crmgraph.adapters.sdk.registry import adapter_class
from crmgraph.config import Config


def build_adapters(config: Config) -> dict[str, Adapter]:
    """Instantiate (not open) every configured source, in configuration order (= precedence)."""
    return {
        name: adapter_class(source.adapter, path=f"sources.{name}.adapter")(name, source.settings())
        for name, source in config.sources.items()
    }


class OpenSources:
    """``async with OpenSources(config) as adapters:`` opens every adapter and closes them all on exit."""

    def __init__(self, config: Config) -> None:
        self.adapters = build_adapters(config)
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> dict[str, Adapter]:
        for adapter in self.adapters.values():
            await adapter.open()
            self._stack.push_async_callback(adapter.close)
        return self.adapters

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._stack.aclose()
