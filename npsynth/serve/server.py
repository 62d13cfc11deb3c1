"""Run the page: bind a local port, load the networks once, serve with uvicorn until Ctrl-C."""

from __future__ import annotations

import errno
import socket
import sys
import threading
import webbrowser
from pathlib import Path

import uvicorn

from npsynth.serve.app import allowed_hosts, create_app
from npsynth.serve.jobs import JobQueue, load_networks
from npsynth.serve.study import create_study_app
from npsynth.serve.uploads import Limits

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_host(host: str) -> str:
    """`host`, or a ValueError when it names no address: an empty host would listen on every
    interface without saying so (name 0.0.0.0 for that)."""
    if not host.strip():
        raise ValueError(
            f"--host is empty ({host!r}), which would listen on every interface; give an "
            "address: 127.0.0.1 (this machine only), or 0.0.0.0 to mean every interface"
        )
    return host


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket at `host`:`port` (port 0: a free one, chosen by the system)."""
    check_host(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {bind_advice(host, error)}") from None
    sock.listen(64)
    return sock


def bind_advice(host: str, error: OSError) -> str:
    """Why `bind` failed and which flag to change: the port only when it is taken or
    reserved; an address that is no address (999.1.1.1) or not this machine's is the host's."""
    if isinstance(error, socket.gaierror):
        return f"{host!r} is not a valid IP address or host name; pick another --host"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host!r} is not an address of this machine; pick another --host"
    return f"{error.strerror}; pick another --port"


def page_url(host: str, port: int) -> str:
    """The address the page is at."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    open_browser: bool = False,
    limits: Limits | None = None,
    jobs: JobQueue | None = None,
    study: Path | None = None,
) -> None:
    """Serve the page at `host`:`port` until interrupted; print its address once ready.
    With `study` (a study folder, `eval.study make`), serve that study's page instead."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    if study is not None:
        app = create_study_app(study, hosts=allowed_hosts(host, port))
    else:
        if jobs is None:
            print("npsynth serve: loading the networks ...", flush=True)
            load_networks()
            jobs = JobQueue()
        app = create_app(jobs, hosts=allowed_hosts(host, port), limits=limits)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    url = page_url(host, port)
    if host not in LOOPBACK:
        print(f"npsynth serve: warning: {host} is not loopback; others may reach the page",
              file=sys.stderr)  # fmt: skip
    print(f"npsynth serve: open {url}  (Ctrl-C stops)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    uvicorn.Server(config).run(sockets=[sock])
