// End-to-end: the reports `npm run report` built, opened in a real browser. reports/ is served on
// 127.0.0.1 (the multi-page Allure app needs http), headless Chromium (Debian's, through
// playwright-core) opens the Allure report and the conformance matrix, and the test checks what a
// reader would look for. Screenshots go to reports/screenshots/.
// Run after `npm run report`: `npm run test:e2e`. CHROMIUM_PATH overrides /usr/bin/chromium.

import { after, before, test } from 'node:test';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packageRoot } from '../../runner/paths';

const REPORTS = path.join(packageRoot(), 'reports');
const SHOTS = path.join(REPORTS, 'screenshots');
const SEED = 'The ten steps of the talk';
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8', '.xml': 'application/xml', '.ndjson': 'application/x-ndjson',
};

let server: http.Server;
let base = '';
let browser: Browser;

before(async () => {
  for (const f of ['allure/index.html', 'conformance.html', 'cucumber.html']) {
    if (!fs.existsSync(path.join(REPORTS, f))) throw new Error(`reports/${f} is missing: run \`npm run report\` first`);
  }
  fs.mkdirSync(SHOTS, { recursive: true });
  server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const file = path.join(REPORTS, url.endsWith('/') ? `${url}index.html` : url);
    if (!file.startsWith(REPORTS) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
});

async function openSeedInAllure(page: Page): Promise<void> {
  await page.goto(`${base}/allure/index.html#suites`);
  await page.getByText(SEED, { exact: true }).first().click();
  await page.locator('.test-result__name', { hasText: SEED }).waitFor();
}

test('the Allure report shows the seed scenario with its walk drawn: six lifelines, ten numbered arrows', { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  await openSeedInAllure(page);
  const pane = page.locator('.test-result');
  // Labels and links from the trace.
  await expect(await pane.locator('.label', { hasText: 'KVM_EXIT_IO' }).count()).to.be.greaterThan(0);
  expect(await pane.locator('a', { hasText: 'conformance matrix' }).count()).to.equal(1);
  expect(await pane.locator('a', { hasText: 'arch/x86/kvm/vmx/vmx.c' }).count()).to.be.greaterThan(0);

  // The evidence hangs under the scenario's last step.
  await pane.getByText('And the walk passes through stages 1 to 10 in order').click();
  for (const name of ['walk.txt', 'kvm-trace.txt', 'trace.json']) expect(await pane.getByText(name, { exact: true }).count(), name).to.equal(1);
  await pane.getByText('walk.svg', { exact: true }).click();
  const img = pane.locator('img.attachment-preview__media');
  await img.waitFor();
  const src = await img.getAttribute('src');
  expect(src).to.be.a('string');
  const found = await page.evaluate(async (u) => {
    const svg = new DOMParser().parseFromString(await (await fetch(u)).text(), 'image/svg+xml');
    return {
      lifelines: [...svg.querySelectorAll('g.lifeline')].map((g) => g.getAttribute('data-layer')),
      stages: [...svg.querySelectorAll('g.arrow[data-stage]')].map((g) => Number(g.getAttribute('data-stage'))),
      numbers: [...svg.querySelectorAll('g.arrow[data-stage] text.num')].map((t) => t.textContent),
    };
  }, src!);
  expect(found.lifelines).to.deep.equal(['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'host kernel']);
  expect(found.stages).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(found.numbers).to.deep.equal(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  // The diagram is actually drawn (an image that loaded, not a broken one).
  const natural = await img.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight]);
  expect(natural[0]).to.be.greaterThan(800);
  await img.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SHOTS, 'allure-seed-scenario.png') });
  // The diagram alone, at full size, as a reader opens it.
  const full = await browser.newPage({ viewport: { width: 1100, height: 1500 } });
  await full.setContent(`<img src="data:image/svg+xml;base64,${Buffer.from(await page.evaluate(async (u) => (await fetch(u)).text(), src!)).toString('base64')}">`);
  await full.screenshot({ path: path.join(SHOTS, 'seed-walk.png'), fullPage: true });
  await full.close();
  await page.close();
});

test('the conformance matrix opens from the report and makes uncovered rows stand out', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  await openSeedInAllure(page);
  const href = await page.locator('.test-result a', { hasText: 'conformance matrix' }).getAttribute('href');
  expect(href).to.equal('../conformance.html');
  await page.goto(new URL(href!, `${base}/allure/index.html`).toString());
  expect(await page.title()).to.equal('exitpath — conformance matrix');
  expect(await page.locator('table.matrix').count()).to.equal(4);
  const io = page.locator('table[data-kind="exit reason"] tr.row[data-name="IO_INSTRUCTION"]');
  expect(await io.getAttribute('class')).to.equal('row');
  expect(await io.locator('td.spec').count()).to.be.greaterThan(0);
  // A reason no scenario specifies is marked as a gap, and the filter shows only such rows.
  const gaps = page.locator('table[data-kind="exit reason"] tr.row.gap');
  expect(await gaps.count()).to.be.greaterThan(0);
  const gapBg = await gaps.first().locator('td.name').evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(gapBg).to.equal('rgb(253, 232, 232)');
  await page.screenshot({ path: path.join(SHOTS, 'conformance-matrix.png') });
  await page.locator('#gaps-only').check();
  expect(await io.isVisible()).to.equal(false);
  expect(await gaps.first().isVisible()).to.equal(true);
  await page.close();
});

test('the literate chapter is rendered with its prose, in the cucumber report and in Allure', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${base}/cucumber.html`);
  const prose = page.getByText('Port I/O is a sensitive instruction', { exact: false }).first();
  await page.getByText('features/chapters/01-one-write-ten-steps.feature.md', { exact: true }).first().waitFor();
  if (!(await prose.isVisible())) await page.getByText('features/chapters/01-one-write-ten-steps.feature.md', { exact: true }).first().click();
  await prose.waitFor();
  expect(await page.getByText('Chapter 1 — One write(), ten steps').count()).to.be.greaterThan(0);
  await prose.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SHOTS, 'cucumber-chapter.png') });
  await page.goto(`${base}/allure/index.html#suites`);
  await page.getByText('③ — VT-x exits on the port write, and kvm\'s table picks handle_io', { exact: true }).first().click();
  await page.locator('.test-result').getByText('Port I/O is a sensitive instruction', { exact: false }).first().waitFor();
  await page.close();
});
