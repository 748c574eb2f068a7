"""Running the facade: as the server process (``run_server``), or on a loopback port from synchronous code
(``serving``: tests, benchmarks, notebooks).

Both serve with the limits of the app's ``server.http`` section (``build_app`` leaves them on
``app.state.http_limits``): the guarded HTTP/1.1 protocol of :mod:`crmgraph.web.protocol` (request head size,
field count, time to send it) and uvicorn's keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from crmgraph.config import HttpLimitsConfig
from crmgraph.web.protocol import guarded_protocol

YOUNG_COLLECTION_AFTER = 10_000  # objects allocated and not yet freed (Python's default: 700)
FULL_COLLECTION_AFTER = 10  # collections of the middle generation (Python's default: 10)


def tune_gc_for_serving() -> None:
    """Take what exists at start-up out of every garbage collection, and collect less often.

    A full collection walks every object the process tracks: modules, the schema, the configuration,
    everything imported. With them frozen, full collections cost 0.1 ms a query instead of 3 ms (paid as
    latency by whichever query triggered one; measured in docs/benchmarks.md).

    A request's objects form no reference cycles (``tests/test_request_garbage.py``): they are freed as it
    ends, and a young collection finds almost nothing to free. Python's threshold of 700 objects allocated
    and not yet freed then only costs time: seven young collections during one list page, each walking the
    page's objects still in use. Young collections wait for 10,000 (one page in flight never reaches it).
    Full collections keep Python's pace (every tenth collection of the middle generation): what error
    paths leave in cycles is found there, and spacing them ten times further apart let the soak's memory
    climb by 17% in ten minutes, against 5% at this pace (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, 10, FULL_COLLECTION_AFTER)


def server_settings(app: Any) -> dict[str, Any]:
    """uvicorn's settings for the connection limits of ``app`` (the defaults for an app not built by crmgraph)."""
    state = getattr(app, "state", None)
    limits = getattr(state, "http_limits", None) or HttpLimitsConfig()
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        # A subscription's messages are small JSON answers sent to many connections at once: compressing
        # each (permessage-deflate) cost a fifth of the server's time per delivery (docs/benchmarks.md).
        "ws_per_message_deflate": False,
        # A client sends small protocol messages (connection_init, subscribe): a megabyte is plenty.
        "ws_max_size": int(limits.max_body_bytes),
    }


def run_server(app: Any, host: str, port: int, *, log_level: str = "info") -> None:
    """Serve ``app`` in this process until stopped (``crmgraph serve``, ``crmgraph demo``)."""
    tune_gc_for_serving()
    # crmgraph writes its own JSON access line, with the request id: uvicorn's would repeat it.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, **server_settings(app))


def _new_loop() -> asyncio.AbstractEventLoop:
    """The loop ``uvicorn.run`` would pick (its ``loop="auto"``): uvloop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0, *, as_server: bool = False) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yield its base URL; stop it on exit.

    ``as_server`` tunes the process as ``run_server`` does (benchmarks measure what production runs).
    """
    if as_server:
        tune_gc_for_serving()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", **server_settings(app))
    server = uvicorn.Server(config)
    loop = _new_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start (see the log above)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
