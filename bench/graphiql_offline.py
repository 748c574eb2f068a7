"""GraphiQL with the network off: a headless Chromium that can resolve no host but 127.0.0.1 opens the
facade's GraphiQL page and must render the editor with the first example query.

    python bench/graphiql_offline.py http://127.0.0.1:8000/graphql     # with `make demo` running

Needs Chromium (`apt-get install chromium`). Prints what rendered and exits non-zero when GraphiQL did not.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8000/graphql")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise SystemExit("no Chromium found: apt-get install chromium")
    command = [
        browser, "--headless=new", "--no-sandbox", "--disable-gpu",
        # Every name but the loopback address fails to resolve: a page that needs a CDN stays "Loading...".
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=10000", "--dump-dom", args.url,
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    checks = {
        "GraphiQL rendered": 'class="graphiql-container"' in dom,
        "query editor present": "graphiql-query-editor" in dom,
        "first example open": "Customers with their orders and tickets" in dom,
        "no longer loading": "Loading GraphiQL..." not in dom,
    }
    for name, passed in checks.items():
        print(f"{'ok  ' if passed else 'FAIL'} {name}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
