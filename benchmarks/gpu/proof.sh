#!/usr/bin/env bash
# The GPU proof: on a bare GPU machine with Python and PyTorch but no Node, from the repository
# root with the kit of `npm run gpu:kit` carried in .gpu-kit/, one run proves the CUDA backend:
#   a. wsi-vqa info              b. the op harness on cuda:0     c. compute-sanitizer memcheck + racecheck
#   d. parity with transformers  e. kernel benchmarks beside PyTorch
#   f. stage-2 and stage-1 steps of a Qwen3-4B-shaped model beside PyTorch + transformers
#   g. the NCCL world-of-one test
# b, c and d check correctness and run side by side; e, f and g follow one at a time. Every step
# has its own time box and the whole run PROOF_BUDGET_S seconds (default 530, for the device
# tool's 600-second limit); results land in $OUT as each step ends: results.json, RESULTS.md (a
# section for benchmarks/RESULTS.md), proof.log, logs.tar.gz, and qwen3-fixtures.tar.gz (the parity
# fixtures made there: unpack into test/fixtures/qwen3/ and commit).
#
#   bash benchmarks/gpu/proof.sh              # on the GPU machine (README: the device call)
#   bash benchmarks/gpu/proof.sh --dry-run    # here: the kit unpacked into a copy of the tree in a
#                                             # temporary folder, every step on the CPU at tiny sizes,
#                                             # what needs a GPU or PyTorch skipped with the reason
# PROOF_PYTHON picks the Python (default python3); OUT the results folder (default
# build/gpu-proof, or build/gpu-proof-dry-run).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MODE=gpu
[ "${1:-}" = "--dry-run" ] && MODE=dry-run
PYTHON=${PROOF_PYTHON:-python3}
HERE=benchmarks/gpu

