"""A real uvicorn server on a free loopback port, for tests that need real concurrency."""

import contextlib
import os
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(settings, workers: int = 1, stderr=None, log_level: str = "warning", **env_extra):
    port = free_port()
    env = {
        **os.environ,
        "ONEGRID_DATABASE_URL": settings.database_url,
        "ONEGRID_ESCALATION_INTERVAL_S": "0",
        "ONEGRID_WARNING_INTERVAL_S": "0",
        "ONEGRID_PHOTO_DIR": str(settings.photo_dir),
        "ONEGRID_LOGIN_PER_MINUTE": str(settings.login_per_minute),
        "ONEGRID_REPORTS_PER_MINUTE": str(settings.reports_per_minute),
        **{k: str(v) for k, v in env_extra.items()},
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            log_level,
            "--timeout-graceful-shutdown",
            "2",
        ],
        env=env,
        stderr=stderr,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
