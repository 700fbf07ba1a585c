"""The proof's record: benchmarks/gpu/proof.sh calls this after each step to merge what the step
wrote into $OUT/results.json and to render $OUT/RESULTS.md (a section ready to paste into
benchmarks/RESULTS.md). Standard library only: it runs before anything else is known to work.

    python3 results.py init   OUT --mode gpu|dry-run --manifest FILE
    python3 results.py record OUT STEP STATUS SECONDS [--reason TEXT] [--data NAME=FILE ...] [--log FILE]
    python3 results.py sanitizer-summary LOG HARNESS_JSON RC     # JSON of one compute-sanitizer run
    python3 results.py parity-errors LOG                          # JSON of the parity test's errors

A step's status is passed, failed, skipped (with the reason) or timed-out. Data files are JSON
(vitest's JSON report, the helpers' --json output) or, for nvidia-smi samples, one number a line.
Steps run in parallel record under a lock.
"""
import argparse
import contextlib
import datetime
import fcntl
import json
import os
import re
import subprocess
import sys

STEPS = {
    "setup": "Unpack the kit, load the addon",
    "a_info": "a. wsi-vqa info",
    "b_ops": "b. Op harness on the device against float64 references, each case twice for the same bits",
    "c_sanitizer": "c. compute-sanitizer memcheck and racecheck, one case per op",
    "d_parity": "d. Parity with transformers (fixtures made there)",
    "e_kernels": "e. Kernel benchmarks beside PyTorch",
    "f_e2e": "f. End-to-end optimizer steps, Qwen3-4B shape, beside PyTorch + transformers",
    "g_nccl": "g. NCCL world-of-one test",
}


@contextlib.contextmanager
def locked(out):
    """Holds a lock on the folder itself: no lock file joins the few files $OUT brings back."""
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load(out):
    path = os.path.join(out, "results.json")
    return json.load(open(path)) if os.path.exists(path) else {"steps": {}}


def save(out, results):
    path = os.path.join(out, "results.json")
    with open(path + ".tmp", "w") as f:
        json.dump(results, f, indent=1)
    os.replace(path + ".tmp", path)
    with open(os.path.join(out, "RESULTS.md.tmp"), "w") as f:
        f.write(render(results))
    os.replace(os.path.join(out, "RESULTS.md.tmp"), os.path.join(out, "RESULTS.md"))


