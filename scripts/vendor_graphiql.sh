#!/bin/sh
# Vendor GraphiQL: fetch the pinned builds from the npm registry and copy them into
# app/web/static/graphiql/ (committed), so that GraphiQL loads without a CDN or internet.
#
#   scripts/vendor_graphiql.sh        (or: make vendor-graphiql)
#
# Needs npm (it downloads with `npm pack`). Each tarball is checked against the integrity
# pinned here, so an upgrade is a deliberate edit of the versions and hashes below (take the
# new ones from `npm view <package>@<version> dist.integrity`), then a run, then a look at
# GraphiQL in a browser. React stays on 18: the last major with the UMD builds GraphiQL's own
# UMD build needs (`window.React`, `window.ReactDOM`).
set -eu

GRAPHIQL=4.1.2
EXPLORER=4.0.6
REACT=18.2.0

pinned() {
    case "$1" in
        graphiql@$GRAPHIQL) echo "sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg==" ;;
        @graphiql/plugin-explorer@$EXPLORER) echo "sha512-TppIi92YPER3v70nlF01KTQrq9AiYqkZicSd1hpU7aqGmbqw/pLwBNLUEcfENBoJtw574Qxjswb01+GaYK0Tzw==" ;;
        react@$REACT) echo "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ==" ;;
        react-dom@$REACT) echo "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==" ;;
        *) echo "no pinned integrity for $1" >&2; exit 1 ;;
    esac
}

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/app/web/static/graphiql"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch <package@version> <folder>: the package's files in $work/<folder>
    expected=$(pinned "$1")
    (cd "$work" && npm pack --silent --json "$1" >"$2.json")
    tarball=$(sed -n 's/^ *"filename": "\(.*\)",*$/\1/p' "$work/$2.json" | head -n 1)
    actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | openssl base64 -A)"
    if [ "$actual" != "$expected" ]; then
        echo "$1: integrity $actual, expected $expected" >&2
        exit 1
    fi
    mkdir "$work/$2"
    tar -xzf "$work/$tarball" -C "$work/$2" --strip-components=1
}

fetch "graphiql@$GRAPHIQL" graphiql
fetch "@graphiql/plugin-explorer@$EXPLORER" explorer
fetch "react@$REACT" react
fetch "react-dom@$REACT" react-dom

rm -rf "$dest"
mkdir -p "$dest"
cp "$work/graphiql/graphiql.min.js" "$work/graphiql/graphiql.min.css" "$dest/"
cp "$work/explorer/dist/index.umd.js" "$dest/graphiql-plugin-explorer.umd.js"
cp "$work/explorer/dist/style.css" "$dest/graphiql-plugin-explorer.css"
cp "$work/react/umd/react.production.min.js" "$dest/"
cp "$work/react-dom/umd/react-dom.production.min.js" "$dest/"
cp "$work/graphiql/LICENSE" "$dest/LICENSE.graphiql"
cp "$work/react/LICENSE" "$dest/LICENSE.react"
cp "$work/react-dom/LICENSE" "$dest/LICENSE.react-dom"
cat >"$dest/VERSIONS" <<EOF
Vendored by scripts/vendor_graphiql.sh from registry.npmjs.org, byte for byte (source maps
left out). Do not edit by hand: change the pins in the script and run it again.
graphiql $GRAPHIQL (MIT, LICENSE.graphiql): graphiql.min.js, graphiql.min.css
@graphiql/plugin-explorer $EXPLORER (MIT): graphiql-plugin-explorer.umd.js, graphiql-plugin-explorer.css
react $REACT (MIT, LICENSE.react): react.production.min.js
react-dom $REACT (MIT, LICENSE.react-dom): react-dom.production.min.js
EOF
ls -l "$dest"
