#!/usr/bin/env node
/**
 * The `wsi-vqa` executable: runs the command (main.ts) and turns any failure, loading the native
 * addon included, into one line and exit code 1 (errorReport.ts).
 */
import { describeError, verboseErrors } from './errorReport.js';

try {
  await import('./main.js');
} catch (error) {
  process.stderr.write(`${describeError(error, verboseErrors())}\n`);
  process.exitCode = 1;
}
