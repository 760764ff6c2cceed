// Every scenario's disk, as its guest left it, is a whole ext2: the suite is run with
// EXITPATH_CHECK_DISKS=1, so each scenario that passed ends with the guest unmounting its file system
// and the real e2fsck -fn reading the image (steps/ext2.steps.ts). A scenario whose disk is damaged
// fails; one whose disk cannot be checked says why, and only for the reasons the hook knows.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../runner/paths';

const REASONS = [
  'not checked: no machine ran',
  'not checked: the last action did not finish',
  'not checked: the host lost power',
  'not checked: sectors were written behind the file system',
  'not checked: the unmount could not finish',
];

test('after every scenario that passed, an unmount leaves an image e2fsck -fn finds clean', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exitpath-disks-'));
  const log = path.join(dir, 'disks.log');
  const r = spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'exitpath.js'), 'test'], {
    cwd: packageRoot(), encoding: 'utf8',
    env: { ...process.env, EXITPATH_CHECK_DISKS: '1', EXITPATH_CHECK_DISKS_LOG: log },
  });
  expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
  const ran = Number(/^scenarios: (\d+) passed, 0 failed$/m.exec(r.stdout)?.[1]);
  const lines = fs.readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => l.split('\t'));
  fs.rmSync(dir, { recursive: true, force: true });
  // A line per scenario (and per scenario of the runs some CLI scenarios start inside the suite):
  // each was checked clean, or not checked for a reason the hook names.
  expect(lines.length).to.be.at.least(ran);
  const clean = lines.filter(([what]) => what === 'clean').length;
  for (const [what, uri, name] of lines) {
    if (what === 'clean') continue;
    expect(REASONS.some((reason) => what!.startsWith(reason)), `${uri}: ${name}: ${what}`).to.equal(true);
  }
  // The check is the rule, not the exception: most scenarios boot a guest that writes its ext2.
  expect(clean, 'scenarios whose disk was checked').to.be.greaterThan(ran / 2);
});
