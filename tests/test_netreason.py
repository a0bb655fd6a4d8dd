"""network_reason: what a network error says to an operator, for every store's HTTP client."""

from __future__ import annotations

import asyncio
import socket

import httpx

from cachetui.store.netreason import LIMIT, network_reason


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_port_says_refused_though_httpx_says_only_that_all_attempts_failed() -> None:
    async def connect() -> BaseException:
        async with httpx.AsyncClient() as client:
            try:
                await client.get(f"http://127.0.0.1:{_closed_port()}/")
            except httpx.ConnectError as exc:
                return exc
        raise AssertionError("a closed port answered")

    reason = network_reason(asyncio.run(connect()))
    assert "Connection refused" in reason
    assert "\n" not in reason


def test_a_timeout_without_text_says_timed_out() -> None:
    assert network_reason(httpx.ReadTimeout("")) == "timed out"
    assert network_reason(httpx.RemoteProtocolError("")) == "RemoteProtocolError"


def test_long_or_multi_line_text_is_one_capped_line() -> None:
    reason = network_reason(httpx.ReadError("peer said:\n" + "x" * 1000))
    assert "\n" not in reason and len(reason) == LIMIT and reason.endswith("...")


def test_a_cause_chain_that_loops_ends() -> None:
    first, second = ValueError("first"), ValueError("second")
    first.__cause__, second.__cause__ = second, first
    assert network_reason(first) == "first"
