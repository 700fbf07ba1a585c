/**
 * One temporary folder for the whole test run: every suite's `os.tmpdir()` (and every process a
 * test starts) lands in it through TMPDIR, and it goes when the run ends. The test forks are
 * killed rather than exited, so removal on their own exit would never run, and the data-parallel
 * suites alone leave gigabytes of checkpoints.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'wsi-vqa-test-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
