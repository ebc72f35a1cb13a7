#!/usr/bin/env bash
# Vendor the book's JavaScript from the npm registry into _vendor/, so the built HTML loads no
# script from the internet: the widget manager and require.js (widgets render from their saved
# state; MyST-NB would load them from CDNs) and MathJax (Sphinx would load it from a CDN).
# _config.yml points `nb_ipywidgets_js` and `mathjax_path` at these files; _vendor/ is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=_vendor/widgets
mathjax=_vendor/mathjax
manager=1.0.15   # @jupyter-widgets/html-manager, the one that matches ipywidgets 8.1
stamp="html-manager@$manager requirejs@2.3.4 mathjax@3.2.2 (MathJax 3 call patched)"
if [ "$(cat _vendor/VERSION 2>/dev/null)" = "$stamp" ] && [ -f "$dest/embed-amd.js" ] &&
   [ -f "$dest/require.js" ] && [ -f "$mathjax/tex-mml-chtml.js" ]; then
  exit 0
fi
rm -rf "$dest" "$mathjax"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @jupyter-widgets/html-manager@$manager requirejs@2.3.4 mathjax@3.2.2 >/dev/null)
mkdir -p "$dest"
tar -xzf "$tmp"/jupyter-widgets-html-manager-$manager.tgz -C "$tmp"
cp "$tmp"/package/dist/* "$dest"/
rm -rf "$tmp/package"
tar -xzf "$tmp"/requirejs-2.3.4.tgz -C "$tmp"
cp "$tmp"/package/require.js "$dest"/require.js
rm -f "$dest"/*.map
# The widget manager typesets math in widget labels with MathJax 2's MathJax.Hub.Queue; the book
# loads MathJax 3, which has no Hub. Call MathJax 3's typesetPromise instead (and fail loudly if
# a new version of the file no longer has the line this replaces).
old='MathJax.Hub.Queue(["Typeset",MathJax.Hub,e])'
new='(MathJax.typesetPromise?MathJax.typesetPromise([e]):MathJax.Hub.Queue(["Typeset",MathJax.Hub,e]))'
for file in "$dest"/embed-amd.js "$dest"/libembed-amd.js; do
  grep -qF "$old" "$file" || { echo "vendor_js.sh: MathJax call not found in $file" >&2; exit 1; }
  python3 -c "import sys; p, a, b = sys.argv[1:]; s = open(p).read(); open(p, 'w').write(s.replace(a, b))" "$file" "$old" "$new"
done
rm -rf "$tmp/package"
tar -xzf "$tmp"/mathjax-3.2.2.tgz -C "$tmp"
mkdir -p "$mathjax/output/chtml/fonts"
cp "$tmp"/package/es5/tex-mml-chtml.js "$mathjax"/
cp -r "$tmp"/package/es5/output/chtml/fonts/woff-v2 "$mathjax"/output/chtml/fonts/
echo "$stamp" > _vendor/VERSION
echo "vendored widget JavaScript into $dest and MathJax into $mathjax"
