#!/usr/bin/env bash
# Vendor the widget JavaScript from the npm registry into _vendor/widgets/, so that widgets in the
# built HTML render from their saved state with no internet (MyST-NB would load them from CDNs).
# _config.yml points `nb_ipywidgets_js` at these files; _vendor/ is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=_vendor/widgets
if [ -f "$dest/embed-amd.js" ] && [ -f "$dest/require.js" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @jupyter-widgets/html-manager@1.0.6 requirejs@2.3.4 >/dev/null)
mkdir -p "$dest"
tar -xzf "$tmp"/jupyter-widgets-html-manager-1.0.6.tgz -C "$tmp"
cp "$tmp"/package/dist/* "$dest"/
rm -rf "$tmp/package"
tar -xzf "$tmp"/requirejs-2.3.4.tgz -C "$tmp"
cp "$tmp"/package/require.js "$dest"/require.js
rm -f "$dest"/*.map
echo "vendored widget JavaScript into $dest"
