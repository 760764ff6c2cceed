// Running Allure 2's generator (allure-commandline, on Java) with a small plugin of our own. Allure
// 2.46's pages have no widget API for scripts, but a plugin's static files are loaded into every
// report, the single-file one too (inlined): the plugin's stylesheet lists a scenario's links one
// per line and lets its diagram keep its natural size, and its script puts the seed's walk (①–⑩)
// and the coverage numbers at the top of the Overview. The generator finds plugins in its home
// directory, so the report gets a home of its own (reports/.allure-home): the bundled Behaviors and
// Packages plugins, linked, and this one.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface OverviewWidget {
  /** The widget's HTML: the seed's diagram, the coverage numbers, links. */
  html: string;
  /** Where the seed scenario sits in Allure's Suites tree, to link to its page. */
  seed?: { parentSuite: string; suite: string; name: string };
}

const PLUGIN_ID = 'exitpath';
const BUNDLED = ['behaviors-plugin', 'packages-plugin'];

function commandlineDist(): string {
  return path.join(path.dirname(require.resolve('allure-commandline/package.json')), 'dist');
}

/** A home for the generator with the bundled plugins the report uses and ours. */
export function writeAllureHome(home: string, overview: OverviewWidget): void {
  const dist = commandlineDist();
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(path.join(home, 'config'), { recursive: true });
  fs.mkdirSync(path.join(home, 'plugins', PLUGIN_ID, 'static'), { recursive: true });
  for (const p of BUNDLED) {
    const from = path.join(dist, 'plugins', p);
    const to = path.join(home, 'plugins', p);
    try { fs.symlinkSync(from, to, 'dir'); } catch { fs.cpSync(from, to, { recursive: true }); }
  }
  fs.writeFileSync(path.join(home, 'config', 'allure.yml'), `plugins:\n${[...BUNDLED, PLUGIN_ID].map((p) => `  - ${p}\n`).join('')}`);
  fs.writeFileSync(path.join(home, 'plugins', PLUGIN_ID, 'allure-plugin.yml'),
    `id: ${PLUGIN_ID}\nname: exitpath\ndescription: The seed's walk on the Overview; each scenario's walk at its natural size, its links one per line\njsFiles:\n  - exitpath.js\ncssFiles:\n  - exitpath.css\n`);
  fs.writeFileSync(path.join(home, 'plugins', PLUGIN_ID, 'static', 'exitpath.css'), PLUGIN_CSS);
  fs.writeFileSync(path.join(home, 'plugins', PLUGIN_ID, 'static', 'exitpath.js'), pluginScript(overview));
}

/** `allure generate --single-file` with that home; one line on failure. */
export function generateAllure(o: { resultsDir: string; outDir: string; home: string }): { ok: boolean; message?: string } {
  const dist = commandlineDist();
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const cp = [path.join(dist, 'lib', '*'), path.join(dist, 'lib', 'config')].join(path.delimiter);
  const r = spawnSync(java, ['-cp', cp, 'io.qameta.allure.CommandLine', 'generate', o.resultsDir, '-o', o.outDir, '--clean', '--single-file', '--name', 'exitpath'], {
    env: { ...process.env, APP_HOME: o.home, ALLURE_NO_ANALYTICS: 'true' }, encoding: 'utf8',
  });
  if (r.error) return { ok: false, message: `allure generate could not start Java (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}): it needs Java 8 or later (\`java -version\`)` };
  const index = path.join(o.outDir, 'index.html');
  if (r.status !== 0 || !fs.existsSync(index)) {
    const last = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').filter(Boolean).pop() ?? `status ${r.status}`;
    return { ok: false, message: `allure generate failed: ${last}` };
  }
  return { ok: true };
}

/** The single-file report's data files, by name (data/suites.json, data/test-cases/<uid>.json, …). */
export function reportData(indexHtml: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of indexHtml.matchAll(/d\('([^']+)','([^']*)'\)/g)) out.set(m[1]!, m[2]!);
  return out;
}

/** Each scenario's page in the generated report: the label `label` of every test case → its uid. */
export function allureUids(indexHtml: string, label: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, b64] of reportData(indexHtml)) {
    if (!name.startsWith('data/test-cases/')) continue;
    const tc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as { uid: string; labels?: { name: string; value: string }[] };
    const id = tc.labels?.find((l) => l.name === label)?.value;
    if (id) out.set(id, tc.uid);
  }
  return out;
}

