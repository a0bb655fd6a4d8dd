"""The emulator answers every request BuildKit made in the fixtures' HTTP logs, in order, as the
recorded server did (status, JSON bodies, the server's own headers), and ends an export replay
holding exactly the entries of the dump."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.gha_emulator.emulator import GitHubEmulator
from tests.gha_emulator.fixture import REPOSITORY, dump_entries, gha_dir, load_dump
from tests.gha_emulator.state import parse_iso
from tests.gha_emulator.tokens import READ, WRITE, make_runtime_token

VOLATILE = {"etag", "x-ms-request-id", "date"}
SKIP_REQUEST_HEADERS = {"host", "content-length", "transfer-encoding", "accept-encoding",
                        "authorization"}
LOGS = [(variant, name) for variant in ("v1-max", "v2-max")
        for name in ("export", "import", "import-with-output")]


def _lines(variant: str, name: str) -> list[dict[str, Any]]:
    path = gha_dir(variant) / "http-log" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _bodies(variant: str) -> dict[str, bytes]:
    """Every byte string BuildKit sent, by sha256: whole entries and their 1 MiB blocks."""
    out: dict[str, bytes] = {}
    folder = gha_dir(variant)
    for item in dump_entries(variant):
        data = (folder / str(item["file"])).read_bytes()
        pieces = [data] + [data[i:i + 1024 * 1024] for i in range(0, len(data), 1024 * 1024)]
        for piece in pieces:
            out["sha256:" + hashlib.sha256(piece).hexdigest()] = piece
    return out


class Replay:
    """Sends recorded requests with today's port, token, blob names and signatures."""

    def __init__(self, emulator: GitHubEmulator, variant: str, token: str,
                 volatile: frozenset[str] = frozenset()) -> None:
        self.emulator = emulator
        self.volatile = VOLATILE | volatile
        self.token = token
        self.bodies = _bodies(variant)
        self.names: dict[str, str] = {}
        """Recorded blob name or v1 download path → the URL the emulator handed out."""
        self.client = httpx.Client(timeout=10)

    def _map_urls(self, recorded: object, actual: object) -> object:
        """Learn the recorded→actual URL pairs in two response bodies; return the normalised
        actual body (port, signature and blob names as recorded)."""
        if isinstance(recorded, dict) and isinstance(actual, dict):
            return {k: self._map_urls(recorded.get(k), v) for k, v in actual.items()}
        if isinstance(recorded, str) and isinstance(actual, str) and actual.startswith("http"):
            rec_path = urlsplit(recorded).path
            act_path = urlsplit(actual).path
            known = self.names.get(rec_path)
            assert known is None or urlsplit(known).path == act_path, "blob name reused wrongly"
            self.names[rec_path] = actual
            base = f"{urlsplit(actual).scheme}://{urlsplit(actual).netloc}"
            text = actual.replace(base, "http://127.0.0.1:<port>")
            text = text.replace(act_path, rec_path)
            if "se" in self.volatile:  # Azurite's SAS expiry follows the real clock
                recorded_se = re.search(r"se=[^&]*", recorded)
                if recorded_se:
                    text = re.sub(r"se=[^&]*", recorded_se.group(0), text)
            return re.sub(r"sig=[^&]*", "sig=REDACTED", text)
        return actual

    def url(self, line: dict[str, Any]) -> str:
        path = line["path"]
        if path in self.names:
            issued = urlsplit(self.names[path])
            issued_query = dict(p.split("=", 1) for p in issued.query.split("&"))
            extra = {k: v for k, v in line["query"].items() if k not in issued_query}
            tail = "&".join(f"{k}={v}" for k, v in issued_query.items())
            return f"{issued.scheme}://{issued.netloc}{issued.path}?{tail}" + (
                f"&{urlencode(extra)}" if extra else "")
        query = f"?{urlencode(line['query'])}" if line["query"] else ""
        return f"{self.emulator.url}{path}{query}"

    def send(self, line: dict[str, Any]) -> httpx.Response:
        headers = {k: v for k, v in line["headers"].items() if k.lower() not in
                   SKIP_REQUEST_HEADERS}
        if "Authorization" in line["headers"]:
            headers["Authorization"] = f"Bearer {self.token}"
        content: bytes | Iterator[bytes] | None = None
        if "body" in line:
            content = json.dumps(line["body"], separators=(",", ":")).encode()
        elif "body_text" in line:
            content = line["body_text"].encode()
        elif "body_sha256" in line:
            data = self.bodies[line["body_sha256"]]
            assert len(data) == line["body_len"]
            content = data
            if line["headers"].get("Transfer-Encoding") == "chunked":
                content = iter([data[:4096], data[4096:]])  # sent chunked, as Go did
        return self.client.request(line["method"], self.url(line), headers=headers,
                                   content=content)

    def check(self, line: dict[str, Any], response: httpx.Response) -> None:
        where = f"seq {line['seq']} {line['method']} {line['path']}"
        assert response.status_code == line["status"], (where, response.text)
        if "response" in line:
            actual = self._map_urls(line["response"], response.json())
            assert actual == line["response"], where
        for name, value in line.get("response_headers", {}).items():
            if name.lower() in self.volatile:
                assert response.headers.get(name), (where, name)
            else:
                assert response.headers.get(name) == value, (where, name)
        if line["method"] == "GET" and line["status"] in (200, 206) and "response" not in line:
            digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
            assert digest in self.bodies, (where, "downloaded bytes are not an entry's")


