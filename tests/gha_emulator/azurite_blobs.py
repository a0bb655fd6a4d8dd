"""Blob bytes in Azurite, as GitHub keeps them in Azure: the emulator signs service SAS URLs
(``sv=2024-11-04``, ``sr=b``) that clients use directly, and reads, writes and deletes with Shared
Key itself (loading dumps, checking sizes at finalize, deleting entries)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import formatdate
from urllib.parse import quote

import httpx

from cachetui.store.azblob import SharedKey

SAS_VERSION = "2024-11-04"


class AzuriteBlobs:
    def __init__(self, endpoint: str, account: str, key: str, container: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.account = account
        self.container = container
        self._key = base64.b64decode(key)
        self._shared = SharedKey(account, key)
        self._client = httpx.Client(timeout=30)

    def _url(self, name: str) -> str:
        return f"{self.endpoint}/{self.account}/{self.container}/{quote(name, safe='')}"

    def sas_url(self, name: str, permissions: str, expiry: str) -> str:
        """A service SAS for one blob (the string-to-sign of versions 2020-12-06 and later)."""
        resource = f"/blob/{self.account}/{self.container}/{name}"
        to_sign = "\n".join([permissions, "", expiry, resource, "", "", "", SAS_VERSION, "b", "",
                             "", "", "", "", "", ""])
        sig = base64.b64encode(hmac.new(self._key, to_sign.encode(), hashlib.sha256).digest())
        return (f"{self._url(name)}?sv={SAS_VERSION}&se={quote(expiry, safe='')}&sr=b"
                f"&sp={permissions}&sig={quote(sig.decode(), safe='')}")

    def _request(self, method: str, url: str, *, content: bytes = b"",
                 headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2025-11-05",
                **(headers or {})}
        if method == "PUT":
            sent["Content-Length"] = str(len(content))
        sent["Authorization"] = self._shared.sign(method, url, sent)
        return self._client.request(method, url, headers=sent, content=content)

    def ensure_container(self) -> None:
        url = f"{self.endpoint}/{self.account}/{self.container}?restype=container"
        response = self._request("PUT", url)
        if response.status_code not in (201, 409):
            raise RuntimeError(f"Azurite container create: {response.status_code} "
                               f"{response.text[:200]}")

    def put(self, name: str, data: bytes) -> None:
        response = self._request("PUT", self._url(name), content=data,
                                 headers={"x-ms-blob-type": "BlockBlob",
                                          "Content-Type": "application/octet-stream"})
        if response.status_code != 201:
            raise RuntimeError(f"Azurite put {name}: {response.status_code}")

    def get(self, name: str) -> bytes | None:
        response = self._request("GET", self._url(name))
        return response.content if response.status_code == 200 else None

    def size(self, name: str) -> int | None:
        response = self._request("HEAD", self._url(name))
        if response.status_code != 200:
            return None
        return int(response.headers["content-length"])

    def delete(self, name: str) -> None:
        self._request("DELETE", self._url(name))

    def close(self) -> None:
        self._client.close()
