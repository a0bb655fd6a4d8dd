"""An httpx transport that puts planned faults in front of the real registry connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from cachetui.store.registry.aio import RegistryTransport

Action = Callable[[httpx.Request, httpx.AsyncBaseTransport], Awaitable[httpx.Response]]


@dataclass
class Rule:
    method: str
    path_part: str
    action: Action
    times: int = 1


@dataclass
class Faults(httpx.AsyncBaseTransport):
    """The real transport, with planned faults for matching requests (each rule fires ``times``)."""

    rules: list[Rule] = field(default_factory=list)
    seen: list[httpx.Request] = field(default_factory=list)
    inner: httpx.AsyncBaseTransport = field(default_factory=RegistryTransport)

    def add(self, method: str, path_part: str, action: Action, times: int = 1) -> None:
        self.rules.append(Rule(method, path_part, action, times))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        for rule in self.rules:
            if rule.times and request.method == rule.method and rule.path_part in str(request.url):
                rule.times -= 1
                return await rule.action(request, self.inner)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def count(self, method: str, path_part: str) -> int:
        return sum(1 for r in self.seen if r.method == method and path_part in str(r.url))


def status(code: int, headers: dict[str, str] | None = None) -> Action:
    async def act(request: httpx.Request, inner: httpx.AsyncBaseTransport) -> httpx.Response:
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
        return httpx.Response(code, headers=headers or {}, content=body)
    return act
