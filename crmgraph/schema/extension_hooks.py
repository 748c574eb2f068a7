"""Schema extensions' hooks found once per extension class, not on every request.

For each of a request's four stages (operation, parse, validate, execute) strawberry asks every extension
whether its class overrides that stage's hook, and of which kind the hook is (a generator, an async
generator, a plain or a coroutine function), then wraps it in a fresh context-manager function: with the
facade's ten extensions, forty look-ups and a dozen new wrapper functions per request, about as much CPU
as resolving a small query. The answer depends only on the class, so it is kept per class, and a request
only binds its own extension instances to it.

The hooks then run exactly as strawberry runs them: strawberry's own context managers enter them in the
extensions' order on one exit stack, and unwind them in reverse.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

# (extension class, hook name) -> (context-manager factory taking the extension, whether it is async), or None
# where the class leaves the hook as SchemaExtension defines it.
_Found = tuple[Callable[[SchemaExtension], Any], bool] | None
_hooks: dict[tuple[type[SchemaExtension], str], _Found] = {}


def _from_callable(hook: Callable[[SchemaExtension], Any]) -> tuple[Callable[[SchemaExtension], Any], bool]:
    """A hook that is a plain function: called on entering the stage, nothing on leaving it (as strawberry)."""
    if inspect.iscoroutinefunction(hook):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook(extension)
            yield

        return awaited, True

    @contextlib.contextmanager
    def called(extension: SchemaExtension) -> Iterator[None]:
        hook(extension)
        yield

    return called, False


def _hook(kind: type[SchemaExtension], name: str) -> _Found:
    key = (kind, name)
    if key in _hooks:
        return _hooks[key]
    hook = getattr(kind, name)
    found: _Found
    if hook is getattr(SchemaExtension, name):
        found = None
    elif inspect.isgeneratorfunction(hook):
        found = contextlib.contextmanager(hook), False
    elif inspect.isasyncgenfunction(hook):
        found = contextlib.asynccontextmanager(hook), True
    elif callable(hook):
        found = _from_callable(hook)
    else:
        raise ValueError(f"Hook {name} on {kind.__name__} must be callable, received {hook!r}")
    _hooks[key] = found
    return found


def _bind(manager: Any, extensions: list[SchemaExtension]) -> None:
    """Fill a strawberry context manager's hooks for these extension instances."""
    hooks = []
    for extension in extensions:
        found = _hook(type(extension), manager.HOOK_NAME)
        if found is not None:
            factory, is_async = found
            hooks.append(WrappedHook(extension=extension, hook=partial(factory, extension), is_async=is_async))
    manager.hooks = hooks


class _KnownHooks:
    """Fills a strawberry context manager's hooks from the per-class table instead of looking each up."""

    __slots__ = ()

    def __init__(self, extensions: list[SchemaExtension]) -> None:
        _bind(self, extensions)


class _Operation(_KnownHooks, OperationContextManager):
    __slots__ = ()


class _Validation(_KnownHooks, ValidationContextManager):
    __slots__ = ()


class _Parsing(_KnownHooks, ParsingContextManager):
    __slots__ = ()


class _Executing(_KnownHooks, ExecutingContextManager):
    __slots__ = ()


class KnownHooksRunner(SchemaExtensionsRunner):
    """strawberry's extension runner, with each extension class's hooks found once (see the module)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
