/**
 * report.html renders in a real browser: headless Chromium (Debian's `chromium`, installed by
 * .ci/run) takes a screenshot of a report and of an empty page of the same size; the report's
 * charts and tables make its image far richer. Skipped where Chromium is not installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReport } from '../lib/report/html.js';
import { barChart } from '../lib/report/svg.js';
import { trainingSection } from '../lib/train/report.js';
import { tempDir } from './io/helpers.js';

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);

function screenshot(html: string, dir: string, name: string): number {
  const page = join(dir, `${name}.html`);
  const png = join(dir, `${name}.png`);
  writeFileSync(page, html);
  execFileSync(chromium!, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${png}`, '--window-size=1200,1600', `file://${page}`], { stdio: 'ignore', timeout: 60_000 });
  return statSync(png).size;
}

describe.skipIf(!chromium)('report.html in headless Chromium', () => {
  it('draws the curves, the table and the chart', () => {
    const history = Array.from({ length: 40 }, (_, i) => ({ step: i + 1, epoch: 0, loss: 3 * Math.exp(-i / 10), lr: 1e-4 * Math.min(1, (i + 1) / 4), gradNorm: 1, tokens: 10, tokensPerSecond: 100, seconds: 0.1 }));
    const html = renderReport('a report', [
      trainingSection('Stage 2', { history, evaluations: [{ step: 40, metrics: { accuracy: 0.8 } }] }),
      { title: 'Evaluation', blocks: [{ kind: 'svg', svg: barChart('Accuracy', ['overall', 'Tissue'], [{ name: 'model', values: [0.8, 0.9], intervals: [[0.7, 0.9], [0.8, 1]] }]) }] },
    ]);
    const dir = tempDir();
    const report = screenshot(html, dir, 'report');
    const blank = screenshot(renderReport('a report', []), dir, 'blank');
    expect(report).toBeGreaterThan(3 * blank);
  });
});
