#!/bin/sh
# Refresh the console's vendored Chart.js from npm (the UMD build and its licence); commit the result.
# Usage: crmgraph/console/refresh-vendor.sh [version]   (default: the latest 4.x)
set -eu
version="${1:-4}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "chart.js@$version" --silent >/dev/null && tar xzf chart.js-*.tgz)
cp "$work/package/dist/chart.umd.min.js" "$here/static/vendor/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$here/static/vendor/chart.js-LICENSE.md"
head -n 2 "$here/static/vendor/chart.umd.min.js" | tail -n 1
