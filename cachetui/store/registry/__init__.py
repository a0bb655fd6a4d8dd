"""OCI distribution registries as cachetui stores.

:class:`RegistrySession` owns the one shared ``httpx.AsyncClient`` of a process (auth, retries,
per-host concurrency); :meth:`RegistrySession.repository` gives a :class:`RegistryStore` for one
repository, which implements :class:`cachetui.store.base.Store`.
"""

from __future__ import annotations

from cachetui.store.registry.session import RegistrySession
from cachetui.store.registry.settings import RegistrySettings
from cachetui.store.registry.store import RegistryStore

__all__ = ["RegistrySession", "RegistrySettings", "RegistryStore"]
