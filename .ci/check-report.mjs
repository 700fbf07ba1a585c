// Renders a report.html in headless Chromium and fails when the screenshot is blank: an empty
// page of the same size is rendered too, and the report's text, tables and charts must make its
// PNG several times larger. Usage: node .ci/check-report.mjs <report.html> [screenshot.png]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [report, shot = join(tmpdir(), 'wsi-vqa-report.png')] = process.argv.slice(2);
if (!report || !existsSync(report)) {
  console.error(`usage: node .ci/check-report.mjs <report.html> [screenshot.png] (got ${report ?? 'nothing'})`);
  process.exit(1);
}
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(existsSync);
if (!chromium) {
  console.error('no Chromium found (apt-get install chromium)');
  process.exit(1);
}

function screenshot(page, png) {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  try {
    execFileSync(
      chromium,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`, '--hide-scrollbars', '--window-size=1280,2400', `--screenshot=${png}`, `file://${resolve(page)}`],
      { stdio: 'ignore', timeout: 120_000 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return statSync(png).size;
}

const blankPage = join(tmpdir(), 'wsi-vqa-blank.html');
writeFileSync(blankPage, '<!doctype html><html><body></body></html>\n');
const blank = screenshot(blankPage, join(tmpdir(), 'wsi-vqa-blank.png'));
const rendered = screenshot(report, shot);
console.log(`${report}: screenshot ${shot} ${rendered} bytes, a blank page ${blank} bytes`);
if (rendered < 5 * blank) {
  console.error('the report renders (nearly) blank');
  process.exit(1);
}
