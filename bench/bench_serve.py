"""Load test of ``bowclf serve``: requests/s, documents/s and latency against in-process calls.

Starts ``bowclf serve MODEL`` on a free loopback port (127.0.0.1 only) and drives it with a
bounded asyncio client: for each request size (1 and 100 documents) and each number of
concurrent keep-alive connections (1, 2, 4, ... 64), a fixed number of requests is sent
(each connection sends its next request when the previous answer arrived) and the run stops
by itself.  Latency is measured per request (send → full response).  Then an open-loop run
sends 1-document requests at half of the best 1-document throughput measured (at regular
intervals, over up to 64 connections; latency counted from the scheduled send time, so
queueing shows) and reports its p50/p99.

The same model is timed in-process: ``predict`` on 1 document, on 100 documents and on the
whole request pool at once (batched documents/s).  Every HTTP answer is checked against the
in-process ``predict`` of the same documents.

The client is hand-written on asyncio streams (pre-encoded requests, ``Content-Length``
parsing only) because it must cost the shared CPU far less than the server it measures;
the server under test is the real uvicorn/Starlette stack.

Targets (issue 18): 32 concurrent 1-document clients ≥ 2,000 documents/s; 100-document
requests ≥ 50 % of in-process batched documents/s; p99 ≤ 50 ms at half of max throughput.

Usage::

    BOWCLF_DATASETS=/work/shared/datasets python bench/bench_serve.py
    python bench/bench_serve.py --model m.bowclf --requests 3000 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import load_dataset  # noqa: E402
from bowclf import TextClassifier  # noqa: E402
from bowclf.persist import load, save  # noqa: E402

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the server process and its children (uvicorn workers)."""
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
        return json.load(r)


