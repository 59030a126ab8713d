"""How the bed extends moto without forking it.

Contract: ``wrap_after(cls, name, hook, mark)`` replaces ``cls.name`` with a wrapper that
calls the original and then ``hook(self, result, arguments)``, where ``arguments`` maps
every parameter name of the original to the value it was called with (moto calls some
backend methods positionally, some by keyword). The wrapper carries ``mark`` so that
installing twice wraps once. ``wrap_around`` is the same for a hook that runs the
original itself (to keep state the original would lose).
"""

from __future__ import annotations

import inspect
from functools import wraps
from typing import Any, Callable

Hook = Callable[[Any, Any, dict[str, Any]], None]


def wrap_after(cls: type, name: str, hook: Hook, mark: str) -> None:
    def around(call: Callable[[], Any], self: Any, arguments: dict[str, Any]) -> Any:
        result = call()
        hook(self, result, arguments)
        return result

    wrap_around(cls, name, around, mark)


Around = Callable[[Callable[..., Any], Any, dict[str, Any]], Any]


def wrap_around(cls: type, name: str, around: Around, mark: str) -> None:
    """Replace ``cls.name`` with ``around(call_original, self, arguments)``."""
    original = getattr(cls, name)
    if getattr(original, mark, False):
        return
    signature = inspect.signature(original)

    @wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(self, *args, **kwargs).arguments
        return around(lambda: original(self, *args, **kwargs), self, arguments)

    setattr(wrapper, mark, True)
    setattr(cls, name, wrapper)
