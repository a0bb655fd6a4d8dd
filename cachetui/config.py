"""The TOML config file: sources to open, per-registry settings, named prune policies.

Looked up at ``$CACHETUI_CONFIG``, else ``$XDG_CONFIG_HOME/cachetui/config.toml`` (default
``~/.config``). A missing file means defaults; a malformed one is a one-line error that names the key.

```toml
[[sources]]
source = "ghcr.io/acme/app"        # anything the CLI takes: DIR, DIR:TAG, HOST, HOST/REPO[:TAG], specs
accent = "red"                      # optional colour of this source in the TUI
read_only = true                    # nothing here is written or deleted (CLI and TUI)

[registries."registry.internal:5000"]
insecure = true                     # plain HTTP (localhost and 127.0.0.0/8 always are)
ca_file = "/etc/ssl/internal-ca.pem"
concurrency = 4                     # requests in flight to this registry (default 16)
read_only = false
accent = "yellow"

[github]
api_url = "https://github.internal/api/v3"   # REST base for gha:// (GHES); GITHUB_API_URL wins

[policies.nightly]                  # cachetui prune --policy nightly
older_than = "14d"
keep = 3
match = ["buildcache-*"]
exclude = ["buildcache-main"]
max_size = "20GiB"
protect = ["buildcache"]
grace = "10m"
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import msgspec

from cachetui.errors import InvalidInput


class SourceConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    source: str
    accent: str | None = None
    read_only: bool = False
    label: str | None = None


class RegistryConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    insecure: bool = False
    ca_file: str | None = None
    concurrency: int | None = None
    """Requests in flight to this registry; ``None``: the default (``--concurrency`` or 16)."""
    read_only: bool = False
    accent: str | None = None


class PolicyConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    older_than: str | None = None
    keep: int | None = None
    match: list[str] = msgspec.field(default_factory=list)
    exclude: list[str] = msgspec.field(default_factory=list)
    max_size: str | None = None
    protect: list[str] = msgspec.field(default_factory=list)
    grace: str | None = None
    include_shared_tags: bool = False
    include_inline_images: bool = False


class GitHubConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    api_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^/\s]+")] | None = None
    """The REST base when ``GITHUB_API_URL`` is unset (GHES: ``https://HOST/api/v3``)."""


class Config(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    sources: list[SourceConfig] = msgspec.field(default_factory=list)
    registries: dict[str, RegistryConfig] = msgspec.field(default_factory=dict)
    policies: dict[str, PolicyConfig] = msgspec.field(default_factory=dict)
    github: GitHubConfig = msgspec.field(default_factory=GitHubConfig)
    read_only: bool = False
    keymap: dict[str, str] = msgspec.field(default_factory=dict)
    """TUI key remapping: binding id (``main.mark``) → keys (``m`` or ``m,space``)."""

    def registry(self, host: str) -> RegistryConfig:
        """Settings for ``host`` (defaults when the file does not name it)."""
        return self.registries.get(host, RegistryConfig())


def config_path() -> Path:
    explicit = os.environ.get("CACHETUI_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "cachetui" / "config.toml"


def parse_config(text: str, *, where: str = "config") -> Config:
    import tomllib  # only with a config file: its import compiles regexes (~1.5 ms a start)

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"invalid TOML: {exc}", where=where) from None
    try:
        return msgspec.convert(data, type=Config)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid config: {exc}", where=where) from None


def load_config(path: Path | None = None) -> Config:
    """The config at ``path`` (default :func:`config_path`); defaults if there is no file."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise InvalidInput(f"cannot read config: {exc.strerror}", where=str(path)) from None
    return parse_config(text, where=str(path))
