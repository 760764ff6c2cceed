// The layer rules: a layer imports itself, its neighbours' interfaces, sim/, trace/ and the
// constants (uapi/, and ext2/: the on-disk format the guest's file system, the model's mkfs and the
// image reader share); src/ never imports steps/, features/ or cucumber. stack.ts, walk.ts
// and cli/ are the composition root and may import every layer.
const layers = ['guest', 'vmx', 'kvm', 'qemu', 'vhost', 'host'];
// Who may import whom (besides sim/, trace/, uapi/, and itself).
const allowed = {
  guest: ['vmx'],          // guest code yields instructions to the CPU (vmx/insn, the GuestCode type)
  vmx: [],                 // the CPU knows nothing of kvm or the guest
  kvm: ['vmx', 'host'],    // kvm programs VT-x; it implements the host kernel's file interface
  qemu: ['host'],          // qemu talks to kvm only through host syscalls and the uapi
  vhost: ['host'],         // a vhost-user backend is another host process: syscalls only
  host: [],
};
const forbidden = [];
for (const from of layers) {
  for (const to of layers) {
    if (to === from || allowed[from].includes(to)) continue;
    forbidden.push({
      name: `no-${from}-to-${to}`,
      comment: `${from}/ may not import ${to}/: layers talk only through the real interfaces`,
      severity: 'error',
      from: { path: `^src/${from}/` },
      to: { path: `^src/${to}/` },
    });
  }
  forbidden.push({
    name: `no-${from}-to-root`, severity: 'error', comment: `${from}/ may not import the composition root`,
    from: { path: `^src/${from}/` }, to: { path: '^src/(stack|walk|config)\\.ts$|^src/cli/' },
  });
}
forbidden.push({
  name: 'src-not-to-tests', severity: 'error', comment: 'src/ never imports steps/, features/ or cucumber',
  from: { path: '^src/' }, to: { path: '^(steps|features|test)/|@cucumber' },
});
forbidden.push({ name: 'no-circular', severity: 'error', comment: 'no import cycles (type-only cycles between a struct and its owner are fine)', from: { path: '^src/' }, to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } } });
module.exports = {
  forbidden,
  options: { doNotFollow: { path: 'node_modules' }, tsConfig: { fileName: 'tsconfig.json' }, tsPreCompilationDeps: true },
};
