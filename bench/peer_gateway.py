"""The peer gateway: its npm packages installed into a cache folder, its supergraph composed, and it served.

Everything the peer needs is under ``bench/peer/`` (pinned ``package.json`` and ``package-lock.json``, the
demo APIs' OpenAPI documents, ``mesh.config.ts``, ``gateway.config.ts``); this module copies it into
``var/peer-node``, runs ``npm ci`` there when the lock file changed, composes the supergraph against the
running estate with ``mesh-compose`` and starts ``hive-gateway``. ``make test`` never calls it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SPEC = Path(__file__).parent / "peer"
PACKAGES = json.loads((SPEC / "package.json").read_text())["dependencies"]


def install(home: Path) -> None:
    """Copy the peer's files into ``home`` and ``npm ci`` there unless the installed lock file is this one."""
    home.mkdir(parents=True, exist_ok=True)
    for spec in SPEC.iterdir():
        if spec.is_file():
            shutil.copy2(spec, home / spec.name)
    lock = hashlib.sha256((SPEC / "package-lock.json").read_bytes()).hexdigest()
    stamp = home / "node_modules" / ".crmgraph-lock-sha256"
    if stamp.exists() and stamp.read_text() == lock:
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=home, check=True)
    stamp.write_text(lock)


def compose(home: Path, urls: dict[str, str]) -> Path:
    """The supergraph of the CRM and ticket system at ``urls``, written by Mesh Compose into ``home``."""
    env = os.environ | {"PEER_CRM_URL": urls["crm"], "PEER_TICKETS_URL": urls["tickets"]}
    subprocess.run([home / "node_modules/.bin/mesh-compose"], cwd=home, env=env, check=True, capture_output=True)
    return home / "supergraph.graphql"


def versions(home: Path) -> dict[str, str]:
    found = {"node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}
    for package in PACKAGES:
        found[package] = json.loads((home / "node_modules" / package / "package.json").read_text())["version"]
    return found


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("POST", "/graphql", b'{"query":"{__typename}"}', {"Content-Type": "application/json"})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_until_answering(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start on port {port} (exit code {process.poll()})")
        time.sleep(0.1)


@contextmanager
def gateway(home: Path, port: int, jit: bool) -> Iterator[str]:
    """Hive Gateway on ``port`` serving ``home``'s supergraph, one worker (as the facade runs one)."""
    command = [str(home / "node_modules/.bin/hive-gateway"), "supergraph", "--fork", "1", *(["--jit"] if jit else [])]
    env = os.environ | {"PEER_PORT": str(port), "NODE_ENV": "production"}
    with subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.DEVNULL) as process:
        try:
            wait_until_answering(port, process, "Hive Gateway")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)