const PLUGIN_CSS = `
.pane__section span.testresult-link{display:block;margin:2px 0}
.pane__section span.testresult-link:not(:last-child):after{content:none}
.exitpath-svg{overflow-x:auto;max-width:100%;margin:4px 0 12px}
.exitpath-svg svg{max-width:none;height:auto;display:block}
.exitpath-walks{padding-top:4px}
.description__text p{margin:6px 0;line-height:1.5;max-width:60em}
.description__text pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;line-height:1.4;padding:6px 8px;overflow-x:auto;background:rgba(127,127,127,.08)}
.description__text h4{margin:14px 0 4px}
.exitpath-overview{flex:1 0 100%;width:100%;margin:0 0 16px;padding:12px 16px;box-sizing:border-box}
.exitpath-overview h2{font-size:18px;margin:0 0 6px}
.exitpath-overview p{margin:4px 0 8px;line-height:1.5}
.exitpath-overview table{border-collapse:collapse;margin:8px 0;font-size:13px}
.exitpath-overview td,.exitpath-overview th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
.exitpath-overview .gap{color:#c62828;font-weight:bold}
`;

function pluginScript(w: OverviewWidget): string {
  return String.raw`(function(){
var HTML=${JSON.stringify(w.html)},SEED=${JSON.stringify(w.seed ?? null)};
function bytes(d){var b=atob(d),u=new Uint8Array(b.length);for(var i=0;i<b.length;i++)u[i]=b.charCodeAt(i);return new TextDecoder().decode(u);}
function text(p){
  var d=window.reportData&&window.reportData[p];
  if(d){try{return Promise.resolve(bytes(d));}catch(e){return Promise.reject(e);}}
  return fetch(p).then(function(r){if(!r.ok)throw new Error(p+': '+r.status);return r.text();});
}
function json(p){return text(p).then(JSON.parse);}
var seedUid=null;
function findSeed(){
  if(!SEED)return Promise.resolve(null);
  if(seedUid)return Promise.resolve(seedUid);
  return json('data/suites.json').then(function(t){
    var path=[SEED.parentSuite,SEED.suite],n=t;
    for(var k=0;k<path.length&&n;k++)n=(n.children||[]).filter(function(c){return c.name===path[k];})[0];
    var leaf=n&&(n.children||[]).filter(function(c){return c.name===SEED.name&&!c.children;})[0];
    seedUid=leaf?leaf.uid:null;return seedUid;
  }).catch(function(){return null;});
}
// The Overview: the seed's walk and the coverage numbers above the widgets.
function overview(){
  var grid=document.querySelector('allure-widgets-grid');
  if(!grid||!grid.querySelector('.widget[data-id=summary]')||grid.querySelector('.exitpath-overview'))return;
  var box=document.createElement('div');
  box.className='exitpath-overview island';
  box.innerHTML=HTML;
  grid.insertBefore(box,grid.firstChild);
  findSeed().then(function(uid){
    [].forEach.call(box.querySelectorAll('a[data-seed]'),function(a){if(uid)a.setAttribute('href','#testresult/'+uid);});
  });
}
// A scenario's page: its walks (walk.svg, walk-2.svg, …) drawn at the top (under a failure's
// message), at their natural size.
function uidOfRoute(){var h=location.hash.replace(/^#/,'').split('?')[0].split('/').filter(Boolean);return h.length>1?h[h.length-1]:null;}
function walks(tc){
  var out=[];
  function visit(s){(s.attachments||[]).forEach(function(a){if(/^walk(-\d+)?\.svg$/.test(a.name))out.push(a);});(s.steps||[]).forEach(visit);}
  if(tc.testStage)visit(tc.testStage);
  return out;
}
function scenario(){
  var view=document.querySelector('allure-test-result-view .test-result-overview');
  if(!view)return;
  var uid=uidOfRoute();
  var have=view.querySelector('.exitpath-walks');
  // A failure's message comes first, then the walk.
  var alert=view.querySelector(':scope > .alert__wide');
  var at=alert?alert.nextSibling:view.firstChild;
  if(have&&have.getAttribute('data-uid')===uid){if(alert&&have.previousElementSibling!==alert)view.insertBefore(have,alert.nextSibling);return;}
  if(!uid)return;
  if(have)have.remove();
  var box=document.createElement('div');
  box.className='pane__section exitpath-walks';
  box.setAttribute('data-uid',uid);
  view.insertBefore(box,at);
  json('data/test-cases/'+uid+'.json').then(function(tc){
    return Promise.all(walks(tc).map(function(a){return text('data/attachments/'+a.source);}));
  }).then(function(svgs){
    if(!svgs.length){box.remove();return;}
    box.innerHTML=svgs.map(function(s){return '<div class="exitpath-svg">'+s.replace(/^<\?xml[^>]*>/,'')+'</div>';}).join('');
  }).catch(function(){box.remove();});
}
function place(){overview();scenario();}
new MutationObserver(place).observe(document.body,{childList:true,subtree:true});
window.addEventListener('hashchange',place);
place();
})();
`;
}
