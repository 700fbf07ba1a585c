/**
 * The op harness of test/ops (every case of every op against its float64 reference, run twice
 * for the same bits, and every gradient case against finite differences) on one device,
 * summarised per op: the proof's step b,
 * and with `--one-per-op` the one case of each op (its largest) that compute-sanitizer runs (step c).
 *
 *   node build/gpu-kit/js/benchmarks/gpu/op-harness.js --device cuda:0 [--one-per-op] [--json FILE]
 *
 * The ops come from the addon (`listOps()`) and the cases from test/ops/cases, so new ops and
 * cases are picked up as they land. Exits 1 when any case fails.
 */
import { writeFileSync } from 'node:fs';
import type { Device } from '../../lib/native.js';
import { listOps, supports } from '../../lib/ops.js';
import { allGradientCases, allOpCases } from '../../test/ops/cases/index.js';
import { checkGradientCase, checkOpCase, irreproducibleOutputs, type OpCase } from '../../test/ops/harness.js';
import { baseSeed } from '../../test/ops/random.js';

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const device = (option('--device') ?? 'cuda:0') as Device;
const onePerOp = args.includes('--one-per-op');
const jsonFile = option('--json');

/** Failures kept per op: the first few say what is wrong; the count says how much. */
const MAX_FAILURES_SHOWN = 3;

interface OpSummary {
  cases: number;
  passed: number;
  failed: number;
  /** Cases right against the reference whose outputs differ, bit for bit, between two runs (docs/ARCHITECTURE.md, Determinism). */
  irreproducible: number;
  ms: number;
  failures: string[];
  /** Why the op was not run, when it was not. */
  skipped?: string;
}

const size = (c: OpCase) => Object.values(c.inputs).reduce((n, spec) => n + spec.shape.reduce((a, b) => a * b, 1), 0);

/** The cases to run: all, or each op's largest (the most blocks, tiles and ragged edges for the sanitizer to watch). */
function selectedCases(): OpCase[] {
  if (!onePerOp) return allOpCases;
  const largest = new Map<string, OpCase>();
  for (const c of allOpCases) if (!largest.has(c.op) || size(c) > size(largest.get(c.op)!)) largest.set(c.op, c);
  return [...largest.values()];
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').slice(0, 3).join(' | ').slice(0, 400);
}

const started = performance.now();
const ops: Record<string, OpSummary> = {};
const gradients: Record<string, { passed: boolean; ms: number; failure?: string }> = {};
/** Written after every case, so that a run stopped by its time box still tells how far it got. */
function save(): void {
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ device, onePerOp, seed: baseSeed, ops, gradients, seconds: (performance.now() - started) / 1000 }, null, 1));
}
for (const schema of listOps()) {
  ops[schema.name] = { cases: 0, passed: 0, failed: 0, irreproducible: 0, ms: 0, failures: [] };
  if (!supports(schema.name, device)) ops[schema.name].skipped = `not implemented on ${device}`;
}
for (const testCase of selectedCases()) {
  const summary = (ops[testCase.op] ??= { cases: 0, passed: 0, failed: 0, irreproducible: 0, ms: 0, failures: [], skipped: 'not in the addon' });
  if (summary.skipped) continue;
  const t0 = performance.now();
  summary.cases += 1;
  try {
    checkOpCase(testCase, device);
    const differing = irreproducibleOutputs(testCase, device);
    if (differing.length === 0) summary.passed += 1;
    else {
      summary.irreproducible += 1;
      if (summary.failures.length < MAX_FAILURES_SHOWN) summary.failures.push(`${testCase.name}: other bits on a second run in ${differing.join(', ')}`);
    }
  } catch (error) {
    summary.failed += 1;
    if (summary.failures.length < MAX_FAILURES_SHOWN) summary.failures.push(`${testCase.name}: ${firstLine(error)}`);
  }
  summary.ms += performance.now() - t0;
  save();
}
for (const summary of Object.values(ops)) if (summary.cases === 0 && !summary.skipped) summary.skipped = 'no op case in test/ops/cases';

if (!onePerOp) {
  for (const testCase of allGradientCases) {
    const t0 = performance.now();
    try {
      checkGradientCase(testCase, device);
      gradients[testCase.name] = { passed: true, ms: performance.now() - t0 };
    } catch (error) {
      gradients[testCase.name] = { passed: false, ms: performance.now() - t0, failure: firstLine(error) };
    }
    save();
  }
}

const totals = Object.values(ops).reduce((t, s) => ({ cases: t.cases + s.cases, failed: t.failed + s.failed + s.irreproducible, irreproducible: t.irreproducible + s.irreproducible }), { cases: 0, failed: 0, irreproducible: 0 });
const gradientFailures = Object.values(gradients).filter((g) => !g.passed).length;
for (const [op, s] of Object.entries(ops)) {
  const line = s.skipped ? `skipped: ${s.skipped}` : `${s.passed}/${s.cases} passed  ${s.ms.toFixed(0).padStart(6)} ms`;
  console.log(`${op.padEnd(24)} ${line}`);
  for (const f of s.failures) console.log(`    FAILED ${f}`);
}
for (const [name, g] of Object.entries(gradients)) if (!g.passed) console.log(`gradient "${name}" FAILED: ${g.failure}`);
console.log(
  `${device}: ${totals.cases - totals.failed}/${totals.cases} op cases passed over ${Object.values(ops).filter((s) => s.cases > 0).length} ops ` +
    `(${totals.irreproducible} right but with other bits on a second run); ` +
    `${Object.keys(gradients).length - gradientFailures}/${Object.keys(gradients).length} gradient cases; seed ${baseSeed} (replay with WSI_TEST_SEED=${baseSeed}); ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
);
save();
process.exitCode = totals.failed > 0 || gradientFailures > 0 ? 1 : 0;
