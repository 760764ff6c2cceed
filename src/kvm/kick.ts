// virt/kvm/kvm_main.c: kvm_vcpu_wake_up and kvm_vcpu_kick — how one context makes a vCPU notice an
// event: a vCPU asleep in kvm_vcpu_block is woken; a vCPU in guest mode on another CPU gets an IPI.
//
// "In guest mode" in the model: the vCPU's CPU is parked inside the guest at the simulator's
// breakpoint (VmxCpu.frozen) while other threads run. The IPI arrives at that CPU as an interrupt for
// the host, and its thread runs again to take it at the next instruction boundary.

import { KVM_REQ_EVENT, KVM_REQ_NMI } from './kvm_host';
import type { KvmVcpu } from './vcpu';

/** RESCHEDULE_VECTOR (arch/x86/include/asm/irq_vectors.h): the IPI kvm_vcpu_kick sends a vCPU in guest mode. */
export const RESCHEDULE_VECTOR = 0xfd;

/** kvm_vcpu_wake_up: wake the vCPU's thread if it sleeps in kvm_vcpu_block (rcuwait_wake_up); true if it did. */
export function kvm_vcpu_wake_up(vcpu: KvmVcpu): boolean {
  return vcpu.wq.wakeAll() > 0;
}

/**
 * An interrupt for the host at the physical CPU a vCPU runs on (smp_send_reschedule, or
 * apic->send_IPI_mask with the posted-interrupt vector): a vCPU in guest mode takes it at its next
 * instruction boundary.
 */
export function kvm_send_ipi_to_guest_mode(vcpu: KvmVcpu, vector: number): boolean {
  if (!vcpu.cpu.frozen) return false;
  vcpu.cpu.hostInterrupt(vector);
  if (vcpu.thread) vcpu.vm.env.sched.thaw(vcpu.thread);
  return true;
}

/**
 * kvm_vcpu_kick: wake a blocked vCPU; one in guest mode gets a reschedule IPI, which its CPU takes
 * as an EXTERNAL_INTERRUPT exit (the event is then injected at the next entry). A vCPU that kicks
 * itself (cpu == me) needs neither.
 */
export function kvm_vcpu_kick(vcpu: KvmVcpu): void {
  vcpu.arch.requests |= KVM_REQ_EVENT;
  if (kvm_vcpu_wake_up(vcpu)) return;
  kvm_send_ipi_to_guest_mode(vcpu, RESCHEDULE_VECTOR);
}

/** kvm_inject_nmi (KVM_NMI, or an NMI IPI): queue an NMI; process_nmi makes it pending at the next entry. */
export function kvm_inject_nmi(vcpu: KvmVcpu): void {
  vcpu.arch.nmi_queued++;
  vcpu.arch.requests |= KVM_REQ_NMI;
  kvm_vcpu_kick(vcpu);
}
