"""Registry flags shared by every subcommand, and the workspace of a CLI run built from them.

This is where argparse ends: below ``cli/`` only :class:`~cachetui.locations.Workspace` and its
settings are seen. The registry session is created by the workspace on first use (so
directory-only commands never import httpx).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cachetui.errors import InvalidInput
from cachetui.locations import Workspace
from cachetui.oci.reference import validate_host

if TYPE_CHECKING:
    from cachetui.config import Config
    from cachetui.store.registry.credentials import Credentials
    from cachetui.store.registry.settings import RegistrySettings

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
                       help="requests in flight per registry (default 16)")
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


def workspace(args: argparse.Namespace, config: Config | None = None) -> Workspace:
    """The workspace of this run: the config file (or ``config``) with the registry flags applied.

    Use it as ``async with``: it closes the registry session it opened.
    """
    from cachetui.config import load_config

    loaded = config if config is not None else load_config()
    return Workspace(loaded, registry_settings=lambda: registry_settings(args, loaded),
                     read_only=bool(getattr(args, "read_only", False)))