@pytest.mark.parametrize(("variant", "name"), LOGS, ids=[f"{v}-{n}" for v, n in LOGS])
def test_replays_buildkit_log(gha_emulator: GitHubEmulator, variant: str, name: str) -> None:
    lines = _lines(variant, name)
    first = parse_iso(lines[0]["t"])
    token = make_runtime_token([("refs/heads/main", READ | WRITE)],
                               now=(first - timedelta(minutes=1)).timestamp())
    if name != "export":
        load_dump(gha_emulator, variant)
    replay = Replay(gha_emulator, variant, token)
    for line in lines:
        gha_emulator.clock = _frozen(parse_iso(line["t"]))
        replay.check(line, replay.send(line))
    if name == "export":
        _assert_holds_dump(gha_emulator, variant)


V2_LOGS = [name for variant, name in LOGS if variant == "v2-max"]


@pytest.mark.parametrize("name", V2_LOGS)
def test_replays_buildkit_v2_log_with_blobs_in_azurite(gha_emulator_azurite: GitHubEmulator,
                                                       name: str) -> None:
    """The same log with blob bytes in Azurite behind real SAS URLs, as GitHub does; Azurite's own
    times and the SAS expiry follow the real clock."""
    emulator = gha_emulator_azurite
    lines = _lines("v2-max", name)
    first = parse_iso(lines[0]["t"])
    token = make_runtime_token([("refs/heads/main", READ | WRITE)],
                               now=(first - timedelta(minutes=1)).timestamp())
    if name != "export":
        load_dump(emulator, "v2-max")
    replay = Replay(emulator, "v2-max", token,
                    frozenset({"last-modified", "x-ms-creation-time", "se"}))
    for line in lines:
        emulator.clock = _frozen(parse_iso(line["t"]))
        replay.check(line, replay.send(line))
    if name == "export":
        _assert_holds_dump(emulator, "v2-max")
    assert emulator.blobs.blobs == {}  # every byte went to Azurite


def _frozen(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def _assert_holds_dump(emulator: GitHubEmulator, variant: str) -> None:
    held = {
        (e.id, e.key, e.version, e.ref, e.size, e.api,
         "sha256:" + hashlib.sha256(emulator.entry_bytes(e)).hexdigest())
        for e in emulator.repository(REPOSITORY).committed()
    }
    dumped = {
        (d["id"], d["key"], d["version"], d["ref"], d["size"], d["api"], d["sha256"])
        for d in dump_entries(variant)
    }
    assert held == dumped


def test_fixture_files_are_where_the_dump_says() -> None:
    for variant in ("v1-max", "v2-max", "v2-min", "v2-generations", "v2-two-scopes"):
        for item in dump_entries(variant):
            assert Path(gha_dir(variant) / str(item["file"])).is_file()
