// End-to-end: the reports `npm run report` built, opened in a real browser the way a reader opens
// them — from the file system, starting at reports/index.html. Headless Chromium (Debian's, through
// playwright-core) follows the links, and the test checks what a reader would look for: the seed's
// walk one click away and drawn without another, every label of every golden walk legible (11 px
// or more) and clear of the others, the conformance matrix as wide as the window with its headers
// in view. Screenshots go to reports/screenshots/.
// Run after `npm run report`: `npm run test:e2e`. CHROMIUM_PATH overrides /usr/bin/chromium.

import { after, before, test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { parse } from 'yaml';
import { readNdjson, readRun, type RunScenario } from '../../src/report/messages';
import { sequenceSvg } from '../../src/trace/svg';
import { DEFAULT_CONFIG, type VmConfig } from '../../src/config';
import { explain } from '../../src/walk';
import { measureSvg } from './svg-layout';
import { packageRoot } from '../../runner/paths';

const ROOT = packageRoot();
const REPORTS = path.join(ROOT, 'reports');
const SHOTS = path.join(REPORTS, 'screenshots');
const SEED = 'The ten steps of the talk';
const url = (rel: string) => {
  const [file, hash] = rel.split('#');
  return pathToFileURL(path.join(REPORTS, file!)).toString() + (hash !== undefined ? `#${hash}` : '');
};

let browser: Browser;
let run: RunScenario[];

before(async () => {
  for (const f of ['index.html', 'allure/index.html', 'conformance.html', 'cucumber.html', 'cucumber.ndjson']) {
    if (!fs.existsSync(path.join(REPORTS, f))) throw new Error(`reports/${f} is missing: run \`npm run report\` first`);
  }
  fs.rmSync(SHOTS, { recursive: true, force: true });
  fs.mkdirSync(SHOTS, { recursive: true });
  run = readRun(readNdjson(path.join(REPORTS, 'cucumber.ndjson'))).scenarios;
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => { await browser?.close(); });

/** The element is drawn inside the window, at least partly, without scrolling. */
async function inView(page: Page, l: Locator): Promise<boolean> {
  const b = await l.boundingBox();
  const vp = page.viewportSize()!;
  return !!b && b.width > 0 && b.height > 0 && b.y < vp.height && b.y + b.height > 0 && b.x < vp.width && b.x + b.width > 0;
}

/** The stage numbers and lifelines of a diagram in the page. */
async function shape(svg: Locator) {
  return svg.evaluate((el) => ({
    lifelines: [...el.querySelectorAll('g.lifeline')].map((g) => g.getAttribute('data-layer')),
    stages: [...el.querySelectorAll('g.arrow[data-stage]')].map((g) => Number(g.getAttribute('data-stage'))),
  }));
}

test('from reports/index.html one click opens the seed\'s walk in Allure, drawn at the top: every label 11 px or more, none overlapping', { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(url('index.html'));
  await page.screenshot({ path: path.join(SHOTS, 'index.png') });
  const go = page.locator('#start a.go');
  expect(await go.textContent()).to.contain(SEED);
  await go.click(); // the one click
  const svg = page.locator('.exitpath-walks svg.exitpath-walk').first();
  await svg.waitFor({ timeout: 20_000 });
  expect(await page.locator('.test-result__name').textContent()).to.contain(SEED);
  expect(await inView(page, svg), 'the diagram is in the window without a click or a scroll').to.equal(true);
  // It opens the page: above the description, the tags and the steps.
  const top = (l: Locator) => l.first().evaluate((e) => e.getBoundingClientRect().top);
  expect(await top(svg)).to.be.below(await top(page.locator('.description__text')));
  expect(await shape(svg)).to.deep.equal({ lifelines: ['guest process', 'guest kernel', 'VMX CPU', 'kvm', 'qemu-kvm', 'host kernel'], stages: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  const m = await measureSvg(page, '.exitpath-walks svg.exitpath-walk');
  expect(m.minFontPx, 'the smallest text as drawn').to.be.at.least(11);
  expect(m.overlaps).to.deep.equal([]);
  // The whole diagram fits the page's width here; a wider one scrolls sideways at the same size.
  const box = await svg.boundingBox();
  expect(box!.x + box!.width).to.be.at.most(1366);
  await page.screenshot({ path: path.join(SHOTS, 'allure-seed-walk.png') });

  // The completion half speaks plain words.
  const captions = await svg.locator('text.cap').allTextContents();
  for (const w of ['ISR read', 'interrupt injected', 'the guest wakes']) expect(captions).to.include(w);
  expect(captions.some((c) => c.startsWith('EOI'))).to.equal(true);

  // Below: the prose in paragraphs, the narrated walk, links one per line, the trace as attachments.
  expect(await page.locator('.description__text p').count()).to.be.greaterThan(0);
  expect(await page.locator('.description__text pre').first().textContent()).to.contain('① guest process → guest kernel');
  const links = page.locator('.testresult-link');
  expect(await links.count()).to.be.greaterThan(10);
  expect(await links.nth(1).textContent()).to.match(/^guest: fs\/\S+\.c: \w+$/);
  const [a, b] = [await links.nth(1).boundingBox(), await links.nth(2).boundingBox()];
  expect(b!.y).to.be.greaterThan(a!.y + a!.height - 1);
  expect(await page.locator('.testresult-link a', { hasText: 'arch/x86/kvm/vmx/vmx.c: handle_io' }).count()).to.equal(1);
  expect(await page.locator('.testresult-link a', { hasText: 'conformance matrix' }).getAttribute('href')).to.equal('../conformance.html');
  for (const name of ['walk.svg', 'kvm-trace.txt', 'trace.json']) expect(await page.getByText(name, { exact: true }).count(), name).to.equal(1);
  await page.close();
});

test('in Suites, grouped by folder and feature, the seed scenario opens on its diagram, at full size', { timeout: 120_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(url('allure/index.html#suites'));
  const folder = page.getByText('features/seed', { exact: true }).first();
  await folder.waitFor();
  await folder.click();
  await page.getByText('The seed\'s walk: a guest write() on a virtio-blk disk, from the process to the host disk and back', { exact: true }).first().click();
  await page.getByText(SEED, { exact: true }).first().click();
  const svg = page.locator('.exitpath-walks svg.exitpath-walk').first();
  await svg.waitFor({ timeout: 20_000 });
  expect(await inView(page, svg)).to.equal(true);
  const m = await measureSvg(page, '.exitpath-walks svg.exitpath-walk');
  expect(m.minFontPx).to.be.at.least(11);
  expect(m.overlaps).to.deep.equal([]);
  await page.screenshot({ path: path.join(SHOTS, 'allure-suites-seed.png') });
  // Behaviors: the seed's areas first.
  await page.goto(url('allure/index.html#behaviors'));
  await page.getByText('1. The walk', { exact: true }).first().waitFor();
  for (const area of ['2. Exits', '3. I/O paths', '4. SMP', '5. Faults', '6. Hostile guest']) expect(await page.getByText(area, { exact: true }).count(), area).to.be.greaterThan(0);
  await page.screenshot({ path: path.join(SHOTS, 'allure-behaviors.png') });
  await page.close();
});

test('the Overview shows the seed\'s ten steps and the coverage numbers, and links to the whole walk', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.goto(url('allure/index.html'));
  const box = page.locator('.exitpath-overview');
  await box.waitFor({ timeout: 20_000 });
  const svg = box.locator('svg.exitpath-walk');
  expect(await inView(page, svg)).to.equal(true);
  expect((await shape(svg)).stages).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const m = await measureSvg(page, '.exitpath-overview svg.exitpath-walk');
  expect(m.overlaps).to.deep.equal([]);
  expect(m.minFontPx).to.be.at.least(11);
  const rows = await box.locator('table tr').allTextContents();
  for (const k of ['Basic VM exit reasons', 'kvm exit handlers', 'KVM_EXIT_* codes', 'Host syscalls and kvm ioctls', 'kvm tracepoints']) {
    expect(rows.some((r) => r.startsWith(k)), k).to.equal(true);
  }
  await page.screenshot({ path: path.join(SHOTS, 'allure-overview.png') });
  const seed = box.locator('a[data-seed]');
  await page.waitForFunction(() => /^#testresult\//.test(document.querySelector('.exitpath-overview a[data-seed]')?.getAttribute('href') ?? ''));
  await seed.click();
  await page.locator('.exitpath-walks svg.exitpath-walk').first().waitFor({ timeout: 20_000 });
  expect(await page.locator('.test-result__name').textContent()).to.contain(SEED);
  await page.close();
});

/** Every walk the golden files keep (features/golden/*.yaml name their scenarios), as the report ran them. */
function goldenWalks(): { title: string; events: RunScenario['walks'][number]['events']; lang: 'en' | 'ja' }[] {
  const dir = path.join(ROOT, 'features', 'golden');
  const out = [];
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.yaml')).sort()) {
    const title = (parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { title?: string }).title;
    const sc = run.find((s) => s.name === title && s.uri.startsWith('features/golden/'));
    if (!sc) throw new Error(`features/golden/${f}: no scenario "${title}" in reports/cucumber.ndjson`);
    expect(sc.walks.length, `${f}: the scenario's walks`).to.be.greaterThan(0);
    for (const w of sc.walks) for (const lang of ['en', 'ja'] as const) out.push({ title: `${sc.name}: ${w.action} [${f}, ${lang}]`, events: w.events, lang });
  }
  return out;
}

test('every golden walk, an exit to qemu-kvm and a seven-box walk, drawn in Chromium: no text overlaps a text, a circle or a lifeline, none under 11 px', { timeout: 180_000 }, async () => {
  const walks = goldenWalks();
  expect(walks.length).to.be.at.least(10);
  const cli = (action: string, config: Partial<VmConfig> = {}) => explain({ ...DEFAULT_CONFIG, ...config } as VmConfig, action).events;
  walks.push({ title: 'exitpath explain "inl 0x1234"', events: cli('inl 0x1234'), lang: 'en' });
  walks.push({ title: 'vhost-user-blk: a seventh box', events: cli('write hello /hello.txt', { ioeventfd: true, irqfd: true, disk: { ...DEFAULT_CONFIG.disk, vectors: 2, device: 'vhost-user-blk' } }), lang: 'en' });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  for (const w of walks) {
    await page.setContent(`<!doctype html><html><body style="margin:0">${sequenceSvg(w.events, { title: w.title, lang: w.lang })}</body></html>`);
    const m = await measureSvg(page);
    if (m.minFontPx < 11) problems.push(`${w.title}: a text of ${m.minFontPx} px`);
    for (const o of m.overlaps) problems.push(`${w.title}: ${o}`);
    if (w.title.startsWith('exitpath explain "inl')) await page.screenshot({ path: path.join(SHOTS, 'walk-inl.png'), fullPage: true });
    if (w.title.startsWith('vhost-user-blk')) {
      const lanes = await page.locator('g.lifeline').count();
      expect(lanes).to.equal(7);
      await page.screenshot({ path: path.join(SHOTS, 'walk-wide.png'), fullPage: true });
    }
    if (w.title.includes('[seed-write.yaml, ja]')) await page.screenshot({ path: path.join(SHOTS, 'walk-seed-ja.png'), fullPage: true });
  }
  expect(problems).to.deep.equal([]);
  await page.close();
});

test('the conformance matrix is as wide as the window at any scroll position, and its headers stay in view', { timeout: 120_000 }, async () => {
  for (const width of [1280, 900]) {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    await page.goto(url('conformance.html'));
    expect(await page.title()).to.equal('exitpath — conformance matrix');
    expect(await page.locator('table.matrix').count()).to.equal(5);
    const fits = () => page.evaluate((): [number, number] => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    const [sw, cw] = await fits();
    expect(sw, `page width at ${width} px`).to.be.at.most(cw);
    const filters = page.locator('#filters');
    for (const [kind, row] of [['exit reason', 'HLT'], ['host syscall', 'io_submit'], ['tracepoint', 'kvm_pio']]) {
      const table = page.locator(`table.matrix[data-kind="${kind}"]`);
      await page.locator(`table.matrix[data-kind="${kind}"] tr.row[data-name="${row}"]`).evaluate((e) => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 200));
      // Both ways: down into the table, and sideways as far as the page goes.
      await page.evaluate(() => window.scrollBy(5000, 0));
      expect(await page.evaluate(() => window.scrollX), 'no sideways scroll').to.equal(0);
      const head = table.locator('thead th.c-name');
      const hb = await head.boundingBox();
      const fb = await filters.boundingBox();
      expect(hb!.y, `${kind}: the table's header under the filters`).to.be.within(fb!.y + fb!.height - 2, fb!.y + fb!.height + 60);
      expect(await inView(page, head)).to.equal(true);
      expect(await inView(page, filters)).to.equal(true);
      const [sw2, cw2] = await fits();
      expect(sw2).to.be.at.most(cw2);
      if (width === 1280 && kind === 'exit reason') await page.screenshot({ path: path.join(SHOTS, 'conformance-matrix-scrolled.png') });
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    if (width === 1280) await page.screenshot({ path: path.join(SHOTS, 'conformance-matrix.png') });
    else await page.screenshot({ path: path.join(SHOTS, 'conformance-matrix-narrow.png') });
    await page.close();
  }
});

test('the matrix: the same classification as `exitpath coverage`, cells that name scenarios and open them in Allure, filters for rows and columns', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url('conformance.html'));
  const io = page.locator('table[data-kind="exit reason"] tr.row[data-name="IO_INSTRUCTION"]');
  expect(await io.getAttribute('data-cov')).to.equal('specified');
  const seedLink = io.locator('td.c-spec a.sc', { hasText: SEED });
  expect(await seedLink.getAttribute('href')).to.match(/^allure\/index\.html#testresult\/[0-9a-f]+$/);
  // A row some scenario walks through is never "no scenario".
  const json = JSON.parse(fs.readFileSync(path.join(REPORTS, 'conformance.json'), 'utf8')) as { rows: { kind: string; name: string; cells: unknown[] }[] };
  for (const r of json.rows.filter((x) => x.cells.length > 0).slice(0, 400)) {
    const cov = await page.locator(`table[data-kind="${r.kind}"] tr.row[data-name="${r.name}"]`).getAttribute('data-cov');
    expect(cov, `${r.kind} ${r.name}`).to.not.equal('no scenario');
  }
  // Rows: only the ones with no scenario.
  await page.locator('input[name=cov][value="specified"]').uncheck();
  await page.locator('input[name=cov][value="walked through"]').uncheck();
  expect(await io.isVisible()).to.equal(false);
  const gaps = page.locator('tr.row[data-cov="no scenario"]');
  expect(await gaps.first().isVisible()).to.equal(true);
  // Columns: hide the walked-through lists.
  await page.locator('input[name=col][value="walk"]').uncheck();
  expect(await page.locator('table[data-kind="exit reason"] th.c-walk').isVisible()).to.equal(false);
  // Scenarios from one folder only.
  await page.locator('input[name=cov][value="specified"]').check();
  await page.locator('#folder').selectOption('seed');
  expect(await io.isVisible()).to.equal(true);
  const shownFolders = await io.locator('td.c-spec .grp:not([hidden])').evaluateAll((els) => els.map((e) => e.getAttribute('data-folder')));
  expect(shownFolders).to.deep.equal(['seed']);
  await seedLink.click();
  await page.locator('.exitpath-walks svg.exitpath-walk').first().waitFor({ timeout: 20_000 });
  expect(await page.locator('.test-result__name').textContent()).to.contain(SEED);
  await page.close();
});

test('the literate chapter is rendered with its prose, in the cucumber report and in Allure', { timeout: 60_000 }, async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url('cucumber.html'));
  const prose = page.getByText('Port I/O is a sensitive instruction', { exact: false }).first();
  await page.getByText('features/chapters/01-one-write-ten-steps.feature.md', { exact: true }).first().waitFor();
  if (!(await prose.isVisible())) await page.getByText('features/chapters/01-one-write-ten-steps.feature.md', { exact: true }).first().click();
  await prose.waitFor();
  expect(await page.getByText('Chapter 1 — One write(), ten steps').count()).to.be.greaterThan(0);
  await prose.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(SHOTS, 'cucumber-chapter.png') });
  await page.goto(url('allure/index.html#suites'));
  await page.getByText('features/chapters', { exact: true }).first().click();
  await page.getByText('Chapter 1 — One write(), ten steps', { exact: true }).first().click();
  await page.getByText('③ — VT-x exits on the port write, and kvm\'s table picks handle_io', { exact: true }).first().click();
  await page.locator('.description__text').getByText('Port I/O is a sensitive instruction', { exact: false }).first().waitFor();
  await page.close();
});