def command_output(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def read_data(path):
    """JSON, or nvidia-smi memory samples (MiB, one a line), or None when the step wrote nothing."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    text = open(path, errors="replace").read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        samples = [float(x) for x in re.findall(r"^\s*(\d+(?:\.\d+)?)\s*$", text, re.M)]
        return {"samplesMiB": len(samples), "baselineMiB": samples[0], "peakMiB": max(samples)} if samples else None


def init(args):
    os.makedirs(args.out, exist_ok=True)
    manifest = json.load(open(args.manifest)) if args.manifest and os.path.exists(args.manifest) else {}
    python = {"version": sys.version.split()[0]}
    for module in ("torch", "transformers"):
        version = command_output(sys.executable, "-c", f"import {module}; print({module}.__version__)")
        python[module] = version or None
    gpu = command_output("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader")
    nvcc = command_output("nvcc", "--version")
    results = {
        "mode": args.mode,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"gpu": gpu or None, "nvcc": nvcc.splitlines()[-1] if nvcc else None, "python": python,
                    "cpus": os.cpu_count(), "kernel": os.uname().release},
        "kit": {k: manifest.get(k) for k in ("built", "commit", "node", "addon")},
        "steps": {},
    }
    with locked(args.out):
        save(args.out, results)


def record(args):
    data = {}
    for item in args.data or []:
        name, _, path = item.partition("=")
        value = read_data(path)
        if value is not None:
            data[name] = value
    entry = {"status": args.status, "seconds": round(float(args.seconds), 1)}
    if args.reason:
        entry["reason"] = args.reason
    if args.log:
        entry["log"] = os.path.basename(args.log)
        if args.status in ("failed", "timed-out") and os.path.exists(args.log):
            entry["logTail"] = open(args.log, errors="replace").read()[-2000:]
    entry.update(data)
    with locked(args.out):
        results = load(args.out)
        results["steps"][args.step] = entry
        results["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        save(args.out, results)
    print(f"[{args.step}] {args.status} in {entry['seconds']} s{': ' + args.reason if args.reason else ''}", flush=True)


# ---- RESULTS.md -------------------------------------------------------------------------------

def fmt(x, digits=3):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def vitest_rows(report):
    rows = []
    for file in (report or {}).get("testResults", []):
        for test in file.get("assertionResults", []):
            rows.append((test.get("fullName") or test.get("title"), test.get("status"),
                         (test.get("failureMessages") or [""])[0].splitlines()[0][:160] if test.get("failureMessages") else ""))
    return rows


def render_ops(step):
    harness = step.get("harness") or {}
    ops = harness.get("ops", {})
    rows = [(op, f"{s['passed']}/{s['cases']}" if not s.get("skipped") else f"skipped: {s['skipped']}", s.get("irreproducible", 0),
             round(s["ms"]), "; ".join(s["failures"])[:200])
            for op, s in sorted(ops.items())]
    grads = harness.get("gradients", {})
    text = table(["op", "cases passed", "right, other bits on a rerun", "ms", "failures"], rows) if rows else ""
    if grads:
        failed = [f"{n}: {g.get('failure')}" for n, g in grads.items() if not g["passed"]]
        text += f"\n\nGradient cases (finite differences): {len(grads) - len(failed)}/{len(grads)} passed."
        text += "".join(f"\n- FAILED {f}" for f in failed)
    if harness.get("seed") is not None:
        text += f"\n\nSeed {harness['seed']} (replay with `WSI_TEST_SEED={harness['seed']}`)."
    return text


def render_sanitizer(step):
    rows = []
    for tool in ("memcheck", "racecheck"):
        s = step.get(tool)
        if s:
            rows.append((tool, s.get("status"), s.get("ops"), s.get("summary") or s.get("reason", "")))
    return table(["tool", "status", "ops run", "summary"], rows) if rows else ""


def render_parity(step):
    text = ""
    if step.get("reference"):
        text += f"Fixtures: {step['reference']}.\n\n"
    errors = step.get("errors") or {}
    if errors:
        text += table(["variant", "device", "dtype", "logits", "worst weight grad", "input-embedding grad"],
                      [(k.split(" ")[0], k.split(" ")[1], k.split(" ")[2], e.get("logits"), e.get("worst weight gradient"), e.get("input-embedding gradient"))
                       for k, e in sorted(errors.items())]) + "\n\n"
    rows = vitest_rows(step.get("vitest"))
    failed = [r for r in rows if r[1] == "failed"]
    text += f"vitest: {sum(r[1] == 'passed' for r in rows)} passed, {len(failed)} failed, {sum(r[1] in ('skipped', 'pending') for r in rows)} skipped."
    text += "".join(f"\n- FAILED {r[0]}: {r[2]}" for r in failed)
    return text


def render_kernels(step):
    ours = {r["id"]: r for r in (step.get("ours") or {}).get("results", [])}
    theirs = {r["id"]: r for r in (step.get("torch") or {}).get("results", [])}
    rate = lambda r: (f"{r['tflops']:.3g} TFLOP/s" if r.get("tflops") is not None else f"{r['gbps']:.3g} GB/s" if r.get("gbps") is not None else "–") if r else "–"
    rows = []
    for id in list(ours) + [i for i in theirs if i not in ours]:
        o, t = ours.get(id), theirs.get(id)
        speed = f"{t['ms'] / o['ms']:.2f}×" if o and t and o["ms"] > 0 else "–"
        extra = " / ".join(f"{r['extraBytes'] / 2**20:.0f} MiB" for r in (o, t) if r and r.get("extraBytes") is not None)
        rows.append((id, o and o["ms"], rate(o), t and t["ms"], rate(t), speed, extra))
    text = table(["benchmark", "ours ms", "ours rate", "PyTorch ms", "PyTorch rate", "PyTorch ms / ours", "extra memory (ours / PyTorch)"], rows)
    skipped = (step.get("torch") or {}).get("skipped")
    return text + (f"\n\nPyTorch side skipped: {skipped}" if skipped else "")


def render_e2e(step):
    rows = []
    for stage in (2, 1):
        for side in ("ours", "torch"):
            r = step.get(f"{side}{stage}")
            if not r:
                continue
            if r.get("skipped"):
                rows.append((stage, side, "skipped: " + r["skipped"], None, None, None, None))
                continue
            peak = step.get(f"{side}{stage}_memory")
            peak_text = f"{(peak['peakMiB'] - peak['baselineMiB']) / 1024:.1f} GiB" if peak else "–"
            if r.get("peakAllocatedBytes"):
                peak_text += f" (allocator {r['peakAllocatedBytes'] / 2**30:.1f} GiB)"
            rows.append((stage, "wsi-vqa" if side == "ours" else f"PyTorch {r.get('torch', '')} + transformers {r.get('transformers', '')}",
                         r["stepMs"], r["tokensPerSecond"], f"{r['mfu'] * 100:.1f} %" if r.get("mfu") is not None else "–", peak_text, r.get("loss")))
    return table(["stage", "side", "step ms", "tokens/s", "MFU", "peak memory (nvidia-smi)", "loss"], rows) if rows else ""


def render_vitest(step):
    rows = vitest_rows(step.get("vitest"))
    return table(["test", "status", "failure"], rows) if rows else ""


RENDERERS = {"b_ops": render_ops, "c_sanitizer": render_sanitizer, "d_parity": render_parity, "e_kernels": render_kernels,
             "f_e2e": render_e2e, "g_nccl": render_vitest}


def ordered(results):
    """The steps in the proof's order (b, c and d end in any order)."""
    steps = results.get("steps", {})
    return sorted(steps.items(), key=lambda item: list(STEPS).index(item[0]) if item[0] in STEPS else len(STEPS))


def render(results):
    machine = results.get("machine", {})
    kit = results.get("kit", {})
    title = "GPU proof" if results.get("mode") == "gpu" else "GPU proof, dry run on the CPU"
    lines = [f"## {title}: {(results.get('started') or '')[:10]}, {machine.get('gpu') or 'no GPU'}", "",
             f"`bash benchmarks/gpu/proof.sh{' --dry-run' if results.get('mode') != 'gpu' else ''}` (kit of commit "
             f"{(kit.get('commit') or '?')[:12]}, built {kit.get('built')}, Node {kit.get('node')}, addon {((kit.get('addon') or {}).get('architectures'))}); "
             f"nvcc: {machine.get('nvcc')}; Python {machine.get('python', {}).get('version')}, torch {machine.get('python', {}).get('torch')}, "
             f"transformers {machine.get('python', {}).get('transformers')}; {machine.get('cpus')} CPUs.", ""]
    lines += [table(["step", "status", "seconds", "note"],
                    [(STEPS.get(k, k), s["status"], s["seconds"], s.get("reason", "")) for k, s in ordered(results)]), ""]
    for key, step in ordered(results):
        body = RENDERERS[key](step) if key in RENDERERS else ""
        if key == "a_info" and step.get("info"):
            cuda = step["info"].get("backends", {}).get("cuda", {})
            body = (f"CUDA compiled {cuda.get('compiled')}, available {cuda.get('available')}"
                    f"{' (' + cuda['reason'] + ')' if cuda.get('reason') else ''}; devices "
                    f"{', '.join(d['name'] + ' sm_' + d['computeCapability'].replace('.', '') for d in cuda.get('devices', [])) or 'none'}; "
                    f"cuBLASLt {cuda.get('cublasLt') or 'not found'}; NCCL {cuda.get('nccl') or 'not found'}; {len(step['info'].get('ops', []))} ops.")
        if body:
            lines += [f"### {STEPS.get(key, key)}", "", body, ""]
        if step.get("logTail"):
            lines += ["```", step["logTail"][-1200:], "```", ""]
    return "\n".join(lines)


def sanitizer_summary(args):
    """One compute-sanitizer run as JSON: its status, the ops it covered and its summary line."""
    log = open(args.log, errors="replace").read() if os.path.exists(args.log) else ""
    harness = read_data(args.harness) or {}
    ops = sum(1 for s in harness.get("ops", {}).values() if s.get("cases"))
    summary = "; ".join(re.findall(r"(?:ERROR|RACECHECK) SUMMARY:[^\n]*", log)) or None
    unsupported = re.search(r"[^\n]*(?:Device not supported|not supported on this platform|Unable to)[^\n]*", log)
    if unsupported and not harness:
        status, reason = "skipped", unsupported.group(0).strip()[:300]
    elif args.rc == 124:
        status, reason = "timed-out", None
    else:
        errors = [int(n) for n in re.findall(r"ERROR SUMMARY: (\d+) error", log)] + [int(n) for n in re.findall(r"\((\d+) errors?,", log)]
        status = "passed" if args.rc == 0 and harness and not any(errors) else "failed"
        reason = None if status == "passed" else f"exit status {args.rc}"
    print(json.dumps({"status": status, "ops": ops, "summary": summary, **({"reason": reason} if reason else {})}))


def parity_errors(args):
    """The relative errors the parity test prints ("parity <variant> <device> <dtype> <what>: <error>")."""
    errors = {}
    for variant, device, dtype, what, error in re.findall(r"parity (\S+) (\S+) (\S+) ([^:\n]+): ([-+.\de]+)", open(args.log, errors="replace").read()):
        errors.setdefault(f"{variant} {device} {dtype}", {})[what] = float(error)
    print(json.dumps(errors))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sanitizer-summary")
    p.add_argument("log")
    p.add_argument("harness")
    p.add_argument("rc", type=int)
    p = sub.add_parser("parity-errors")
    p.add_argument("log")
    p = sub.add_parser("init")
    p.add_argument("out")
    p.add_argument("--mode", choices=["gpu", "dry-run"], required=True)
    p.add_argument("--manifest")
    p = sub.add_parser("record")
    p.add_argument("out")
    p.add_argument("step", choices=sorted(STEPS))
    p.add_argument("status", choices=["passed", "failed", "skipped", "timed-out"])
    p.add_argument("seconds")
    p.add_argument("--reason")
    p.add_argument("--data", action="append", help="NAME=FILE: the file's content under NAME")
    p.add_argument("--log")
    args = parser.parse_args()
    {"init": init, "record": record, "sanitizer-summary": sanitizer_summary, "parity-errors": parity_errors}[args.command](args)


if __name__ == "__main__":
    main()
