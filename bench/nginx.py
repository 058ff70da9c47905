"""Serve the generated site with nginx (gzip_static), optionally failing some responses once.

nginx runs as a child process (``daemon off``) with its own config, pid file, logs and temp dirs
under ``bench/out/nginx/``; it never touches the system's nginx. Each host of the site gets a
``server`` listening on its own loopback address (127.0.0.1 .. 127.0.0.8, one port). Access logs
are off and static files go out with sendfile, so the server is not what a benchmark measures;
:func:`wrk_rate` checks that it serves far faster than any contender crawls.

Fault injection (``fault_rate > 0``) needs nginx's Lua module (``libnginx-mod-http-lua``, installed
with apt on demand). A fixed, hash-chosen share of the page URLs fails its first
``fault_attempts`` requests and succeeds afterwards: the failures are transient by construction,
so a crawler that retries stores every page, and every contender sees the same failing URLs. The
state is a Lua shared dict (``url -> requests so far``) that lives as long as the nginx process,
so start a fresh server for each contender. Only client requests count (not the internal
redirect of ``/`` to ``/index.html``).

Beware: aiohttp (3.14) silently repeats an idempotent request once when the server closes the
connection without answering, so with ``fault_attempts=1`` a dropped-connection fault costs an
aiohttp-based client one extra request but is never seen as a failure; use ``fault_attempts >= 2``
to make drops visible to it. The kind of failure is chosen by a second hash:
a third ``500``, a third ``503`` (no ``Retry-After``), a third the connection closed without any
response (nginx's ``444``: the client sees the server disconnect). robots.txt never fails: the
mode measures page retries, not a host disallowed for want of its robots.txt.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from gen_site import Site

LUA_MODULES = (
    "/usr/lib/nginx/modules/ndk_http_module.so",
    "/usr/lib/nginx/modules/ngx_http_lua_module.so",
)

_FAULT_LUA = """
            if ngx.req.is_internal() then return end
            local uri = ngx.var.uri
            if uri == "/robots.txt" then return end
            local h = ngx.crc32_long(uri)
            if h % 100000 >= {threshold} then return end
            local n = ngx.shared.faults:incr(uri, 1, 0)
            if n > {attempts} then return end
            local kind = math.floor(h / 100000) % 3
            if kind == 0 then return ngx.exit(500) end
            if kind == 1 then return ngx.exit(503) end
            return ngx.exit(444)
"""


def apt_install(*packages: str) -> None:
    """``apt-get install -y`` the Debian packages whose files are missing (root only)."""
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.DEVNULL,
    )


def ensure_tools(faults: bool) -> None:
    """Install nginx and wrk (and the Lua module for faults) with apt when they are missing."""
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if faults and not all(Path(m).exists() for m in LUA_MODULES):
        missing.append("libnginx-mod-http-lua")
    if missing:
        apt_install(*missing)


def render_config(
    site: Site,
    workdir: Path,
    *,
    fault_rate: float = 0.0,
    fault_attempts: int = 1,
    workers: int = 1,
    access_log: bool = False,
) -> str:
    """The nginx.conf text serving ``site``; runtime files go under ``workdir``. ``access_log``:
    one line a request in ``workdir/access.log``, ``STATUS BYTES_SENT`` (headers included)."""
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError(f"fault_rate must be within [0, 1], got {fault_rate}")
    faults = fault_rate > 0.0
    lines = [f"load_module {m};" for m in LUA_MODULES] if faults else []
    if os.geteuid() == 0:
        # As root, workers would drop to "nobody", who may not read the work tree.
        lines.append("user root;")
    lines += [
        f"worker_processes {workers};",
        f"pid {workdir}/nginx.pid;",
        f"error_log {workdir}/error.log warn;",
        "events { worker_connections 4096; multi_accept on; }",
        "http {",
        "    types { text/html html; text/plain txt; application/xml xml; }",
        "    default_type application/octet-stream;",
        "    sendfile on; tcp_nopush on; tcp_nodelay on;",
        "    keepalive_timeout 75s; keepalive_requests 1000000;",
        "    gzip off; gzip_static on; gzip_vary on;",
        "    open_file_cache max=50000 inactive=120s; open_file_cache_valid 600s;",
        "    server_tokens off;",
    ]
    if access_log:
        lines += [
            "    log_format sent '$status $bytes_sent';",
            f"    access_log {workdir}/access.log sent;",
        ]
    else:
        lines.append("    access_log off;")
    lines += [f"    {kind}_temp_path {workdir}/tmp/{kind};" for kind in _TEMP_KINDS]
    if faults:
        lines.append("    lua_shared_dict faults 64m;")
    for host in range(min(site.hosts, site.pages)):
        lines += [
            "    server {",
            f"        listen {site.host_addr(host)} reuseport backlog=4096;",
            f"        root {site.host_dir(host)};",
            "        index index.html;",
        ]
        if faults:
            threshold = round(fault_rate * 100_000)
            lua = _FAULT_LUA.format(threshold=threshold, attempts=fault_attempts)
            lines += ["        access_by_lua_block {", lua.rstrip(), "        }"]
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class Nginx:
    """An nginx child process serving a site; ``with Nginx(site, workdir): ...``."""

    def __init__(
        self,
        site: Site,
        workdir: Path,
        *,
        fault_rate: float = 0.0,
        fault_attempts: int = 1,
        workers: int = 1,
        access_log: bool = False,
    ) -> None:
        self.site = site
        self.access_log = access_log
        self.workdir = workdir.resolve()
        self.fault_rate = fault_rate
        self.fault_attempts = fault_attempts
        self.workers = workers
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The master process id while running."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout_s: float = 10.0) -> None:
        """Write the config, start nginx and wait until every host accepts connections."""
        ensure_tools(self.fault_rate > 0.0)
        for kind in _TEMP_KINDS:
            (self.workdir / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            render_config(
                self.site,
                self.workdir,
                fault_rate=self.fault_rate,
                fault_attempts=self.fault_attempts,
                workers=self.workers,
                access_log=self.access_log,
            )
        )
        cmd = ["nginx", "-p", str(self.workdir), "-e", str(self.workdir / "error.log")]
        cmd += ["-c", str(conf), "-g", "daemon off;"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        addrs = [self.site.host_addr(h) for h in range(min(self.site.hosts, self.site.pages))]
        while not all(_accepts(addr) for addr in addrs):
            if self._proc.poll() is not None:
                log = (self.workdir / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"nginx exited with {self._proc.returncode}: {log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not listen on {addrs} within {timeout_s} s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop nginx quickly (SIGTERM) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _accepts(addr: str) -> bool:
    import socket

    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False


def wrk_rate(site: Site, *, seconds: float = 5.0, connections: int = 64, threads: int = 1) -> float:
    """Requests a second nginx serves (gzip, keep-alive) over host 1's pages, measured by wrk."""
    paths = [
        url.split(site.host_addr(0), 1)[1]
        for url in site.urls()
        if url.startswith(f"http://{site.host_addr(0)}/")
    ]
    quoted = ",".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in paths)
    script = (
        f"local paths = {{{quoted}}}\n"
        "local i = 0\n"
        'wrk.headers["Accept-Encoding"] = "gzip"\n'
        "request = function()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format(nil, paths[i])\n"
        "end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        script_path = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "-s",
                script_path,
                f"http://{site.host_addr(0)}/",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script_path)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(match.group(1))
