#!/bin/sh
# Compiles the library and benchmarks into build/bench, runs benchmarks/attention-linear.ts with
# each matmul path and once with the wmma attention kernels (arguments are passed on: --device
# cpu|cuda:N, --small), then the PyTorch baseline on the same shapes when PyTorch and a GPU are
# there.
set -e
cd "$(dirname "$0")/.."
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
for path in cublaslt kernel; do
  WSI_VQA_MATMUL=$path WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" node "$out/benchmarks/attention-linear.js" "$@" ||
    echo "(the $path path did not run: see above)"
done
# The earlier wmma attention kernels beside the flash ones (the default above).
WSI_VQA_ATTENTION=wmma WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" node "$out/benchmarks/attention-linear.js" "$@" ||
  echo "(the wmma attention path did not run: see above)"
python3 benchmarks/torch_attention_linear.py
