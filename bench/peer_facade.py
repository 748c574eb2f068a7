"""crmgraph for the peer benchmark, in a process of its own (as the peer gateway runs in its own).

    .venv/bin/python bench/peer_facade.py --urls URLS.json --identity-url URL --port P [--erp-latency-ms 20]

Serves the facade with its cache off (every TTL 0) and without auth, as ``bench/customer360.py``'s cold
facade. ``--erp-latency-ms`` delays each ERP statement, the SQL system's share of the injected upstream
latency (the CRM and the ticket system are slowed through their ``/_control/faults``). Runs until killed.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from customer360 import config_for
from sqlalchemy import Engine, event

from crmgraph.app import build_app
from crmgraph.runner import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=Path, required=True, help="the estate's ready file (its systems' URLs)")
    parser.add_argument("--identity-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--erp-latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    urls = json.loads(args.urls.read_text())
    erp_database = urlsplit(urls["erp"]).path.removeprefix("/")

    if args.erp_latency_ms:

        @event.listens_for(Engine, "before_cursor_execute")
        def erp_latency(conn: Any, *_: Any) -> None:
            if conn.engine.url.database == erp_database:
                time.sleep(args.erp_latency_ms / 1000)

    with serving(build_app(config_for(urls, args.identity_url, 0)), port=args.port, as_server=True) as url:
        print(f"serving {url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
