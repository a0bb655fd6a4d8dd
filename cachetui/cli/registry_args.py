"""Registry flags shared by every subcommand, and the one registry session of a CLI run.

The session is created lazily on first use (so directory-only commands never import httpx) and
kept on ``args``; ``close_sessions`` closes it at the end of the command.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cachetui.errors import InvalidInput
from cachetui.oci.reference import ImageRef, validate_host
from cachetui.sources import SourceSpec, open_directory
from cachetui.store.base import Store

if TYPE_CHECKING:
    from cachetui.config import Config
    from cachetui.store.registry.credentials import Credentials
    from cachetui.store.registry.session import RegistrySession
    from cachetui.store.registry.settings import RegistrySettings

_SESSION_ATTR = "_registry_session"
_GHA_ATTR = "_gha_stores"


def add_registry_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags: --insecure HOST, --username, --password-stdin, --concurrency, --ca-file."""
    group = parser.add_argument_group("registry options")
    group.add_argument("--insecure", action="append", default=[], metavar="HOST",
                       help="use plain HTTP for this registry (repeatable; localhost and "
                            "127.0.0.0/8 always use HTTP)")
    group.add_argument("--username", metavar="USER",
                       help="registry user name (password from --password-stdin)")
    group.add_argument("--password-stdin", action="store_true",
                       help="read the registry password or token from standard input")
    group.add_argument("--concurrency", type=int, metavar="N",
                       help="requests in flight per registry (default 8)")
    group.add_argument("--ca-file", metavar="PEM",
                       help="also trust this CA certificate bundle for TLS registries")


def _explicit_credentials(args: argparse.Namespace) -> Credentials | None:
    from cachetui.store.registry.credentials import Credentials

    username = getattr(args, "username", None)
    from_stdin = getattr(args, "password_stdin", False)
    if from_stdin and not username:
        raise InvalidInput("--password-stdin needs --username")
    if username and not from_stdin:
        raise InvalidInput("--username needs --password-stdin (passwords never go on the "
                           "command line)")
    if not username:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InvalidInput("--password-stdin: no password on standard input")
    return Credentials(username=username, password=password, source="--password-stdin")


def registry_settings(args: argparse.Namespace, config: Config | None = None) -> RegistrySettings:
    """The config file's registry settings (``config``, else loaded) with the flags applied.

    Reads the password from standard input when ``--password-stdin`` is given.
    """
    from cachetui.config import load_config
    from cachetui.store.registry.settings import RegistrySettings

    concurrency = getattr(args, "concurrency", None)
    if concurrency is not None and concurrency < 1:
        raise InvalidInput("--concurrency must be at least 1")
    insecure = [validate_host(host) for host in getattr(args, "insecure", None) or []]
    explicit = _explicit_credentials(args)
    return RegistrySettings.from_config(
        config if config is not None else load_config(), insecure=insecure,
        ca_file=getattr(args, "ca_file", None), concurrency=concurrency, credentials=explicit)


def session(args: argparse.Namespace) -> RegistrySession:
    """The registry session of this run, created on first use from the config file and flags."""
    existing: RegistrySession | None = getattr(args, _SESSION_ATTR, None)
    if existing is not None:
        return existing
    from cachetui.store.registry.session import RegistrySession

    created = RegistrySession(registry_settings(args))
    setattr(args, _SESSION_ATTR, created)
    return created


def open_store(spec: SourceSpec, args: argparse.Namespace) -> Store:
    """A store for a directory or registry repository source, with this run's registry flags."""
    if spec.kind == "directory":
        return open_directory(spec)
    if spec.kind == "object":
        assert spec.objects is not None
        return spec.objects.open()
    if spec.kind == "registry":
        assert spec.ref is not None
        return repository_store(spec.ref, args)
    if spec.kind == "gha":
        from cachetui.store.gha.opener import open_gha_text

        store = open_gha_text(spec.text)
        opened: list[Store] = getattr(args, _GHA_ATTR, None) or []
        opened.append(store)
        setattr(args, _GHA_ATTR, opened)
        return store
    raise InvalidInput(f"{spec.text} is a registry host; name a repository (HOST/REPO)")


def repository_store(ref: ImageRef, args: argparse.Namespace, *, listed: bool = False) -> Store:
    """A registry repository; on GHCR and Docker Hub refused deletes go through their APIs."""
    from cachetui.store.vendor.opener import with_vendor_deletes

    return with_vendor_deletes(session(args).repository(ref, listed=listed), ref.registry,
                               ref.repository)


async def catalog(host: str, args: argparse.Namespace) -> list[str]:
    from cachetui.oci.reference import parse_reference

    api_host = parse_reference(f"{validate_host(host)}/x").api_host  # docker.io → registry-1
    return await session(args).catalog(api_host)


async def close_sessions(args: argparse.Namespace) -> None:
    """Close the shared HTTP client, if one was opened (and the gha stores' clients)."""
    for store in getattr(args, _GHA_ATTR, None) or []:
        await store.aclose()
    setattr(args, _GHA_ATTR, [])
    existing: RegistrySession | None = getattr(args, _SESSION_ATTR, None)
    if existing is not None:
        setattr(args, _SESSION_ATTR, None)
        await existing.aclose()
