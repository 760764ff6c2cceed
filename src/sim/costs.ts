// The CPU profile: what each modelled transition costs, in cycles. Every figure is a component of
// a published measurement (its source in brackets); totals such as
// "one cpuid exit" are never typed in anywhere: they are the sum of the transitions the mechanism
// takes, so a path that skips a box is cheaper by exactly what that box costs.

export interface CpuProfile {
  readonly name: string;
  /** Nominal frequency: cycles per nanosecond. */
  readonly ghz: number;
  readonly cost: {
    /** One guest instruction executed natively (no exit). */
    readonly nativeInsn: number;
    /** Hardware VM exit: guest state saved to the VMCS, host state loaded [yulyugin/vmlatency @ 1c7ab8fa, results/*.txt: VMRESUME+exit ≈ 520-640 on Skylake-SP/Cascade Lake, split evenly]. */
    readonly vmExit: number;
    /** Hardware VM entry (VMLAUNCH/VMRESUME) [yulyugin/vmlatency, the other half]. */
    readonly vmEntry: number;
    /** kvm's fixed work around every exit: vmx_vcpu_run after the exit, vmx_handle_exit dispatch, vcpu_enter_guest before the next entry [KVM's minimal exit in kvm-unit-tests vmexit.flat ≈ 1000-1550 (cpuid: Sean Christopherson, <Z1r-Nh0JAQdL_L8n@google.com>, 2024; vmcall on SKX: Wanpeng Li, <1584071718-17163-1-git-send-email-wanpengli@tencent.com>, 2020) minus the hardware round trip]. */
    readonly kvmExitOverhead: number;
    /** An instruction emulated by a kvm handler without the x86 emulator (cpuid, rdmsr/wrmsr, hlt, vmcall) [vmexit.flat cpuid 1018-1053 (Sean Christopherson, <Z1r-Nh0JAQdL_L8n@google.com>, 2024) vs vmcall 1529-1559 (Wanpeng Li, <1584071718-17163-1-git-send-email-wanpengli@tencent.com>, 2020); a small share]. */
    readonly kvmEmulate: number;
    /** A port or MMIO access served by an in-kernel device on the kvm io bus [kvm-unit-tests commit 00bfecaa "vmexit: time the number of cycles for simple PIO" (2012): outl_to_kernel - vmcall = 553; Paolo Bonzini, "[PATCH 00/43] VMX optimizations" (2019, nested): 1.02x]. */
    readonly kvmIoBusDevice: number;
    /** Decoding and emulating an instruction with the x86 emulator (MMIO) [kvm-unit-tests commit 00bfecaa (2012): inl_from_kernel - vmcall ≈ 3300; scaled to the modern minimal exit]. */
    readonly kvmEmulator: number;
    /** kvm's side of returning from KVM_RUN to userspace and coming back in [Michael Roth (AMD), "Re: [PATCH v2] KVM: SVM: use vmsave/vmload for saving/restoring additional host state", 2020-12-16, <20201216151203.utpaitooaer7mdfa@amd.com>: ioctl entry→VMRUN + post-VMRUN→ioctl exit ≈ 1150-1230]. */
    readonly kvmRunRoundTrip: number;
    /** One host syscall entry plus return (syscall/sysret with mitigations). */
    readonly syscall: number;
    /** qemu's KVM_RUN loop: kvm_cpu_exec's post-run work, the exit_reason switch, taking the BQL [kvm-unit-tests commit 00bfecaa (2012): the rest of its 13,000-cycle userspace round trip, scaled to ≈4.5x a modern minimal exit]. */
    readonly qemuExitDispatch: number;
    /** A qemu device model handling one register access (memory-region dispatch) [inl_from_pmtimer - inl_from_qemu: +4041 in kvm-unit-tests commit 00bfecaa (2012), +710 in "[PATCH 00/43] VMX optimizations" (2019)]. */
    readonly qemuDeviceAccess: number;
    /** qemu's virtio-blk: pop a request from the ring and build the I/O [device model work]. */
    readonly qemuVirtioRequest: number;
    /** Delivering an injected interrupt to the guest at VM entry [Wanpeng Li's SKX figures, "KVM: X86: Ultra fast single target IPI fastpath" (2020, IPI 3293-4238) and "KVM: VMX: Tscdeadline timer emulation fastpath" (2020, tscdeadline_immed 2468-4846): interrupt delivery ≈ 1.6-3x a minimal exit, of which the exit itself is most]. */
    readonly irqInjection: number;
    /** Guest kernel work per syscall (entry, vfs, block layer). */
    readonly guestSyscall: number;
    /**
     * A vCPU thread blocked in kvm_vcpu_block, woken and scheduled back in: what halt polling saves
     * [Documentation/virt/kvm/halt-polling.rst: "a trip through the scheduler, normally on the order
     * of a few micro-seconds"; the low end, 2 µs].
     */
    readonly vcpuWakeup: number;
  };
  /** Host storage latency for one request, in ns (a local NVMe SSD write). */
  readonly diskLatencyNs: number;
}

/** Default profile: a 2.5 GHz Skylake-SP server, as in Wanpeng Li's "2.5GHz Skylake server" / SKX figures on the kvm list (2019-2020). */
export const SKYLAKE_SP: CpuProfile = {
  name: 'skylake-sp-2.5ghz',
  ghz: 2.5,
  cost: {
    nativeInsn: 1,
    vmExit: 270,
    vmEntry: 270,
    kvmExitOverhead: 800,
    kvmEmulate: 150,
    kvmIoBusDevice: 400,
    kvmEmulator: 900,
    kvmRunRoundTrip: 1200,
    syscall: 150,
    qemuExitDispatch: 3500,
    qemuDeviceAccess: 300,
    qemuVirtioRequest: 1500,
    irqInjection: 400,
    guestSyscall: 300,
    vcpuWakeup: 5000,
  },
  diskLatencyNs: 20_000,
};
