"""Registry flags shared by every subcommand, and the session they configure.

Placeholder until the registry store lands: registry sources are reported as unsupported.
"""

from __future__ import annotations

import argparse

from cachetui.errors import UnsupportedOperation
from cachetui.oci.reference import ImageRef
from cachetui.store.base import Store


def add_registry_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags: --insecure HOST, --username, --password-stdin, --concurrency."""


def repository_store(ref: ImageRef, args: argparse.Namespace) -> Store:
    raise UnsupportedOperation(f"registry sources are not supported yet: {ref}")


async def catalog(host: str, args: argparse.Namespace) -> list[str]:
    raise UnsupportedOperation(f"registry sources are not supported yet: {host}")


async def close_sessions(args: argparse.Namespace) -> None:
    """Close the shared HTTP client, if one was opened."""
