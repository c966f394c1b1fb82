#!/usr/bin/env python3
"""K concurrent requests issued at once; wall time until the last answer.

Used by bench/compute.sh for the CPU-throughput part:

    bench/fib_burst.py --url 'http://127.0.0.1:PORT/compute/fib?n=44' --k 8 --timeout 150

Opens K connections first, then releases every request together (a barrier),
so what is timed is the server computing K jobs, not the client connecting.
Prints one machine-readable line, then one line per request:

    BURST k=8 ok=8 wall_s=3.612 first_s=1.803 last_s=3.612 statuses=200:8
    REQ 0 status=200 s=1.803 compute_ms=901.2

Exits 1 if any request failed or timed out (the line is still printed).
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds per request, connect included")
    args = parser.parse_args()

    url = urllib.parse.urlsplit(args.url)
    target = url.path + ("?" + url.query if url.query else "")
    results = [None] * args.k   # (status or error text, seconds since release, compute_ms)
    released = [0.0]
    # The clock starts in the barrier's action, which runs before any party is
    # released: set after wait() returned, a fast answer could be timed
    # against 0.0 (seen with sub-millisecond jobs).
    barrier = threading.Barrier(args.k + 1, action=lambda: released.__setitem__(0, time.monotonic()))

    def one(i: int) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)
        try:
            conn.connect()
        except OSError as e:
            barrier.abort()
            results[i] = (f"connect: {e}", 0.0, None)
            return
        try:
            barrier.wait()
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read()
            elapsed = time.monotonic() - released[0]
            compute_ms = None
            if response.status == 200:
                compute_ms = json.loads(body).get("compute_ms")
            results[i] = (response.status, elapsed, compute_ms)
        except (OSError, threading.BrokenBarrierError, http.client.HTTPException, ValueError) as e:
            results[i] = (f"{type(e).__name__}: {e}", time.monotonic() - released[0], None)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(args.k)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout=args.timeout)
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join(args.timeout + 5)

    done = [r for r in results if r is not None]
    ok = [r for r in done if r[0] == 200]
    statuses: dict = {}
    for r in results:
        key = str(r[0]) if r is not None else "no-answer"
        statuses[key] = statuses.get(key, 0) + 1
    times = [r[1] for r in done]
    wall = max(times) if times else 0.0
    first = min(times) if times else 0.0
    summary = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())).replace(" ", "_")
    print(f"BURST k={args.k} ok={len(ok)} wall_s={wall:.3f} first_s={first:.3f} last_s={wall:.3f} statuses={summary}")
    for i, r in enumerate(results):
        if r is None:
            print(f"REQ {i} status=no-answer")
        else:
            print(f"REQ {i} status={str(r[0]).replace(' ', '_')} s={r[1]:.3f} compute_ms={r[2]}")
    return 0 if len(ok) == args.k else 1


if __name__ == "__main__":
    sys.exit(main())
