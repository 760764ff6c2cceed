// Every configuration the schema accepts either boots and runs a write, or is refused with a
// ConfigError before anything is built (the schema, the combinations qemu refuses, or "not modelled
// yet"): no value of the schema reaches a machine that cannot start.

import { test } from 'node:test';
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, SCHEMA, notModelled, parseConfig } from '../src/config';
import { writeAction } from '../src/guest/actions';
import { Stack } from '../src/stack';

interface Prop { enum?: readonly unknown[]; type?: string | readonly string[]; minimum?: number; maximum?: number; multipleOf?: number; pattern?: string; properties?: Record<string, Prop> }

/** Values for one schema property: every enum value, the bounds of a range and values inside it. */
function valueOf(name: string, p: Prop): fc.Arbitrary<unknown> {
  if (p.enum) return fc.constantFrom(...p.enum);
  if (p.properties) return objectOf(p.properties);
  if (p.type === 'boolean') return fc.boolean();
  if (p.type === 'integer') {
    const step = p.multipleOf ?? 1;
    const lo = Math.ceil((p.minimum ?? 0) / step), hi = Math.floor((p.maximum ?? 2 ** 31) / step);
    return fc.oneof(fc.constantFrom(lo, hi, lo + 1, hi - 1), fc.integer({ min: lo, max: hi })).map((k) => k * step);
  }
  if (name === 'cpu') return fc.subarray(['x2apic', 'rdrand', 'rdseed', 'invpcid', 'umip', 'pku', 'xsave']).map((f) => ['host', ...f.map((x) => `-${x}`)].join(','));
  if (name === 'image') return fc.constant(null);   // a host file is checked when the file is named
  throw new Error(`schema property '${name}' has no generator: add one`);
}

function objectOf(props: Record<string, Prop>): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(props).map(([k, p]) => [k, valueOf(k, p)] as const);
  return fc.record(Object.fromEntries(entries), { requiredKeys: [] });
}

test('every configuration the schema accepts boots and runs a write, or is refused with one ConfigError', () => {
  const schema = SCHEMA as unknown as { properties: Record<string, Prop> };
  // The edges first: the largest RAM with each disk transport, and every combination the refusals name.
  const edges: Record<string, unknown>[] = [
    { memory_mib: 4096 }, { memory_mib: 4096, disk: { transport: 'virtio-pci-modern' } }, { memory_mib: 4076 }, { memory_mib: 4077 },
    { memory_mib: 4070, disk: { transport: 'virtio-pci-modern' } }, { memory_mib: 4076, disk: { vectors: 2 } }, { memory_mib: 16, vcpus: 64 },
    { memory_mib: 4096, irqchip: 'userspace' }, { disk: { size_mib: 65536 } }, { disk: { io_base: 0xffc0 } },
  ];
  let booted = 0, refused = 0;
  const check = (c: Record<string, unknown>): boolean => {
    const text = stringify(c);
    let config;
    try {
      config = parseConfig(text, 'vm.yaml');
      const nm = notModelled(config);
      if (nm) throw new ConfigError(nm);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw new Error(`${text}: refused with a ${(e as Error).name}, not a ConfigError: ${(e as Error).message}`);
      refused++;
      return true;
    }
    let s: Stack;
    try { s = new Stack(config); } catch (e) { throw new Error(`the schema accepts this configuration, but the machine does not boot:\n${text}${(e as Error).message}`); }
    const o = s.submit(writeAction(new TextEncoder().encode('hi'), '/x'));
    expect(o.state, `${text}${o.why ?? ''}`).to.equal('done');
    expect(o.result!.value, text).to.equal(2);
    expect(s.problems(), text).to.deep.equal([]);
    booted++;
    return true;
  };
  for (const e of edges) check(e);
  fc.assert(fc.property(objectOf(schema.properties), check), { numRuns: 300, seed: 12 });
  expect(booted, 'configurations that booted').to.be.greaterThan(40);
  expect(refused, 'configurations refused').to.be.greaterThan(10);
});
