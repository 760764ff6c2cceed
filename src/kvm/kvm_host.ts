// include/linux/kvm_host.h and arch/x86/include/asm/kvm_host.h: the request bits and run states a
// vcpu carries, shared by the run loop, the vendor code and the in-kernel irqchip.

import * as uapi from '../uapi/kvm';

// Plain constants, not re-exports: a re-export compiles to a getter, and the run loop reads these on
// every VM entry.
export const KVM_MP_STATE_RUNNABLE = uapi.KVM_MP_STATE_RUNNABLE;
export const KVM_MP_STATE_UNINITIALIZED = uapi.KVM_MP_STATE_UNINITIALIZED;
export const KVM_MP_STATE_INIT_RECEIVED = uapi.KVM_MP_STATE_INIT_RECEIVED;
export const KVM_MP_STATE_HALTED = uapi.KVM_MP_STATE_HALTED;

/** kvm_make_request bits. */
export const KVM_REQ_EVENT = 1 << 0;
/** KVM_REQ_NMI: process_nmi moves queued NMIs to pending before the next entry. */
export const KVM_REQ_NMI = 1 << 1;
/** KVM_REQ_IOAPIC_EOI_EXIT: tell a userspace IOAPIC (split irqchip) about an EOI. */
export const KVM_REQ_IOAPIC_EOI_EXIT = 1 << 2;
/** KVM_REQ_UPDATE_CPU_DIRTY_LOGGING: turn PML on or off before the next entry (a slot's dirty logging changed). */
export const KVM_REQ_UPDATE_CPU_DIRTY_LOGGING = 1 << 3;

/** vcpu->arch.switch_db_regs: KVM_DEBUGREG_WONT_EXIT, the guest owns DR0-7 until the next exit. */
export const KVM_DEBUGREG_WONT_EXIT = 2;
