"""s3/azblob locations exactly as buildx takes them, plus short forms.

``type=s3,bucket=…,region=…,prefix=…,blobs_prefix=…,manifests_prefix=…,name=a;b,endpoint_url=…,
use_path_style=true,access_key_id=…,secret_access_key=…,session_token=…`` (``AWS_BUCKET`` and
``AWS_REGION`` as BuildKit's fallbacks), ``type=azblob,account_url=…,account_name=…,container=…,
prefix=…,name=…,secret_access_key=…`` (BuildKit's ``BUILDKIT_AZURE_STORAGE_*`` fallbacks), and the
short forms ``s3://bucket/prefix`` and ``azblob://account/container/prefix``. Without ``name`` a
location lists every manifest under the prefix. The display text never carries a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from cachetui.errors import InvalidInput
from cachetui.oci.specfields import split_spec_fields
from cachetui.store.azblob import (
    DEFAULT_CONTAINER,
    AzblobSettings,
    AzblobStore,
    settings_from_connection_string,
    split_sas,
)
from cachetui.store.objects import ObjectStore
from cachetui.store.s3 import S3Settings, S3Store
from cachetui.store.tls import TlsContexts, Trust, fresh_context

SECRET_ATTRS: Final = frozenset({"secret_access_key", "session_token", "access_key_id",
                                 "sas_token"})
_S3_ATTRS: Final = frozenset({"bucket", "region", "prefix", "blobs_prefix", "manifests_prefix",
                              "name", "endpoint_url", "use_path_style", "access_key_id",
                              "secret_access_key", "session_token", "touch_refresh",
                              "upload_parallelism", "mode", "ignore-error", "profile",
                              "disable_accept_encoding", "retry_mode", "retry_max_attempts"})
_AZ_ATTRS: Final = frozenset({"account_url", "account_name", "container", "prefix",
                              "blobs_prefix", "manifests_prefix", "name", "secret_access_key",
                              "sas_token", "mode", "ignore-error", "upload_parallelism"})


@dataclass(frozen=True, slots=True)
class ObjectLocation:
    """A parsed s3/azblob location: settings for the store and a display text without secrets."""

    kind: str
    text: str
    s3: S3Settings | None = None
    azblob: AzblobSettings | None = None

    @property
    def trust(self) -> Trust:
        """What its client trusts (:mod:`cachetui.store.tls`)."""
        if self.s3 is not None:
            return self.s3.trust
        assert self.azblob is not None
        return self.azblob.trust

    def open(self, tls: TlsContexts = fresh_context) -> ObjectStore:
        """The store; ``tls`` gives its client's TLS context."""
        if self.s3 is not None:
            return S3Store(self.s3, tls=tls)
        assert self.azblob is not None
        return AzblobStore(self.azblob, tls=tls)