# --- the dry run works on a copy: the tree as the device tool sends it, plus the kit ----------
if [ "$MODE" = dry-run ] && [ -z "${PROOF_STAGED:-}" ]; then
  [ -f .gpu-kit/kit.tar.xz ] && [ -f .gpu-kit/node.xz ] || { echo "proof: no kit in .gpu-kit/: run npm run gpu:kit first" >&2; exit 1; }
  stage=$(mktemp -d "${TMPDIR:-/tmp}/wsi-vqa-proof.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  # Tracked files and untracked ones git does not ignore: what the device tool sends.
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$stage"
  cp -r .gpu-kit "$stage/.gpu-kit"
  out=${OUT:-$ROOT/build/gpu-proof-dry-run}
  rm -rf "$out"
  mkdir -p "$out"
  echo "proof: dry run in $stage, results in $out"
  (cd "$stage" && PROOF_STAGED=1 OUT="$out" bash "$HERE/proof.sh" --dry-run)
  exit $?
fi

OUT=${OUT:-$ROOT/build/gpu-proof}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wsi-vqa-proof-work.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
BUDGET=${PROOF_BUDGET_S:-530}
DEADLINE=$((SECONDS + BUDGET))
KIT=$ROOT/build/gpu-kit
exec > >(tee -a "$OUT/proof.log") 2>&1
say() { printf '\n== %s (%ss of %ss)\n' "$*" "$SECONDS" "$BUDGET"; }

# Packs the step logs into $OUT/logs.tar.gz (the device tool brings back at most 8 files).
pack_logs() { tar -czf "$OUT/.logs.$BASHPID" -C "$WORK" logs 2>/dev/null && mv "$OUT/.logs.$BASHPID" "$OUT/logs.tar.gz"; }
record() { "$PYTHON" "$HERE/results.py" record "$OUT" "$@"; pack_logs; }
# A box of at most $1 seconds that ends RESERVE seconds before the deadline (0 when the budget is spent).
RESERVE=0
box() { local left=$((DEADLINE - RESERVE - SECONDS)); [ "$1" -lt "$left" ] && echo "$1" || echo $((left > 0 ? left : 0)); }
# Runs "$@" in a time box of $2 seconds, its output in $LOGS/$1.log; prints the exit status (124: timed out).
boxed() {
  local name=$1 limit
  limit=$(box "$2")
  shift 2
  if [ "$limit" -lt 5 ]; then echo "(no time left for $name)" >"$LOGS/$name.log"; echo 124; return; fi
  timeout -k 5 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  echo $?
}
status_of() { case $1 in 0) echo passed ;; 124 | 137) echo timed-out ;; *) echo failed ;; esac; }
# A PyTorch side's status: "skipped (why)" when its JSON says so (no PyTorch, no GPU), else by exit status.
side_status() {
  "$PYTHON" -c 'import json, sys
try:
    why = json.load(open(sys.argv[2])).get("skipped")
except (OSError, ValueError):
    why = None
print(f"skipped ({why})" if why else sys.argv[1])' "$(status_of "$1")" "$2"
}
# nvidia-smi's used memory (MiB) every 100 ms into $1 while the GPU is there.
sampler_start() { if [ "$MODE" = gpu ] && command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$1" 2>/dev/null & SAMPLER=$!; else : >"$1"; SAMPLER=; fi; }
sampler_stop() { [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=; }

# --- setup: Node and the kit -----------------------------------------------------------------
say "setup"
t0=$SECONDS
"$PYTHON" - <<'EOF' >"$LOGS/setup.log" 2>&1
import lzma, os, shutil, tarfile
os.makedirs("build/gpu-kit/bin", exist_ok=True)
with lzma.open(".gpu-kit/node.xz") as f, open("build/gpu-kit/bin/node", "wb") as o:
    shutil.copyfileobj(f, o, 1 << 24)
os.chmod("build/gpu-kit/bin/node", 0o755)
with tarfile.open(".gpu-kit/kit.tar.xz") as t:
    t.extractall(".", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
print("unpacked the kit")
EOF
setup_rc=$?
export PATH="$KIT/bin:$PATH" LD_LIBRARY_PATH="$KIT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export WSI_VQA_ADDON="$ROOT/build/Release/wsi_vqa.node" NODE_OPTIONS=--max-old-space-size=16384 PYTHONUNBUFFERED=1
JS=$KIT/js
VITEST=(node "$ROOT/node_modules/vitest/vitest.mjs" run)
"$PYTHON" "$HERE/results.py" init "$OUT" --mode "$MODE" --manifest "$KIT/manifest.json"
echo "node $(node --version 2>&1)" >>"$LOGS/setup.log"
# The kit's sources against this tree's: a kit built from another tree tests other code.
kit_check=$("$PYTHON" - "$KIT/manifest.json" 2>&1 <<'EOF'
import hashlib, json, os, sys
sources = json.load(open(sys.argv[1]))["sources"]
changed = [p for p, h in sources.items() if not os.path.exists(p) or hashlib.sha256(open(p, "rb").read()).hexdigest() != h]
print(f"WARNING: the kit was built from another tree; {len(changed)} files differ here: {' '.join(changed[:8])}" if changed else "the kit was built from this tree")
EOF
)
echo "$kit_check" >>"$LOGS/setup.log"
# The addon built here must load there (its glibc and libstdc++); if not, build one there.
if [ "$setup_rc" -eq 0 ] && ! node -e 'require(process.env.WSI_VQA_ADDON)' >>"$LOGS/setup.log" 2>&1 || [ -n "${PROOF_FORCE_REBUILD:-}" ]; then
  if [ "$MODE" = gpu ] || [ -n "${PROOF_FORCE_REBUILD:-}" ]; then
    echo "the carried addon does not load: building one here for sm_90 (cmake; node-api headers from the kit)" >>"$LOGS/setup.log"
    rc=$(boxed rebuild 240 bash -c 'export PATH="$PATH:/usr/local/cuda/bin"; cmake -S . -B build/gpu-rebuild $(command -v ninja >/dev/null && echo -G Ninja) \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DWSI_VQA_GLOO=OFF -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/build/gpu-rebuild" \
      -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" && cmake --build build/gpu-rebuild -j "$(nproc)"')
    cat "$LOGS/rebuild.log" >>"$LOGS/setup.log"
    [ "$rc" = 0 ] && export WSI_VQA_ADDON="$ROOT/build/gpu-rebuild/wsi_vqa.node" && cp "$WSI_VQA_ADDON" build/Release/wsi_vqa.node
  fi
fi
if [ "$setup_rc" -ne 0 ] || ! node -e 'require(process.env.WSI_VQA_ADDON)' >>"$LOGS/setup.log" 2>&1; then
  record setup failed $((SECONDS - t0)) --reason "the kit did not unpack or its addon does not load: see setup.log" --log "$LOGS/setup.log"
  exit 1
fi
record setup passed $((SECONDS - t0)) --reason "$kit_check" --log "$LOGS/setup.log"

# --- a. info -----------------------------------------------------------------------------------
say "a. wsi-vqa info"
t0=$SECONDS
rc=$(boxed a_info 30 node dist/cli/wsi-vqa.js info --json)
# The JSON out of the log (a warning on stderr may come before it), saved for the record.
check=$(node -e '
const fs = require("fs");
const text = fs.readFileSync(process.argv[1], "utf8");
const json = text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1);
fs.writeFileSync(process.argv[3], json);
const i = JSON.parse(json).backends.cuda;
const gpu = process.argv[2] === "gpu";
const missing = [!i.compiled && "the CUDA backend is not compiled in", gpu && !i.available && `no CUDA device (${i.reason})`, gpu && !i.cublasLt && "cuBLASLt not found", gpu && !i.nccl && "NCCL not found"].filter(Boolean);
console.log(missing.length ? missing.join("; ") : gpu ? "ok" : `ok on the CPU (CUDA compiled; available: ${i.available}${i.reason ? `, ${i.reason}` : ""})`);' "$LOGS/a_info.log" "$MODE" "$WORK/info.json" 2>&1)
if [ "$rc" = 0 ] && [[ $check == ok* ]]; then record a_info passed $((SECONDS - t0)) --reason "$check" --data "info=$WORK/info.json" --log "$LOGS/a_info.log"
else record a_info "$( [ "$rc" = 0 ] && echo failed || status_of "$rc")" $((SECONDS - t0)) --reason "$check" --data "info=$WORK/info.json" --log "$LOGS/a_info.log"; fi

# --- b, c, d side by side ------------------------------------------------------------------------
if [ "$MODE" = gpu ]; then DEVICE=cuda:0; else DEVICE=cpu; fi

step_b() {
  local t0=$SECONDS rc note=() which=()
  # The dry run checks the runner, not the ops (npm test runs every case): each op's largest case.
  [ "$MODE" = gpu ] || { which=(--one-per-op); note=(--reason "dry run: each op's largest case on the CPU"); }
  rc=$(boxed b_ops 150 node "$JS/benchmarks/gpu/op-harness.js" --device "$DEVICE" "${which[@]}" --json "$WORK/b.json")
  record b_ops "$(status_of "$rc")" $((SECONDS - t0)) "${note[@]}" --data "harness=$WORK/b.json" --log "$LOGS/b_ops.log"
}

step_c() {
  local t0=$SECONDS sanitizer rc tool data=()
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
  if [ "$MODE" != gpu ]; then
    record c_sanitizer skipped 0 --reason "dry run: compute-sanitizer needs a GPU (step b ran the cases it would check, on the CPU)"
    return
  fi
  if [ -z "$sanitizer" ]; then
    record c_sanitizer skipped 0 --reason "compute-sanitizer not found"
    return
  fi
  for tool in memcheck racecheck; do
    rc=$(boxed "c_$tool" 75 "$sanitizer" --tool "$tool" --print-limit 20 --error-exitcode 86 node "$JS/benchmarks/gpu/op-harness.js" --device cuda:0 --one-per-op --json "$WORK/c_$tool.json")
    "$PYTHON" "$HERE/results.py" sanitizer-summary "$LOGS/c_$tool.log" "$WORK/c_$tool.json" "$rc" >"$WORK/c_$tool.summary.json"
    data+=(--data "$tool=$WORK/c_$tool.summary.json")
  done
  local status
  status=$("$PYTHON" -c 'import json, sys
s = [json.load(open(p))["status"] for p in sys.argv[1:]]
print("passed" if all(x == "passed" for x in s) else "skipped" if all(x == "skipped" for x in s) else "timed-out" if "timed-out" in s else "failed")' "$WORK"/c_*.summary.json)
  record c_sanitizer "$status" $((SECONDS - t0)) "${data[@]}" --log "$LOGS/c_memcheck.log"
}

step_d() {
  local t0=$SECONDS rc reason="" have
  have=$("$PYTHON" -c 'import torch, transformers, safetensors; print("yes")' 2>/dev/null)
  if [ "$have" = yes ]; then
    rc=$(boxed d_reference 90 "$PYTHON" test/fixtures/qwen3/make_reference.py)
    if [ "$rc" = 0 ]; then
      tar -czf "$OUT/qwen3-fixtures.tar.gz" -C test/fixtures/qwen3 $(cd test/fixtures/qwen3 && ls -d */ | tr -d /)
      reason="made here, in \$OUT/qwen3-fixtures.tar.gz"
    else
      reason="make_reference.py $(status_of "$rc"): see d_reference.log"
    fi
  else
    reason="not made: $PYTHON lacks PyTorch, transformers or safetensors"
  fi
  rc=$(boxed d_parity 90 "${VITEST[@]}" test/model/parity.test.ts --reporter=default --reporter=json --outputFile.json="$WORK/d.json")
  "$PYTHON" "$HERE/results.py" parity-errors "$LOGS/d_parity.log" >"$WORK/d_errors.json"
  local status
  status=$(status_of "$rc")
  [[ $reason == make_reference* ]] && status=failed
  record d_parity "$status" $((SECONDS - t0)) --reason "fixtures $reason" --data "vitest=$WORK/d.json" --data "errors=$WORK/d_errors.json" --log "$LOGS/d_parity.log"
}

say "b, c, d: op harness, compute-sanitizer, parity (side by side)"
step_b &
pids=($!)
step_c &
pids+=($!)
step_d &
pids+=($!)
wait "${pids[@]}" # by id: a bare wait would also wait for the tee of this script's output

# --- e. kernel benchmarks ---------------------------------------------------------------------
say "e. kernel benchmarks beside PyTorch"
t0=$SECONDS
tiny=()
[ "$MODE" = gpu ] || tiny=(--tiny)
rc=$(boxed e_ours 75 node "$JS/benchmarks/gpu/kernels.js" --device "$DEVICE" "${tiny[@]}" --json "$WORK/e_ours.json")
rc_torch=$(boxed e_torch 75 "$PYTHON" "$HERE/torch_kernels.py" --device "$([ "$MODE" = gpu ] && echo cuda || echo cpu)" "${tiny[@]}" --json "$WORK/e_torch.json")
cat "$LOGS/e_torch.log" >>"$LOGS/e_ours.log"
record e_kernels "$(status_of "$rc")" $((SECONDS - t0)) --reason "PyTorch side: $(side_status "$rc_torch" "$WORK/e_torch.json")" \
  --data "ours=$WORK/e_ours.json" --data "torch=$WORK/e_torch.json" --log "$LOGS/e_ours.log"

# --- f. end-to-end steps ------------------------------------------------------------------------
say "f. stage-2 and stage-1 steps beside PyTorch + transformers"
t0=$SECONDS
f_status=passed
RESERVE=75 # for g
torch_status=()
data=()
for stage in 2 1; do
  sampler_start "$WORK/f_ours${stage}_memory.txt"
  rc=$(boxed "f_ours$stage" 60 node "$JS/benchmarks/gpu/e2e-step.js" --stage $stage --device "$DEVICE" "${tiny[@]}" --batch-dir "$WORK/batch" --json "$WORK/f_ours$stage.json")
  sampler_stop
  [ "$rc" = 0 ] || f_status=$(status_of "$rc")
  sampler_start "$WORK/f_torch${stage}_memory.txt"
  # Without our batch (ours failed) PyTorch has nothing to run.
  rc=none
  [ -f "$WORK/batch/batch.json" ] && rc=$(boxed "f_torch$stage" 60 "$PYTHON" "$HERE/torch_e2e_step.py" --stage $stage --device "$([ "$MODE" = gpu ] && echo cuda || echo cpu)" \
    --batch-dir "$WORK/batch" --json "$WORK/f_torch$stage.json")
  sampler_stop
  torch_status+=("stage $stage $([ "$rc" = none ] && echo "not run" || side_status "$rc" "$WORK/f_torch$stage.json")")
  data+=(--data "ours$stage=$WORK/f_ours$stage.json" --data "torch$stage=$WORK/f_torch$stage.json"
    --data "ours${stage}_memory=$WORK/f_ours${stage}_memory.txt" --data "torch${stage}_memory=$WORK/f_torch${stage}_memory.txt")
done
cat "$LOGS"/f_*.log >"$WORK/f.log" 2>/dev/null
mv "$WORK/f.log" "$LOGS/f_e2e.log"
record f_e2e "$f_status" $((SECONDS - t0)) --reason "PyTorch side: $(IFS=';'; echo "${torch_status[*]}")" "${data[@]}" --log "$LOGS/f_e2e.log"

# --- g. NCCL world of one -----------------------------------------------------------------------
say "g. NCCL world-of-one test"
RESERVE=0
t0=$SECONDS
rc=$(boxed g_nccl 75 "${VITEST[@]}" test/distributed/worldSizeOne.test.ts -t 'nccl|NCCL' --reporter=default --reporter=json --outputFile.json="$WORK/g.json")
note=()
[ "$MODE" = gpu ] || note=(--reason "dry run: the NCCL case skips without a GPU")
record g_nccl "$(status_of "$rc")" $((SECONDS - t0)) "${note[@]}" --data "vitest=$WORK/g.json" --log "$LOGS/g_nccl.log"

say "done"
cat "$OUT/RESULTS.md"
rm -rf "$WORK"
# The run's verdict: every step passed or was skipped with a reason.
"$PYTHON" -c 'import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
bad = [k for k, s in steps.items() if s["status"] not in ("passed", "skipped")]
print("proof: " + ("every step passed or was skipped" if not bad else "not passed: " + ", ".join(bad)))
sys.exit(1 if bad else 0)' "$OUT/results.json"
