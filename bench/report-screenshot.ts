/**
 * Renders a run's report in headless Chromium and saves a screenshot, to check by eye that the self-contained HTML
 * shows its tables and plots with no server and no network. Needs Debian's `chromium` (apt-get install chromium).
 *   npm run check:report -- checkpoints/default [out.png]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [runDir = 'checkpoints/default', out = join(runDir, 'report', 'report.png')] = process.argv.slice(2);
const html = resolve(runDir, 'report', 'report.html');
if (!existsSync(html)) throw new Error(`${html} does not exist: run the experiment (or rrl report) first`);
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
if (!chromium) throw new Error('chromium not found: apt-get install chromium');
const result = spawnSync(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'chromium-'))}`,
  '--window-size=1280,2000', `--screenshot=${resolve(out)}`, `file://${html}`,
], { encoding: 'utf8', timeout: 60_000 });
if (!existsSync(out) || statSync(out).size === 0) throw new Error(`no screenshot written: ${result.stderr}`);
console.log(`screenshot: ${out} (${statSync(out).size} bytes)`);