def _bool(value: str, name: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false", ""):
        return False
    raise InvalidInput(f"{name} must be true or false")


def _names(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    names = tuple(n for n in value.split(";") if n)
    return names


def _display(kind: str, attrs: dict[str, str]) -> str:
    shown = [f"type={kind}"] + [f"{k}={split_sas(v)[0] if k == 'account_url' else v}"
                                for k, v in attrs.items() if k not in SECRET_ATTRS]
    return ",".join(shown)


def parse_object_location(text: str) -> ObjectLocation:
    """Parse a buildx ``type=s3``/``type=azblob`` spec or a short form."""
    stripped = text.strip()
    if stripped.startswith("s3://"):
        return _s3_short(stripped)
    if stripped.startswith("azblob://"):
        return _az_short(stripped)
    attrs = split_spec_fields(stripped)
    kind = attrs.pop("type", "")
    if kind == "s3":
        return _s3_spec(attrs)
    if kind == "azblob":
        return _az_spec(attrs)
    raise InvalidInput(f"not an s3 or azblob location: type={kind}")


def _s3_spec(attrs: dict[str, str]) -> ObjectLocation:
    unknown = sorted(set(attrs) - _S3_ATTRS)
    if unknown:
        raise InvalidInput(f"type=s3: unknown attribute {unknown[0]!r}")
    bucket = attrs.get("bucket") or os.environ.get("AWS_BUCKET")
    if not bucket:
        raise InvalidInput("type=s3 needs bucket= (or $AWS_BUCKET)")
    settings = S3Settings(
        bucket=bucket, region=attrs.get("region") or os.environ.get("AWS_REGION"),
        prefix=attrs.get("prefix", ""), blobs_prefix=attrs.get("blobs_prefix", "blobs/"),
        manifests_prefix=attrs.get("manifests_prefix", "manifests/"),
        names=_names(attrs.get("name")), endpoint_url=attrs.get("endpoint_url") or None,
        use_path_style=_bool(attrs.get("use_path_style", ""), "use_path_style"),
        access_key_id=attrs.get("access_key_id") or None,
        secret_access_key=attrs.get("secret_access_key") or None,
        session_token=attrs.get("session_token") or None,
        profile=attrs.get("profile") or os.environ.get("AWS_PROFILE") or None)
    return ObjectLocation("s3", _display("s3", attrs), s3=settings)


def _s3_short(text: str) -> ObjectLocation:
    rest = text[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InvalidInput(f"{text}: no bucket")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    settings = S3Settings(bucket=bucket, region=os.environ.get("AWS_REGION"), prefix=prefix,
                          profile=os.environ.get("AWS_PROFILE") or None,
                          use_path_style=_bool(os.environ.get("AWS_S3_USE_PATH_STYLE", ""),
                                               "AWS_S3_USE_PATH_STYLE"))
    return ObjectLocation("s3", text, s3=settings)


def _az_spec(attrs: dict[str, str]) -> ObjectLocation:
    unknown = sorted(set(attrs) - _AZ_ATTRS)
    if unknown:
        raise InvalidInput(f"type=azblob: unknown attribute {unknown[0]!r}")
    account_url = attrs.get("account_url") or os.environ.get("BUILDKIT_AZURE_STORAGE_ACCOUNT_URL")
    if not account_url:
        raise InvalidInput("type=azblob needs account_url= (or "
                           "$BUILDKIT_AZURE_STORAGE_ACCOUNT_URL)")
    settings = AzblobSettings(
        account_url=account_url,
        account_name=attrs.get("account_name")
        or os.environ.get("BUILDKIT_AZURE_STORAGE_ACCOUNT_NAME") or None,
        container=attrs.get("container")
        or os.environ.get("BUILDKIT_AZURE_STORAGE_CONTAINER") or DEFAULT_CONTAINER,
        prefix=attrs.get("prefix", os.environ.get("BUILDKIT_AZURE_STORAGE_PREFIX", "")),
        blobs_prefix=attrs.get("blobs_prefix", "blobs"),
        manifests_prefix=attrs.get("manifests_prefix", "manifests"),
        names=_names(attrs.get("name")),
        secret_access_key=attrs.get("secret_access_key") or None,
        sas_token=attrs.get("sas_token") or None)
    return ObjectLocation("azblob", _display("azblob", attrs), azblob=settings)


def _az_short(text: str) -> ObjectLocation:
    parts = text[len("azblob://"):].split("/", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise InvalidInput(f"{text}: expected azblob://ACCOUNT/CONTAINER[/PREFIX]")
    account, container = parts[0], parts[1]
    prefix = parts[2] if len(parts) > 2 else ""
    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if connection:
        settings = settings_from_connection_string(connection, container=container,
                                                   prefix=prefix)
        return ObjectLocation("azblob", text, azblob=settings)
    url = os.environ.get("BUILDKIT_AZURE_STORAGE_ACCOUNT_URL") \
        or f"https://{account}.blob.core.windows.net"
    settings = AzblobSettings(account_url=url, account_name=account, container=container,
                              prefix=prefix)
    return ObjectLocation("azblob", text, azblob=settings)
