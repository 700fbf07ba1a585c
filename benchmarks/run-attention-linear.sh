#!/bin/sh
# Compiles the library and benchmarks into build/bench, runs benchmarks/attention-linear.ts with
# each matmul path (arguments are passed on: --device cpu|cuda:N, --small), then the PyTorch
# baseline on the same shapes when PyTorch and a GPU are there.
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
for path in cublaslt kernel; do
  WSI_VQA_MATMUL=$path WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" node "$out/benchmarks/attention-linear.js" "$@" ||
    echo "(the $path path did not run: see above)"
done
python3 benchmarks/torch_attention_linear.py
