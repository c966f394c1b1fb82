"""The servers of the lab: clusterd in one configuration, nginx, the Node.js peers.

Each `start()` launches the server on a free loopback port through the
registry, waits until it is ready (the same handshake as bench/lib.sh:
port from the log, every unit ready, 200 on /) and records how long that
took. `units()` lists the pids a crash may kill; `recovered(victim)` says
whether the server is back at full capacity after VICTIM died.
"""
import json
import os
import re
import socket
import subprocess
import time
import urllib.request

from procs import Registry, tree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(ROOT, "bench", "peers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return r.status
    except (OSError, ValueError) as e:   # HTTPError is an OSError; its code is the status
        return getattr(e, "code", None)


class Server:
    name = "server"
    kind = "peer"

    def __init__(self, registry: Registry, workdir: str, start_timeout: float):
        self.registry = registry
        self.workdir = workdir
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.startup_ms = None
        self.log_path = os.path.join(workdir, f"{self.tag()}.log")

    def tag(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.name)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def argv(self) -> list:
        raise NotImplementedError

    def env(self) -> dict:
        return dict(os.environ)

    def is_ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        log = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = self.registry.spawn(self.argv(), stdout=log, stderr=subprocess.STDOUT, env=self.env(),
                                        cwd=self.workdir)
        log.close()
        deadline = t0 + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.is_ready() and http_status(self.url("/")) == 200:
                self.startup_ms = (time.monotonic() - t0) * 1000.0
                return
            time.sleep(0.01)
        with open(self.log_path) as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{self.name} did not become ready within {self.start_timeout:.0f} s:\n{tail}")

    def stop(self) -> None:
        if self.proc is not None:
            self.registry.stop(self.proc.pid)
            self.proc = None

    def pids(self) -> list:
        return tree(self.pid)

    def log_text(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def port_from_log(self, pattern: str):
        m = re.search(pattern, self.log_text())
        return int(m.group(1)) if m else None


class Clusterd(Server):
    """clusterd with --workers UNITS (processes model: worker processes;
    threads model: event-loop threads in one process) and a compute executor
    sized to EXECUTORS in total."""
    kind = "clusterd"

    def __init__(self, registry, workdir, start_timeout, binary, model, compute, units, executors, label=""):
        self.binary, self.model, self.compute, self.units, self.executors = binary, model, compute, units, executors
        self.name = f"clusterd {model}/{compute}{label}"
        super().__init__(registry, workdir, start_timeout)

    def config_args(self) -> list:
        args = ["--workers", str(self.units)]
        if self.model != "processes":
            args += ["--model", self.model]
        args += ["--compute", self.compute]
        if self.compute == "threads":
            # --compute-threads is per worker process: the same total either way.
            per_process = self.executors if self.model == "threads" else max(1, self.executors // self.units)
            args += ["--compute-threads", str(per_process)]
        elif self.compute == "processes":
            args += ["--compute-processes", str(self.executors)]
        return args

    def describe(self) -> str:
        unit = "loop threads in 1 process" if self.model == "threads" else "worker processes"
        ex = {"inline": "jobs on the event loops", "threads": f"{self.executors} compute threads in all",
              "processes": f"{self.executors} compute processes"}[self.compute]
        return f"{self.units} {unit}, {ex}"

    def control_socket(self) -> str:
        # One per lab instance: side-by-side runs never answer for each other.
        return f"/tmp/clusterd-lab-{os.getpid()}-{id(self)}.sock"

    def argv(self) -> list:
        return [self.binary, "--listen", "127.0.0.1:0", "--log-level", "info", "--control-socket",
                self.control_socket(), "--compute-timeout", "120s", *self.config_args()]

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTERD_") and k != "JOURNAL_STREAM"}
        if os.getuid() == 0:
            env["CLUSTERD_ALLOW_ROOT"] = "true"
        return env

    def status(self):
        """The scoreboard, as `clusterd status --json` reports it over the instance's control socket."""
        try:
            out = subprocess.run([self.binary, "status", "--control-socket", self.control_socket(), "--json"],
                                 capture_output=True,
                                 text=True, timeout=5)
            return json.loads(out.stdout) if out.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def full_capacity(self, exclude_pid=None) -> bool:
        s = self.status()
        if not s or s["workers_ready"] < s["workers_configured"]:
            return False
        wanted = self.executors if self.compute == "processes" else 0
        ready_compute = sum(1 for w in s["workers"] if w["role"] == "compute" and w["state"] == "ready")
        if ready_compute < wanted:
            return False
        return exclude_pid is None or all(w["pid"] != exclude_pid for w in s["workers"])

    def is_ready(self) -> bool:
        if self.port is None:
            self.port = self.port_from_log(r"\] listening on [0-9.]+:([0-9]+)")
        return self.port is not None and self.full_capacity()

    def units_pids(self) -> list:
        s = self.status() or {"workers": []}
        return sorted({w["pid"] for w in s["workers"] if w["role"] != "compute" and w["pid"]})

    def recovered(self, victim: int) -> bool:
        return self.full_capacity(exclude_pid=victim)

    def leftovers(self) -> list:
        """After stop(): the segment of this instance, and any process still naming its supervisor."""
        found = [p for p in [f"/dev/shm/clusterd.{self.last_pid}"] if os.path.exists(p)]
        marker = f"--supervisor-pid\0{self.last_pid}\0".encode()
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker in f.read():
                        found.append(f"pid {name} (child of supervisor {self.last_pid})")
            except OSError:
                pass
        return found

    def start(self) -> None:
        super().start()
        self.last_pid = self.pid


class Nginx(Server):
    name = "nginx"

    def __init__(self, registry, workdir, start_timeout, workers):
        self.workers = workers
        super().__init__(registry, workdir, start_timeout)

    def describe(self) -> str:
        return f"{self.workers} worker processes, return 200"

    def argv(self) -> list:
        self.port = free_port()
        d = os.path.join(self.workdir, "nginx")
        os.makedirs(os.path.join(d, "logs"), exist_ok=True)
        conf = os.path.join(d, "nginx.conf")
        temps = "\n".join(f"    {k}_temp_path {d}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""worker_processes {self.workers};
pid {d}/nginx.pid;
error_log {d}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temps}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{ return 200 "hello\\n"; }}
    }}
}}
""")
        return ["nginx", "-p", d + "/", "-c", conf, "-e", f"{d}/logs/error.log", "-g", "daemon off;"]

    def is_ready(self) -> bool:
        return len(self.pids()) >= 1 + self.workers

    def units_pids(self) -> list:
        return self.pids()[1:]

    def recovered(self, victim: int) -> bool:
        kids = self.pids()[1:]
        return victim not in kids and len(kids) >= self.workers


class NodePeer(Server):
    """bench/peers/SCRIPT.js with --workers WORKERS (cluster processes or fib threads)."""

    def __init__(self, registry, workdir, start_timeout, node, script, name, workers, what):
        self.node, self.script, self.name, self.workers, self.what = node, script, name, workers, what
        super().__init__(registry, workdir, start_timeout)

    def describe(self) -> str:
        return self.what

    def argv(self) -> list:
        return [self.node, os.path.join(PEERS, self.script), "--port", "0", "--workers", str(self.workers)]

    def is_ready(self) -> bool:
        if self.port is None:
            self.port = self.port_from_log(r"(?m)^listening on [0-9.]+:([0-9]+)")
        return self.port is not None

    def units_pids(self) -> list:
        return self.pids()[1:] if self.script == "cluster_hello.js" else [self.pid]

    def recovered(self, victim: int) -> bool:
        listening = {int(p) for p in re.findall(r"(?m)^worker ([0-9]+) listening", self.log_text())}
        kids = [p for p in self.pids()[1:] if p in listening]
        return victim not in kids and len(kids) >= self.workers
