"""How to talk to each registry: scheme, trust, concurrency, timeouts, explicit credentials.

Built once per run from the config file (``[registries."HOST"]``) and the CLI flags; the session
reads it, nothing else does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from cachetui.config import Config
from cachetui.store.registry.credentials import Credentials
from cachetui.store.registry.retry import RetryPolicy
from cachetui.store.registry.transport import Pace

DEFAULT_CONCURRENCY: Final = 16
"""Requests in flight per registry unless configured. A listing's reads are small documents: on a
network each costs a round trip, so more in flight list faster (300 caches over a 10 ms round trip
took 1.5 s at 8, 1.15 s at 16); on loopback, 8 left the registry idle between answers while
cachetui parsed, and waking cost it CPU (``bench_inventory``). Blob transfers keep their own,
lower parallelism (``ops.transfer``), under this."""
MONOLITHIC_LIMIT: Final = 8 * 1024 * 1024
"""Blobs up to this size go up in one PUT; larger ones in PATCH chunks."""
UPLOAD_CHUNK: Final = 64 * 1024 * 1024
"""PATCH chunk size (raised to the registry's ``OCI-Chunk-Min-Length`` when it asks for more).

Chunks stream from the source and are never held, so memory does not depend on this; few large
PATCHes cost a registry less (each one saves and restores its hash state). 4 MiB chunks made
distribution spend ~20% more CPU on a 600 MB copy."""


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ``::1``, with or without a port."""
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class HostSettings:
    insecure: bool
    ca_file: str | None
    concurrency: int


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Per-run registry settings. Hosts are ``name[:port]`` exactly as in references."""

    insecure_hosts: frozenset[str] = frozenset()
    tls_hosts: frozenset[str] = frozenset()
    """Hosts that use TLS even on loopback (a local TLS registry or tunnel)."""
    ca_files: dict[str, str] = field(default_factory=dict)
    default_ca_file: str | None = None
    concurrency: dict[str, int] = field(default_factory=dict)
    default_concurrency: int = DEFAULT_CONCURRENCY
    connect_timeout: float = 10.0
    stall_timeout: float = 60.0
    """Longest wait for the next bytes of a response (or for a write to progress)."""
    min_rate: float = 1024.0
    """Slowest accepted response body, in bytes/s over each ``rate_window``: a peer that drips a
    byte now and then never trips ``stall_timeout``."""
    rate_window: float = 30.0
    document_deadline: float = 60.0
    """Longest a document read (manifest, tag or catalog page, ping) may take, head to last byte."""
    max_pages: int = 1000
    """Most pages of one tag or catalog listing (1000 pages of 1000 names is a million)."""
    idle_expiry: float = 15.0
    """Kept-alive connections idle longer than this are closed, not reused: a NAT or load
    balancer that silently dropped the flow would cost a full stall timeout."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    credentials: Credentials | None = None
    """Explicit ``--username``/``--password-stdin``; used for every registry of this run."""
    monolithic_limit: int = MONOLITHIC_LIMIT
    upload_chunk: int = UPLOAD_CHUNK

    @property
    def pace(self) -> Pace:
        return Pace(self.min_rate, self.rate_window)

    def host(self, host: str) -> HostSettings:
        return HostSettings(
            insecure=self.uses_plain_http(host),
            ca_file=self.ca_files.get(host, self.default_ca_file),
            concurrency=max(1, self.concurrency.get(host, self.default_concurrency)),
        )

    def uses_plain_http(self, host: str) -> bool:
        """Plain HTTP for hosts marked insecure and for loopback, unless TLS is asked for: a
        loopback registry given a CA file of its own in the config (``ca_file`` under
        ``[registries."localhost:5000"]``) is a TLS one, as the file says."""
        if host in self.tls_hosts:
            return False
        if host in self.insecure_hosts:
            return True
        return is_loopback(host) and host not in self.ca_files

    def scheme(self, host: str) -> str:
        return "http" if self.uses_plain_http(host) else "https"

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        insecure: Iterable[str] = (),
        ca_file: str | None = None,
        concurrency: int | None = None,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
    ) -> RegistrySettings:
        """Config file settings, overridden by CLI flags (which apply to every registry)."""
        insecure_hosts = {host for host, reg in config.registries.items() if reg.insecure}
        insecure_hosts.update(insecure)
        ca_files = {host: reg.ca_file for host, reg in config.registries.items() if reg.ca_file}
        per_host = {host: reg.concurrency for host, reg in config.registries.items()
                    if reg.concurrency is not None}
        if concurrency is not None:
            per_host = {}
        return cls(
            insecure_hosts=frozenset(insecure_hosts),
            ca_files=ca_files,
            default_ca_file=ca_file,
            concurrency=per_host,
            default_concurrency=concurrency or DEFAULT_CONCURRENCY,
            credentials=credentials,
            retry=retry or RetryPolicy(),
        )
