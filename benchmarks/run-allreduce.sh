#!/bin/sh
# Compiles the library and benchmarks into build/bench, runs benchmarks/allreduce.ts on --ranks N
# (default 2) ranks of --device cpu|cuda (default cpu) under wsi-vqa launch, then the
# torch.distributed baseline on the same sizes when PyTorch is there ($PYTHON: the Python that has it).
set -e
cd "$(dirname "$0")/.."
ranks=2
device=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
out=build/bench
npx tsc -p . --outDir "$out"
cp package.json "$out/"  # lib/info.ts reads the version from ../package.json
WSI_VQA_ADDON="$PWD/build/Release/wsi_vqa.node" BENCH_DEVICE=$device \
  node "$out/lib/cli/wsi-vqa.js" launch --nproc-per-node "$ranks" "$out/benchmarks/allreduce.js"
"${PYTHON:-python3}" benchmarks/torch_allreduce.py --ranks "$ranks" --device "$device" || echo "(PyTorch's baseline did not run: see above)"
