"""Bad input never escapes as a traceback, and nothing outside a cache directory is ever read.

A real BuildKit export is copied, one of its files is damaged in a way hypothesis chooses, and then
it is listed, inspected and walked. Every failure must be a CachetuiError whose message is one line
naming where the problem is; an audit hook proves no file outside the directory was opened.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachetui.cli import main as cli_main
from cachetui.errors import CachetuiError
from cachetui.ops.inventory import collect, scan_store
from cachetui.ops.load import load_cache
from cachetui.store.layout import LayoutStore
from tests.fixtures import fixture_dir

_OPENED: list[str] = []
_WATCHING = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHING and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)

HEX = "0123456789abcdef"
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["sha256:../../etc/passwd", "sha256/" + "a" * 64, "md5:" + "a" * 32,
                     "sha256:" + "A" * 64, "sha512:abc", "../../../etc/passwd", ""]),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths_of(child, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


@st.composite
def damage(draw: st.DrawFn, raw: bytes) -> bytes:
    """Truncate, garble, or replace one JSON value somewhere with something else."""
    kind = draw(st.sampled_from(["truncate", "garbage", "replace", "replace", "replace", "grow"]))
    if kind == "truncate":
        return raw[: draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)))]
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    document = json.loads(raw)
    paths = list(paths_of(document))
    path = draw(st.sampled_from(paths))
    if kind == "grow":
        return json.dumps(replaced(document, path, [0] * draw(st.integers(1000, 200_000)))).encode()
    return json.dumps(replaced(document, path, draw(json_values))).encode()


def fresh_copy(name: str, group: str = "buildkit") -> Path:
    root = Path(tempfile.mkdtemp(prefix="cachetui-bad-"))
    target = root / name
    shutil.copytree(fixture_dir(group, name), target)
    for path in target.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return target


async def exercise(layout: Path) -> list[str]:
    """List, inspect every tag and walk the directory; return every error message seen."""
    global _WATCHING
    messages: list[str] = []
    _OPENED.clear()
    _WATCHING = True
    try:
        store = LayoutStore(layout)
        entries, errors, _ = await collect(scan_store(store))
        messages += errors + [entry.error for entry in entries if entry.error]
        for entry in entries:
            if entry.analysis is not None:
                await load_cache(store, entry.tag)
        try:
            await store.reachability()
        except CachetuiError as exc:
            messages.append(str(exc))
    finally:
        _WATCHING = False
    real_root = os.path.realpath(layout)
    outside = [p for p in _OPENED if not os.path.realpath(p).startswith(real_root + os.sep)
               and not p.endswith((".py", ".pyc", ".so"))]
    assert not outside, f"opened outside the cache directory: {outside}"
    for message in messages:
        assert "\n" not in message
        assert str(layout) in message or "blob" in message or "manifest" in message
    return messages


def blob_file(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def top_digest(layout: Path) -> str:
    return str(json.loads((layout / "index.json").read_text())["manifests"][0]["digest"])


def config_digest(layout: Path) -> str:
    top = json.loads(blob_file(layout, top_digest(layout)).read_text())
    if "config" in top:
        return str(top["config"]["digest"])
    return str(top["manifests"][-1]["digest"])


def _store_blob(layout: Path, data: bytes) -> tuple[str, int]:
    from cachetui.oci.digest import Digest

    digest = Digest.of(data)
    blob_file(layout, digest).write_bytes(data)
    return digest, len(data)


def _point_index_at(layout: Path, digest: str, size: int) -> None:
    index = json.loads((layout / "index.json").read_text())
    index["manifests"][0].update(digest=digest, size=size)
    (layout / "index.json").write_text(json.dumps(index))


def install(layout: Path, target: str, data: bytes) -> None:
    """Put damaged bytes in place *with consistent digests*, so the parsers themselves are tested."""
    if target == "index.json":
        (layout / "index.json").write_bytes(data)
        return
    if target == "manifest":
        _point_index_at(layout, *_store_blob(layout, data))
        return
    digest, size = _store_blob(layout, data)
    top = json.loads(blob_file(layout, top_digest(layout)).read_text())
    entry = top["config"] if "config" in top else top["manifests"][-1]
    entry.update(digest=digest, size=size)
    _point_index_at(layout, *_store_blob(layout, json.dumps(top).encode()))


TARGETS: dict[str, Callable[[Path], Path]] = {
    "index.json": lambda layout: layout / "index.json",
    "manifest": lambda layout: blob_file(layout, top_digest(layout)),
    "config": lambda layout: blob_file(layout, config_digest(layout)),
}

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("fixture", ["local-min", "local-max-oci-index", "local-min-docker-mediatypes"])
@pytest.mark.parametrize("target", sorted(TARGETS))
@FAST
@given(data=st.data())
async def test_damaged_json_gives_one_line_errors(fixture: str, target: str, data: st.DataObject) -> None:
    layout = fresh_copy(fixture)
    try:
        path = TARGETS[target](layout)
        install(layout, target, data.draw(damage(path.read_bytes())))
        await exercise(layout)
    finally:
        shutil.rmtree(layout.parent)


@FAST
@given(data=st.data())
async def test_damaged_inline_cache_gives_one_line_errors(data: st.DataObject) -> None:
    layout = fresh_copy("app-inline", "buildkit-registry")
    try:
        config_path = blob_file(layout, config_digest(layout))
        image_config = json.loads(config_path.read_bytes())
        records = json.loads(__import__("base64").b64decode(image_config["moby.buildkit.cache.v0"]))
        damaged = json.loads(data.draw(damage(json.dumps(records).encode())).decode("utf-8", "replace")
                             or "null") if data.draw(st.booleans()) else records
        import base64

        if isinstance(damaged, (list, dict)) or damaged is None:
            image_config["moby.buildkit.cache.v0"] = base64.b64encode(
                json.dumps(damaged).encode()).decode()
        else:
            image_config["moby.buildkit.cache.v0"] = data.draw(st.text(max_size=30))
        config_path.write_bytes(json.dumps(image_config).encode())  # digest now wrong on purpose
        messages = await exercise(layout)
        assert any("config" in message or "blob" in message for message in messages)
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass  # the drawn damage was not JSON text; nothing to install
    finally:
        shutil.rmtree(layout.parent)


async def test_blob_content_not_matching_its_digest_is_refused() -> None:
    layout = fresh_copy("local-min")
    try:
        path = blob_file(layout, config_digest(layout))
        data = bytearray(path.read_bytes())
        data[10] ^= 0x01
        path.write_bytes(bytes(data))
        messages = await exercise(layout)
        assert any("content digest" in message for message in messages)
    finally:
        shutil.rmtree(layout.parent)


async def test_symlinked_blob_pointing_outside_is_never_read(tmp_path: Path) -> None:
    layout = fresh_copy("local-min")
    try:
        path = blob_file(layout, config_digest(layout))
        outside = tmp_path / "outside-secret"
        outside.write_bytes(path.read_bytes())  # even correct bytes must not be read from there
        path.unlink()
        path.symlink_to(outside)
        messages = await exercise(layout)
        assert any("symlink pointing outside" in message for message in messages)
    finally:
        shutil.rmtree(layout.parent)


async def test_symlinked_blobs_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    layout = fresh_copy("local-min")
    try:
        blobs = layout / "blobs"
        moved = tmp_path / "elsewhere"
        shutil.move(str(blobs), moved)
        blobs.symlink_to(moved)
        messages = await exercise(layout)
        assert any("outside the directory" in message for message in messages)
    finally:
        shutil.rmtree(layout.parent)


@pytest.mark.parametrize("digest", ["sha256:../../../../etc/passwd", "sha256:" + "a" * 63 + "/",
                                    "sha1:" + "a" * 40, "sha256:" + "A" * 64])
async def test_bad_digests_in_index_json(digest: str) -> None:
    layout = fresh_copy("local-min")
    try:
        index = json.loads((layout / "index.json").read_text())
        index["manifests"][0]["digest"] = digest
        (layout / "index.json").write_text(json.dumps(index))
        messages = await exercise(layout)
        assert any("invalid digest" in message for message in messages)
    finally:
        shutil.rmtree(layout.parent)


async def test_huge_manifest_is_refused_before_parsing() -> None:
    layout = fresh_copy("local-min")
    try:
        huge = b'{"schemaVersion":2,"layers":[' + b"0," * (3 * 1024 * 1024) + b"0]}"
        from cachetui.oci.digest import Digest

        digest = Digest.of(huge)
        blob_file(layout, digest).write_bytes(huge)
        index = json.loads((layout / "index.json").read_text())
        index["manifests"][0].update(digest=digest, size=len(huge))
        (layout / "index.json").write_text(json.dumps(index))
        messages = await exercise(layout)
        assert any("limit" in message for message in messages)
    finally:
        shutil.rmtree(layout.parent)


@pytest.mark.parametrize(("damage_kind", "expected"), [
    ("truncate", "malformed JSON"),
    ("missing-blob", "blob is missing"),
    ("not-a-dir", "no such directory"),
])
def test_cli_exits_non_zero_with_a_one_line_message(damage_kind: str, expected: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    layout = fresh_copy("local-min")
    try:
        source = str(layout)
        if damage_kind == "truncate":
            (layout / "index.json").write_bytes((layout / "index.json").read_bytes()[:40])
        elif damage_kind == "missing-blob":
            blob_file(layout, config_digest(layout)).unlink()
        else:
            source = str(layout / "nope")
        code = cli_main(["inspect", source])
        captured = capsys.readouterr()
        assert code != 0
        lines = [line for line in captured.err.splitlines() if line]
        assert lines
        assert all(line.startswith("cachetui: error: ") for line in lines)
        assert expected in captured.err
        assert "Traceback" not in captured.err + captured.out
    finally:
        shutil.rmtree(layout.parent)
