#!/usr/bin/env bash
# Vendor MathJax from the npm registry into _vendor/static/mathjax/, so the built HTML loads no
# script from the internet (Sphinx would load MathJax from a CDN). Only the parts the book uses:
# the loader, the core, TeX input (its extensions load on demand) and CommonHTML output with its
# fonts, plus assistive MathML for screen readers: 0.66 MB instead of the 1.17 MB combined file
# (which adds the right-click menu and MathML input). _config.yml sets `mathjax_path` and
# `mathjax3_config` to match; _vendor/ is git-ignored.
# The widget JavaScript (3.5 MB) is no longer vendored: the web book draws explorers as plain
# HTML and playgrounds as snapshots at build time (see _ext/book_pages.py).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=_vendor/static/mathjax
stamp="mathjax@3.2.2 (startup, core, input/tex, output/chtml + fonts/tex, a11y/assistive-mml)"
if [ "$(cat _vendor/static/VERSION 2>/dev/null)" = "$stamp" ] && [ -f "$dest/startup.js" ]; then
  exit 0
fi
rm -rf "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mathjax@3.2.2 >/dev/null)
tar -xzf "$tmp"/mathjax-3.2.2.tgz -C "$tmp"
src="$tmp"/package/es5
mkdir -p "$dest"/input "$dest"/output/chtml/fonts "$dest"/a11y
cp "$src"/startup.js "$src"/core.js "$dest"/
cp "$src"/input/tex.js "$dest"/input/
cp -r "$src"/input/tex "$dest"/input/
cp "$src"/output/chtml.js "$dest"/output/
cp -r "$src"/output/chtml/fonts/woff-v2 "$src"/output/chtml/fonts/tex.js "$dest"/output/chtml/fonts/
cp "$src"/a11y/assistive-mml.js "$dest"/a11y/
echo "$stamp" > _vendor/static/VERSION
echo "vendored MathJax into $dest"
