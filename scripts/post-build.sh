#!/usr/bin/env bash
# Trunk's post_build hook (Trunk.toml), on the staging directory before it
# becomes dist/. Trunk runs the hooks of one stage at the same time, so this one
# hook does both steps in order:
#   1. the page's lazily loaded modules (scripts/wasm-split.sh made them beside
#      wasm-bindgen's output): copied into the site, `__wasm_split.js` told the
#      page JS's hashed name (it imports `initSync` from it to share the page's
#      memory and table), and, in a release build, each module run through the
#      same wasm-opt -Oz as the page's own wasm;
#   2. scripts/precompress.sh (.br and .gz beside each file, release only).
set -euo pipefail

STAGE="${TRUNK_STAGING_DIR:?run by Trunk as a post_build hook}"
profile="${TRUNK_PROFILE:-release}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The page's JS names its split directory when the build was split.
page_js=$(cd "$STAGE" && grep -lE "from [\"']\./wasm-split-[0-9a-f]+/__wasm_split\.js" scoreboard-app-*.js 2>/dev/null || true)
if [[ -n "$page_js" ]]; then
  split_dir=$(grep -o "wasm-split-[0-9a-f]*/__wasm_split.js" "$STAGE/$page_js" | head -n1 | cut -d/ -f1)
  target_dir=$(cargo metadata --format-version 1 --no-deps --offline \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  src="$target_dir/wasm-bindgen/$profile/wasm-split/$split_dir"
  [[ -f "$src/__wasm_split.js" ]] || { echo "post-build: $src/__wasm_split.js is missing" >&2; exit 1; }
  rm -rf "${STAGE:?}/$split_dir"
  cp -r "$src" "$STAGE/$split_dir"
  sed -i "s#from \"\./scoreboard-app\.js\"#from \"../$page_js\"#" "$STAGE/$split_dir/__wasm_split.js"
  grep -q "from \"../$page_js\"" "$STAGE/$split_dir/__wasm_split.js" \
    || { echo "post-build: could not point $split_dir/__wasm_split.js at $page_js" >&2; exit 1; }
  if [[ "$profile" == release ]]; then
    # The page's own wasm gets `-Oz` from Trunk (index.html); the features are
    # rustc's wasm32 defaults, named in case a module lacks its features section.
    for m in "$STAGE/$split_dir"/*.wasm; do
      wasm-opt -Oz --enable-bulk-memory --enable-multivalue --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext "$m" -o "$m" \
        2> >(grep -v 'unknown name subsection' >&2)
    done
  fi
  echo "post-build: $(find "$STAGE/$split_dir" -name '*.wasm' | wc -l) lazily loaded modules in $split_dir"
fi

"$here/precompress.sh" "$STAGE"
