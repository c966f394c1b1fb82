#!/usr/bin/env python3
"""A Python HTTP server as one would run it under `clusterd -- python3 python_server.py`,
standard library only: the listening socket from fd 3 (socket activation,
LISTEN_FDS/LISTEN_PID checked as sd_listen_fds(3) does), readiness and watchdog
pings as sd_notify datagrams to NOTIFY_SOCKET (what libsystemd's sd_notify sends),
SIGTERM: stop accepting, finish in-flight requests, exit 0.
Test routes: /slow?ms=N, /stop-pinging."""
import http.server
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse


def sd_notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(message.encode(), path)


def listen_socket():
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or int(os.environ.get("LISTEN_FDS", "0")) < 1:
        sys.exit("not socket-activated: LISTEN_PID/LISTEN_FDS do not name this process")
    return socket.socket(fileno=3)


WHO = f"python worker {os.environ.get('CLUSTERD_WORKER_INDEX')} pid {os.getpid()}"
pinging = threading.Event()
pinging.set()
stopping = threading.Event()  # set on SIGTERM: every response then closes its connection


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/slow":
            time.sleep(int(urllib.parse.parse_qs(url.query).get("ms", ["200"])[0]) / 1000)
        if url.path == "/stop-pinging":
            pinging.clear()
        body = f"hello from {WHO}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", f"{os.environ.get('CLUSTERD_WORKER_INDEX')}/{os.getpid()}")
        if stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        # Idle keep-alive connections close after 5 s of silence (Node's
        # default), after 250 ms once stopping; never while a request may be
        # on its way, which closing at SIGTERM would race.
        self.connection.settimeout(0.25 if stopping.is_set() else 5)
        super().handle_one_request()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # SIGTERM waits for in-flight requests
    block_on_close = True


def main():
    server = Server(("", 0), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listen_socket()
    # Every worker waits on the same socket: another may take the connection
    # this one was woken for, and a blocking accept() would then wait (and
    # ignore SIGTERM) until the next one. socketserver skips a failed accept.
    server.socket.setblocking(False)
    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    if usec and os.environ.get("WATCHDOG_PID") == str(os.getpid()):
        def ping():
            while True:
                if pinging.is_set():
                    sd_notify("WATCHDOG=1")
                time.sleep(usec / 2e6)
        threading.Thread(target=ping, daemon=True).start()

    def stop(signum, frame):
        print(f"{WHO}: SIGTERM, finishing in-flight requests", flush=True)
        sd_notify("STOPPING=1")
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    print(f"{WHO} serving on fd 3", flush=True)
    sd_notify(f"READY=1\nSTATUS=serving as {WHO}")
    # Not serve_forever()/shutdown(): a shutdown() that comes before
    # serve_forever() has started is forgotten, and a SIGTERM right after
    # READY=1 would then never stop the server.
    server.timeout = 0.1
    while not stopping.is_set():
        server.handle_request()
    server.server_close()  # waits for the requests in flight


if __name__ == "__main__":
    main()
