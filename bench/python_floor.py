"""The least a Python process can do to fetch a list of URLs: the floors under cachetui's listing.

``bench_inventory`` runs this as a child process, timed from its start like ``cachetui ls``:

- ``pycurl``: libcurl's multi interface, what cachetui's lean reads stand on
  (``store/registry/curl.py``), 8 transfers at a time, each body gathered whole and its status
  checked, nothing else: what that engine costs before cachetui parses, verifies or caches
  anything (no asyncio: the loop's share is cachetui's);
- ``aiohttp``: asyncio and aiohttp, the stack the lean reads stood on before (and still do on a
  proxied route), 8 tasks taking the next URL in turn, the same checks;
- ``threads``: the standard library's blocking ``http.client``, one keep-alive connection in each
  of 8 threads and no event loop: what Python costs without asyncio.

    python bench/python_floor.py pycurl|aiohttp|threads URLS_FILE

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


def with_pycurl(accept: str, urls: list[str]) -> int:
    import io

    import pycurl

    multi = pycurl.CurlMulti()
    idle: list[pycurl.Curl] = []
    for _ in range(8):
        easy = pycurl.Curl()
        easy.setopt(pycurl.HTTPHEADER, [f"Accept: {accept}"])
        idle.append(easy)
    pending = iter(urls)
    bodies: dict[int, io.BytesIO] = {}
    read = running = 0

    def start(easy: pycurl.Curl) -> bool:
        url = next(pending, None)
        if url is None:
            return False
        body = bodies[id(easy)] = io.BytesIO()
        easy.setopt(pycurl.URL, url)
        easy.setopt(pycurl.WRITEDATA, body)
        multi.add_handle(easy)
        return True

    while idle and start(idle[-1]):
        idle.pop()
        running += 1
    while running:
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, finished, failed = multi.info_read()
            if failed:
                raise SystemExit(f"libcurl: {failed[0][2]}")
            for easy in finished:
                status = easy.getinfo(pycurl.RESPONSE_CODE)
                if status != 200:
                    raise SystemExit(f"{easy.getinfo(pycurl.EFFECTIVE_URL)}: HTTP {status}")
                bodies.pop(id(easy)).getvalue()
                multi.remove_handle(easy)
                read += 1
                if not start(easy):
                    running -= 1
            if not queued:
                break
        multi.select(1.0)
    return read


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
    fetch = {"pycurl": with_pycurl, "aiohttp": with_aiohttp, "threads": with_threads}[how]
    print(fetch(accept, [url for url in urls if url]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
