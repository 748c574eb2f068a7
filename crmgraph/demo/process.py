"""Running the demo estate as a separate process, from the demo command, benchmarks and notebooks."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _die_with_parent() -> None:
    """In the estate's child process: ask Linux to stop it when its parent dies, however that dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextmanager
def estate_process(
    data_dir: Path,
    *,
    customers: int,
    seed: int,
    port_base: int = 0,
    start_timeout_s: float = 120,
    cpus: set[int] | None = None,
) -> Iterator[dict[str, str]]:
    """Seed (if needed) and serve the estate in a child process; yield its URLs (crm, tickets, erp, marketing).

    ``cpus`` pins the estate to those processors (benchmarks: the simulated systems then do not compete
    for the facade's processor, as they would not on their own machines).
    """

    def prepare_child() -> None:
        _die_with_parent()
        if cpus:
            os.sched_setaffinity(0, cpus)

    ready = Path(tempfile.mkdtemp()) / "ready.json"
    command = [sys.executable, "-m", "crmgraph", "demo", "estate", "--data-dir", str(data_dir),
               "--customers", str(customers), "--seed", str(seed), "--port-base", str(port_base),
               "--ready-file", str(ready)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, preexec_fn=prepare_child)
    try:
        deadline = time.monotonic() + start_timeout_s
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"the demo estate exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the demo estate did not start within {start_timeout_s:g} s")
            time.sleep(0.05)
        urls: dict[str, str] = json.loads(ready.read_text())
        yield urls
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
