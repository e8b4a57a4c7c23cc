#!/bin/sh
# Vendor uPlot (the ops dashboard's charts): fetch the pinned build from the npm registry and
# copy it into app/web/static/pages/vendor/ (committed), so that the pages load no CDN and
# work offline.
#
#   scripts/vendor_charts.sh        (or: make vendor-charts)
#
# Needs npm (it downloads with `npm pack`). The tarball is checked against the integrity
# pinned here, so an upgrade is a deliberate edit of the version and hash below (take the new
# one from `npm view uplot@<version> dist.integrity`), then a run, then a look at /ops.
set -eu

UPLOT=1.6.32
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/app/web/static/pages/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent --json "uplot@$UPLOT" >uplot.json)
tarball=$(sed -n 's/^ *"filename": "\(.*\)",*$/\1/p' "$work/uplot.json" | head -n 1)
actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | openssl base64 -A)"
if [ "$actual" != "$UPLOT_INTEGRITY" ]; then
    echo "uplot@$UPLOT: integrity $actual, expected $UPLOT_INTEGRITY" >&2
    exit 1
fi
mkdir "$work/uplot"
tar -xzf "$work/$tarball" -C "$work/uplot" --strip-components=1

rm -rf "$dest"
mkdir -p "$dest"
cp "$work/uplot/dist/uPlot.iife.min.js" "$work/uplot/dist/uPlot.min.css" "$dest/"
cp "$work/uplot/LICENSE" "$dest/LICENSE.uplot"
cat >"$dest/VERSIONS" <<EOT
Vendored by scripts/vendor_charts.sh from registry.npmjs.org, byte for byte. Do not edit by
hand: change the pin in the script and run it again.
uplot $UPLOT (MIT, LICENSE.uplot): uPlot.iife.min.js, uPlot.min.css
EOT
ls -l "$dest"