def _client_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(texts: list[str]) -> bytes:
    body = json.dumps({"texts": texts}).encode()
    return (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


class _Conn:
    """One keep-alive HTTP/1.1 connection sending pre-encoded requests."""

    async def open(self, port: int) -> _Conn:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def call(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        body = await self.reader.readexactly(int(_LENGTH.search(head).group(1)))
        return int(head[9:12]), body

    def close(self) -> None:
        self.writer.close()


async def _closed_loop(port: int, requests: list[bytes], n: int, conc: int):
    """``n`` requests over ``conc`` connections; returns (seconds, latencies, bodies)."""
    conns = [await _Conn().open(port) for _ in range(conc)]
    latencies = np.empty(n)
    bodies: dict[int, bytes] = {}
    counter = iter(range(n))

    async def worker(conn: _Conn) -> None:
        for i in counter:
            raw = requests[i % len(requests)]
            t = time.perf_counter()
            status, body = await conn.call(raw)
            latencies[i] = time.perf_counter() - t
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            if i < len(requests):
                bodies[i] = body

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    seconds = time.perf_counter() - start
    for c in conns:
        c.close()
    return seconds, latencies, bodies


async def _open_loop(port: int, requests: list[bytes], n: int, rate: float, conc: int = 64):
    """``n`` requests sent at ``rate`` per second (scheduled), over up to ``conc``
    connections; latency from the scheduled send time."""
    idle: asyncio.Queue = asyncio.Queue()
    for _ in range(conc):
        idle.put_nowait(await _Conn().open(port))
    latencies = np.empty(n)
    start = time.perf_counter()

    async def one(i: int, due: float) -> None:
        conn = await idle.get()
        status, _ = await conn.call(requests[i % len(requests)])
        latencies[i] = time.perf_counter() - due
        idle.put_nowait(conn)
        if status != 200:
            raise RuntimeError(f"HTTP {status}")

    tasks = []
    tick = 0.005  # launch what is due every 5 ms: one timer per tick, not per request
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i / rate <= now:
            tasks.append(asyncio.ensure_future(one(i, start + i / rate)))
            i += 1
        await asyncio.sleep(tick)
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().close()
    return seconds, latencies


def _model(args) -> tuple[Path, list[str]]:
    texts, labels = load_dataset("ag_news", "test")
    pool = texts[6000:]
    if args.model:
        return Path(args.model), pool
    path = Path(tempfile.mkdtemp(prefix="bowclf-serve-")) / "ag_news.bowclf"
    t = time.perf_counter()
    model = TextClassifier(random_state=0).fit(texts[:6000], labels[:6000])
    save(model, path)
    print(f"trained ag_news model on 6,000 documents in {time.perf_counter() - t:.1f}s", flush=True)
    return path, pool


def _in_process(model, pool: list[str], reps: int = 3) -> dict[str, tuple[float, float]]:
    """Documents/s of ``predict`` in this process: ``(wall, CPU)`` — per second of wall time
    (best of ``reps``) and per CPU-second of this process (robust to other load)."""

    def best(fn, number):
        walls, cpus = [], []
        for _ in range(reps):
            t, c = time.perf_counter(), _client_cpu()
            for _ in range(number):
                fn()
            walls.append((time.perf_counter() - t) / number)
            cpus.append((_client_cpu() - c) / number)
        return min(walls), max(min(cpus), 1e-9)

    out = {}
    for name, docs, number in (
        ("1 document per call", pool[:1], 200),
        ("100 documents per call", pool[:100], 20),
        (f"{len(pool):,} documents per call", pool, 2),
    ):
        wall, cpu = best(lambda docs=docs: model.predict(docs), number)
        out[name] = (len(docs) / wall, len(docs) / cpu)
    return out


def _start(path: Path, port: int, args) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bowclf.cli", "serve", str(path), "--port", str(port)]
    cmd += ["--workers", str(args.workers), "--log-level", "warning"]
    cmd += ["--batch-window-ms", str(args.window_ms)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("server failed to start") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def _check(bodies: dict[int, bytes], batches: list[list[str]], model) -> None:
    for i, body in list(bodies.items())[:50]:
        got = [p["labels"][0] for p in json.loads(body)["predictions"]]
        assert got == model.predict(batches[i]).tolist(), f"request {i} differs from the library"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="A saved TextClassifier (default: train one on ag_news)")
    ap.add_argument("--requests", type=int, default=2000, help="1-document requests per run")
    ap.add_argument("--requests-100", type=int, default=200, help="100-document requests")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--window-ms", type=float, default=2.0, help="server --batch-window-ms")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    path, pool = _model(args)
    model = load(path)
    base = _in_process(model, pool)
    print("\nIn-process predict: documents per wall second, per CPU second")
    for name, (wall, cpu) in base.items():
        print(f"  {name:<28} {wall:>10,.0f} {cpu:>10,.0f}")
    port = _free_port()
    proc = _start(path, port, args)
    print(f"\nserver: bowclf serve --workers {args.workers} --batch-window-ms {args.window_ms}")
    try:
        rows = []
        best_1 = 0.0
        for size, n in ((1, args.requests), (100, args.requests_100)):
            batches = [pool[(i * size) % len(pool) :][:size] for i in range(400)]
            batches = [b if len(b) == size else pool[:size] for b in batches]
            requests = [_request(b) for b in batches]
            asyncio.run(_closed_loop(port, requests, min(50, n), 4))  # warm-up
            for conc in args.concurrency:
                cpu0, ccpu0, h0 = _cpu_seconds(proc.pid), _client_cpu(), _health(port)
                seconds, lat, bodies = asyncio.run(_closed_loop(port, requests, n, conc))
                server_ms = (_cpu_seconds(proc.pid) - cpu0) / n * 1e3
                client_ms = (_client_cpu() - ccpu0) / n * 1e3
                h1 = _health(port)
                batch = (h1["documents"] - h0["documents"]) / max(h1["batches"] - h0["batches"], 1)
                _check(bodies, batches, model)
                rps = n / seconds
                p50, p99 = np.percentile(lat, [50, 99]) * 1e3
                rows.append((size, conc, n, rps, rps * size, p50, p99, server_ms, client_ms, batch))
                if size == 1:
                    best_1 = max(best_1, rps)
                print(
                    f"  {size:>3} doc/request  {conc:>2} connections  {n:>5} requests  "
                    f"{rps:>8,.0f} req/s  {rps * size:>9,.0f} docs/s  "
                    f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                    f"CPU/request server {server_ms:.2f} ms client {client_ms:.2f} ms  "
                    f"docs/batch {batch:.1f}",
                    flush=True,
                )
        requests = [_request([t]) for t in pool[:400]]
        open_rows = []
        for share in (0.25, 0.5):
            rate = best_1 * share
            seconds, lat = asyncio.run(_open_loop(port, requests, args.requests, rate))
            p50, p99 = np.percentile(lat, [50, 99]) * 1e3
            open_rows.append((share, rate, args.requests / seconds, p50, p99))
            print(
                f"  open loop at {share:.0%} of the best 1-document throughput: {rate:,.0f} req/s "
                f"offered, {args.requests / seconds:,.0f} achieved, p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms",
                flush=True,
            )
        print(
            "\n| docs/request | connections | requests | req/s | docs/s | p50 ms | p99 ms "
            "| server CPU ms/request | client CPU ms/request | docs/batch |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size, conc, n, rps, dps, p50_, p99_, sms, cms, b in rows:
            print(
                f"| {size} | {conc} | {n} | {rps:,.0f} | {dps:,.0f} | {p50_:.1f} | {p99_:.1f} "
                f"| {sms:.2f} | {cms:.2f} | {b:.1f} |"
            )
        print("\n| open loop (share of best 1-doc req/s) | offered | achieved | p50 ms | p99 ms |")
        print("|---:|---:|---:|---:|---:|")
        for share, rate, got, p50_, p99_ in open_rows:
            print(f"| {share:.0%} | {rate:,.0f} | {got:,.0f} | {p50_:.1f} | {p99_:.1f} |")
        p99 = open_rows[-1][4]
        one32 = [r for r in rows if r[0] == 1 and r[1] == 32]
        best100 = max((r[4] for r in rows if r[0] == 100), default=0.0)
        batched, batched_cpu = list(base.values())[-1]
        cpu100 = max((100 / (r[7] / 1e3) for r in rows if r[0] == 100), default=0.0)
        print("\nTargets:")
        if one32:
            print(f"  32 x 1-document clients: {one32[0][4]:,.0f} docs/s (target >= 2,000)")
        print(
            f"  100-document requests: best {best100:,.0f} docs/s = "
            f"{best100 / batched:.0%} of in-process batched {batched:,.0f} (target >= 50%)"
        )
        print(
            f"  per CPU second: server {cpu100:,.0f} docs (100-document requests, best) = "
            f"{cpu100 / batched_cpu:.0%} of in-process batched {batched_cpu:,.0f}"
        )
        print(f"  p99 at half of max throughput: {p99:.1f} ms (target <= 50 ms)")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
