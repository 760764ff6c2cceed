// Then: what the guest process or instruction got back.

import { Then } from '@cucumber/cucumber';
import { expect } from 'chai';
import type { ExitpathWorld } from './support/world';

Then(/^the (?:write|read|call|instruction) returns (\d+)$/, function (this: ExitpathWorld, n: string) {
  const r = this.last.summary.guestResult;
  expect(r.value, r.errno ? `it failed with ${r.errno}` : '').to.equal(Number(n));
});

Then(/^the instruction returns (0x[0-9a-fA-F]+)$/, function (this: ExitpathWorld, hex: string) {
  expect('0x' + this.last.summary.guestResult.value.toString(16)).to.equal(hex.toLowerCase());
});

Then('the call fails with {word}', function (this: ExitpathWorld, errno: string) {
  expect(this.last.summary.guestResult.errno).to.equal(errno);
});

Then('the guest takes a {word} fault', function (this: ExitpathWorld, fault: string) {
  expect(this.last.summary.guestResult.fault).to.equal(fault);
});

Then('the process reads {string}', function (this: ExitpathWorld, text: string) {
  expect(new TextDecoder().decode(this.last.data ?? new Uint8Array(0))).to.equal(text);
});
