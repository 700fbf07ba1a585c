#!/usr/bin/env bash
# The package as a user gets it: packs the tarball (with the prebuilt addon in prebuilds/), installs
# it into a fresh project with cmake and every C/C++/CUDA compiler hidden from PATH, and checks that
# the install takes under 60 s, that `wsi-vqa info` finds the CUDA backend compiled in (when nvcc
# made the prebuild), and that a CommonJS and an ES-module script both run a tiny model.
# Usage: .ci/fresh-install.sh [work dir]  (after npm run build:prebuild)
set -euo pipefail
cd "$(dirname "$0")/.."
expect_cuda=$(command -v nvcc >/dev/null && echo cuda || echo cpu)  # nvcc made the prebuild: it has CUDA
work=${1:-$(mktemp -d)}
mkdir -p "$work"

[ -e prebuilds/linux-x64/wsi-vqa.napi.node ] || { echo "no prebuild: run npm run build:prebuild first" >&2; exit 1; }
tarball=$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -1)  # dist/ as built
echo "tarball: $tarball ($(du -h "$work/$tarball" | cut -f1))"
if tar -tzf "$work/$tarball" | grep -E '\.map$|scripts/(prebuild|test-sanitize)|^package/lib/' ; then
  echo "the tarball holds source maps or developer files (above)" >&2; exit 1
fi
tar -tzf "$work/$tarball" | grep -x 'package/LICENSE' >/dev/null || { echo "the tarball has no LICENSE" >&2; exit 1; }

# A PATH with every tool but the build tools.
bin="$work/bin"
mkdir -p "$bin"
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  for tool in "$dir"/*; do
    name=$(basename "$tool")
    case "$name" in
      cmake|ccmake|ctest|cpack|make|gmake|ninja|cc|c++|gcc|g++|clang|clang++|nvcc|*-gcc|*-g++|*-gcc-[0-9]*|*-g++-[0-9]*|gcc-[0-9]*|g++-[0-9]*|cpp|cpp-[0-9]*) continue ;;
    esac
    [ -x "$tool" ] && [ ! -e "$bin/$name" ] && ln -s "$tool" "$bin/$name"
  done
done
export PATH="$bin"
! command -v cmake && ! command -v g++ && ! command -v c++ && ! command -v nvcc >/dev/null

project="$work/project"
rm -rf "$project" && mkdir -p "$project" && cd "$project"
npm init -y >/dev/null
start=$SECONDS
npm install --no-audit --no-fund "$work/$tarball"
took=$((SECONDS - start))
echo "npm install: ${took} s"
[ "$took" -lt 60 ] || { echo "the install took ${took} s (limit 60 s)" >&2; exit 1; }

npx wsi-vqa info --json > info.json
node -e '
const { backends } = require("./info.json");
console.log("cuda compiled:", backends.cuda.compiled, "| gloo compiled:", backends.gloo.compiled);
if (process.argv[1] === "cuda" && !backends.cuda.compiled) { console.error("the prebuilt addon has no CUDA backend"); process.exit(1); }
' "$expect_cuda"

# The same tiny model from CommonJS and from an ES module: logits of a prompt and a greedy answer.
cat > tiny.cjs <<'JS'
const { makeTinyQwen3, Qwen3Model, generate } = require('wsi-vqa');
(async () => {
  await makeTinyQwen3('tiny-cjs', { hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, headDim: 16, intermediateSize: 64, seed: 1 });
  const model = await Qwen3Model.load('tiny-cjs');
  const ids = Int32Array.of(151644, 872, 198, 3838);
  const logits = model.logits({ ids, batch: 1, tokens: ids.length });
  const [answer] = generate(model, [{ ids }], { maxNewTokens: 3 });
  console.log('commonjs:', logits.shape.join('×'), 'logits; answer', answer.join(' '));
  logits.dispose();
  model.dispose();
})();
JS
sed -e 's/tiny-cjs/tiny-esm/g' -e "s/commonjs:/esm:/" \
    -e "s/^const { makeTinyQwen3, Qwen3Model, generate } = require('wsi-vqa');/import { makeTinyQwen3, Qwen3Model, generate } from 'wsi-vqa';/" tiny.cjs > tiny.mjs
node tiny.cjs
node tiny.mjs
echo "fresh install ok: $took s"
