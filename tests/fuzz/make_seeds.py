#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/.

Seeds are real requests (HTTP) or well-formed ring images with a few
operations (rings); libFuzzer mutates from there. Regression inputs found by
fuzzing are added by hand as corpus/<target>/regression-<what> and are not
touched here. Run from anywhere: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())


def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n"


http = {
    "get-root": get("/"),
    "healthz": get("/healthz"),
    "readyz-head": "HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n",
    "metrics": get("/metrics"),
    "status": get("/status"),
    "fib": get("/compute/fib?n=20"),
    "primes": get("/compute/primes?limit=1000"),
    "hash": get("/compute/hash?rounds=10&data=a%20b%2Fc+d"),
    "hash-broken-escape": get("/compute/hash?data=%zz"),
    "fib-out-of-range": get("/compute/fib?n=99999999999999999999"),
    "crash-without-fault-injection": get("/debug/crash?mode=segv"),
    "unknown-kind": get("/compute/nope"),
    "percent-path": get("/%68ealthz"),
    "absolute-form": "GET http://example.com/healthz?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "asterisk": "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "post-405": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "delete-compute": "DELETE /compute/fib?n=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined": get("/") + get("/healthz") + "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/compute/fib?n=3"),
    "pipelined-close": get("/", "Connection: close\r\n") + get("/healthz"),
    "http10": "GET / HTTP/1.0\r\n\r\n",
    "http10-keepalive": "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
    "http11-no-host": "GET / HTTP/1.1\r\n\r\n",
    "http2": "GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    "http09": "GET /\r\n\r\n",
    "chunked": "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n" + get("/"),
    "chunked-not-last": "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "chunked-bad-size": "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "cl-and-te": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two-content-lengths": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "expect-100": "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "expect-100-no-body": "GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n",
    "body-too-large": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\nxx",
    "huge-header": "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 9000 + "\r\n\r\n",
    "many-headers": "GET / HTTP/1.1\r\nHost: x\r\n" + "".join(f"X-{i}: {i}\r\n" for i in range(300)) + "\r\n",
    "obs-fold": "GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n",
    "bare-lf": "GET / HTTP/1.1\nHost: x\n\n",
    "garbage": "\x00\xff\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "tls-client-hello": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)),
    "long-method": "A" * 200 + " / HTTP/1.1\r\nHost: x\r\n\r\n",
    "method-with-crlf": "GE\rT / HTTP/1.1\r\nHost: x\r\n\r\n",
    "long-target": get("/" + "x" * 5000),
    "nul-in-target": get("/healthz%00x"),
    "leading-crlf": "\r\n\r\n" + get("/"),
    "slowloris-prefix": "GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n",
}
for name, data in http.items():
    write("http_request", name, data)


def spsc(head, tail, record, ops):
    return struct.pack("<QQ", head, tail) + record + bytes(ops)


log_record = struct.pack("<BBH", 2, 0, 5) + b"hello".ljust(252, b"\0")
command = struct.pack("<IIQ", 1, 0, 12345)
# ops: 0 pop(n), 1 release, 2 head=, 3 tail=, 4 reset, 5 push, 6 publish, 7 scribble slot
for target, record, capacity in (("log_ring", log_record, 256), ("command_ring", command, 16)):
    write(target, "empty", spsc(0, 0, record, [0, 8, 1]))
    write(target, "some-published", spsc(10, 3, record, [0, 4, 0, 40, 1, 0, 200, 1]))
    write(target, "full", spsc(capacity, 0, record, [0, 255, 1, 0, 255, 1]))
    write(target, "head-behind-tail", spsc(2, 9, record, [0, 1, 4, 0, 1]))
    write(target, "head-far-ahead", spsc(1 << 40, 0, record, [0, 3, 4, 5, 6, 0, 3]))
    write(target, "produce-consume", spsc(0, 0, record, [5, 5, 5, 6, 0, 2, 1, 5, 6, 0, 10, 1]))
    write(target, "tail-scribbled", spsc(5, 5, record, [3, 0x21, 5, 6, 3, 2, 5, 4, 5, 6, 0, 3]))
    write(target, "near-wrap", spsc(2**64 - 3, 2**64 - 5, record, [0, 7, 1, 0, 7]))
    write(target, "slot-rewritten", spsc(4, 0, record, [7, 1, 0, 2, 7, 3, 0, 9, 1]))

# job ring: shape, [header bytes], record byte count/8, records..., then (op, arg) pairs.
# ops: 0 claim 1 finish 2 collect 3 release_consumer 4 release_requester 5 reclaim 6 load
#      7 submit 8 cancel 9 scribble control 10 for_each_running
def job(shape, ops, records=b""):
    return bytes([shape, len(records) // 8]) + records + bytes(ops)


write("job_ring", "submit-claim-finish-collect", job(3, [7, 1, 7, 2, 0, 0, 1, 0, 2, 1, 6, 0]))
write("job_ring", "consumer-dies", job(4, [7, 1, 7, 1, 0, 2, 3, 2, 2, 1, 6, 0]))
write("job_ring", "requester-dies", job(4, [7, 1, 0, 3, 4, 1, 1, 0, 6, 0, 10, 0]))
write("job_ring", "cancel", job(2, [7, 0, 8, 0, 0, 0, 6, 0]))
write("job_ring", "garbage-control", job(5, [7, 0, 9, 0] + list(struct.pack("<Q", 0xffffffffffffff07)) + [6, 0, 5, 3, 6, 0]))
write("job_ring", "bad-owner", job(5, [7, 2, 0, 7, 9, 0] + list(struct.pack("<Q", 0x123f3)) + [5, 2, 10, 0]))
write("job_ring", "scribbled-records", job(7, [0, 0, 2, 1, 3, 0, 5, 1, 6, 0], bytes(range(256)) * 2))
write("job_ring", "short-image", job(0x83, [0, 0]))
write("job_ring", "scribbled-header", bytes([0x44, 24]) + struct.pack("<QIII", 0x474e4952424f4a43, 1, 60000, 512) + b"\0" * 4 + bytes([0, 7, 0, 0, 0]))

# scribbled segment: byte 0 even = the rest repeated over the whole body;
# odd = patches (u32 offset, u8 length, bytes) over a fresh body.
def patches(*items):
    out = b"\x01"
    for offset, data in items:
        out += struct.pack("<IB", offset, len(data)) + data
    return out


write("scribbled_segment", "zeros", b"\x00\x00")
write("scribbled_segment", "ones", b"\x00\xff")
write("scribbled_segment", "small-numbers", b"\x00" + bytes(range(0, 40)))
write("scribbled_segment", "counting", b"\x00" + bytes(range(256)))
write("scribbled_segment", "untouched", b"\x01")
write("scribbled_segment", "patches-spread",
      patches(*[(i * 4093, struct.pack("<QQ", 2**63 + i, i)) for i in range(64)]))
write("scribbled_segment", "patches-long", patches(*[(i * 251, b"\xff" * 255) for i in range(40)]))
