"""The least a Python process can do to fetch a list of URLs: the floors under cachetui's listing.

``bench_inventory`` runs this as a child process, timed from its start like ``cachetui ls``:

- ``aiohttp``: asyncio and aiohttp, the stack cachetui's registry client stands on (its lean
  reads go straight to an aiohttp session, ``store/registry/lean.py``), 8 tasks taking the
  next URL in turn, each body read whole and its status checked, nothing else: what that stack
  costs before cachetui parses, verifies or caches anything;
- ``threads``: the standard library's blocking ``http.client``, one keep-alive connection in each
  of 8 threads and no event loop: what Python costs without asyncio.

    python bench/python_floor.py aiohttp|threads URLS_FILE

``URLS_FILE``: the ``Accept`` header on the first line, one ``http://`` URL per line after it, all
on one host. Prints how many answers were read.
"""

from __future__ import annotations

import sys


def with_aiohttp(accept: str, urls: list[str]) -> int:
    import asyncio

    import aiohttp

    async def fetch_all() -> int:
        pending = iter(urls)
        read = 0
        async with aiohttp.ClientSession() as session:
            async def worker() -> None:
                nonlocal read
                for url in pending:
                    async with session.get(url, headers={"Accept": accept}) as response:
                        response.raise_for_status()
                        await response.read()
                        read += 1

            await asyncio.gather(*(worker() for _ in range(8)))
        return read

    return asyncio.run(fetch_all())


def with_threads(accept: str, urls: list[str]) -> int:
    import http.client
    import threading
    from urllib.parse import urlsplit

    first = urlsplit(urls[0])
    pending = iter(urls)
    lock = threading.Lock()
    read = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection(first.hostname or "", first.port)
        while True:
            with lock:
                url = next(pending, None)
            if url is None:
                connection.close()
                return
            connection.request("GET", urlsplit(url).path, headers={"Accept": accept})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{url}: HTTP {response.status}")
            with lock:
                read[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return read[0]


def main() -> int:
    how, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as file:
        accept, *urls = file.read().splitlines()
    fetch = {"aiohttp": with_aiohttp, "threads": with_threads}[how]
    print(fetch(accept, [url for url in urls if url]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
