#!/usr/bin/env bash
# The page's lazily loaded views (issue 12 item 4): Trunk 0.21 runs cargo, then
# wasm-bindgen, then wasm-opt, and has no step in between, while the split must
# run on cargo's wasm before wasm-bindgen (wasm_split_cli_support, the crate
# cargo-leptos splits with). So Trunk finds this script as `wasm-bindgen`
# (scripts/bin/wasm-bindgen links here; the Makefile puts scripts/bin first on
# PATH) and it:
#   1. passes every call through to the real wasm-bindgen unchanged, except the
#      page's (`--out-name=scoreboard-app`) when its wasm has split points (the
#      `split` feature; app/build.rs keeps the relocations the split needs);
#   2. for the page: `wasm-split-cli` cuts the `#[lazy]` functions into modules
#      of their own plus `__wasm_split.js`, the JS that fetches them, into
#      OUT/wasm-split/wasm-split-HASH/ (HASH: of those files, so a static host
#      may cache them for ever, like Trunk's hashed names);
#   3. runs the real wasm-bindgen on the remaining main module, keeping the
#      linker's exports the split modules import (--keep-lld-exports), and
#      points the page's JS at wasm-split-HASH/__wasm_split.js.
# Trunk then copies and optimises the main module as usual; the post_build hook
# (scripts/post-build.sh) copies wasm-split-HASH/ into the site, tells
# __wasm_split.js the page JS's hashed name and optimises the split modules.
# Both tools are pinned and installed by scripts/setup.sh; nothing is downloaded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The real wasm-bindgen: the first on PATH that is not this script's directory.
real=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [[ -z "$d" || "$(cd "$d" 2>/dev/null && pwd)" == "$here" || "$(cd "$d" 2>/dev/null && pwd)" == "$here/bin" ]] && continue
  if [[ -x "$d/wasm-bindgen" ]]; then real="$d/wasm-bindgen"; break; fi
done
[[ -n "$real" ]] || { echo "wasm-split.sh: no wasm-bindgen on PATH besides this wrapper; run 'make setup'" >&2; exit 1; }

input="" out_dir="" out_name=""
for a in "$@"; do
  case "$a" in
    --out-dir=*) out_dir="${a#--out-dir=}" ;;
    --out-name=*) out_name="${a#--out-name=}" ;;
    -*) ;;
    *.wasm) input="$a" ;;
  esac
done

# Anything but the page's build with split points goes straight through
# (`--version`, the engine worker, a page built without the `split` feature).
if [[ "$out_name" != scoreboard-app || -z "$input" || -z "$out_dir" ]] \
  || ! grep -q __wasm_split_placeholder__ "$input"; then
  exec "$real" "$@"
fi

command -v wasm-split-cli >/dev/null \
  || { echo "wasm-split.sh: wasm-split-cli is missing; run 'make setup'" >&2; exit 1; }

work="$out_dir/wasm-split"
rm -rf "$work"
mkdir -p "$work/out"
wasm-split-cli --target web --out-name "$out_name" "$input" "$work/out" >&2
main="$work/out/$out_name.wasm"
[[ -f "$main" && -f "$work/out/__wasm_split.js" ]] \
  || { echo "wasm-split.sh: wasm-split-cli wrote no $main or __wasm_split.js" >&2; exit 1; }

# The loader instantiates with `WebAssembly.instantiateStreaming`, which refuses a
# module not sent as `application/wasm`; wasm-bindgen's own loader falls back to
# reading the bytes, and so must this one, or a static host with another type
# would show the first screen but never a lazily loaded view.
loader_js="$work/out/__wasm_split.js"
grep -q 'WebAssembly.instantiateStreaming(src, imports)' "$loader_js" \
  || { echo "wasm-split.sh: $loader_js has no instantiateStreaming(src, imports) to give a fallback" >&2; exit 1; }
sed -i 's/WebAssembly\.instantiateStreaming(src, imports)/__instantiate(src, imports)/' "$loader_js"
cat >>"$loader_js" <<'JS'
async function __instantiate(src, imports) {
    const response = await src;
    if (!response.ok) throw new Error(`${response.url}: ${response.status} ${response.statusText}`);
    if ((response.headers.get("Content-Type") || "").split(";")[0].trim() === "application/wasm") {
        return WebAssembly.instantiateStreaming(response, imports);
    }
    return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}
JS

# The split modules and their loader, in a directory named after their content.
hash=$(cd "$work/out" && find . -maxdepth 1 -type f ! -name "$out_name.wasm" -print0 | sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-16)
split_dir="wasm-split-$hash"
mkdir -p "$work/$split_dir"
find "$work/out" -maxdepth 1 -type f ! -name "$out_name.wasm" -exec mv -t "$work/$split_dir" {} +

args=()
for a in "$@"; do
  if [[ "$a" == "$input" ]]; then args+=("$main"); else args+=("$a"); fi
done
"$real" --keep-lld-exports "${args[@]}"

js="$out_dir/$out_name.js"
grep -Eq "from [\"']\./__wasm_split\.js[\"']" "$js" \
  || { echo "wasm-split.sh: $js does not import ./__wasm_split.js; cannot point it at $split_dir" >&2; exit 1; }
# Only the imports' paths: the import object's keys must stay the module name the wasm asks for.
sed -i -E "s#from ([\"'])\./__wasm_split\.js([\"'])#from \1./$split_dir/__wasm_split.js\2#" "$js"
echo "wasm-split.sh: $(find "$work/$split_dir" -name '*.wasm' | wc -l) lazily loaded modules in $split_dir" >&2
