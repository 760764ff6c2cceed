// arch/x86/kvm/i8254.c (Linux 6.1): the in-kernel 8254 PIT that KVM_CREATE_PIT2 makes, on
// KVM_PIO_BUS at 0x40-0x43 (kvm_create_pit: KVM_PIT_BASE_ADDRESS, KVM_PIT_MEM_LENGTH 4). The
// speaker port 0x61 is registered only with KVM_PIT_SPEAKER_DUMMY, which qemu does not ask for.
// The counters count down at 1.193182 MHz from the moment they are loaded, in simulated time.
//
// Simplified: channel 0's timer interrupt (the hrtimer that injects IRQ 0 in modes 2/3) is not
// armed; the guest here keeps time with its local APIC, and channel 0 only answers reads.

import type { Clock } from '../sim/clock';
import { defineEvent, type Tracer } from '../trace/events';
import type { KvmIoDevice } from './io_bus';

export const KVM_PIT_BASE_ADDRESS = 0x40;
export const KVM_PIT_MEM_LENGTH = 4;
export const KVM_SPEAKER_BASE_ADDRESS = 0x61;
/** KVM_PIT_FREQ: the 8254's input clock, Hz. */
export const KVM_PIT_FREQ = 1193182;

const EV_PIT_WRITE = defineEvent('call', 'kvm', 'kvm', 'pit_ioport_write', ['addr:hex', 'val:hex']);

/** struct kvm_kpit_channel_state */
interface Channel {
  count: number;
  latchedCount: number;
  countLatched: number;
  statusLatched: boolean;
  status: number;
  readState: number;
  writeState: number;
  writeLatch: number;
  rwMode: number;
  mode: number;
  bcd: number;
  gate: number;
  countLoadTimeNs: number;
}

const RW_STATE_LSB = 1, RW_STATE_MSB = 2, RW_STATE_WORD0 = 3, RW_STATE_WORD1 = 4;

export class KvmPit implements KvmIoDevice {
  readonly name = 'kvm-pit';
  readonly channels: Channel[] = [0, 1, 2].map((i) => ({
    count: 0x10000, latchedCount: 0, countLatched: 0, statusLatched: false, status: 0, readState: RW_STATE_LSB,
    writeState: RW_STATE_LSB, writeLatch: 0, rwMode: RW_STATE_LSB, mode: 0, bcd: 0, gate: i === 2 ? 0 : 1, countLoadTimeNs: 0,
  }));
  constructor(private readonly clock: Clock, private readonly t: Tracer) {}

  /** pit_get_count: what the counter reads now (modes 0/1/4/5 count down once; 2 and 3 reload). */
  private getCount(c: Channel): number {
    const ticks = Math.floor(((this.clock.now - c.countLoadTimeNs) * KVM_PIT_FREQ) / 1e9);
    switch (c.mode) {
      case 0: case 1: case 4: case 5: return (c.count - ticks) & 0xffff;
      case 3: return c.count - ((2 * ticks) % c.count);
      default: return c.count - (ticks % c.count);
    }
  }

  /** pit_load_count */
  private loadCount(c: Channel, val: number): void {
    c.count = val === 0 ? 0x10000 : val;
    c.countLoadTimeNs = this.clock.now;
  }

  /** pit_ioport_write: the control word at 0x43 (latch command or mode), counts at 0x40-0x42. */
  write(addr: number, len: number, val: number): number {
    if (len !== 1) return -95;
    if (this.t.on) this.t.rec(EV_PIT_WRITE, -1, addr, val);
    val &= 0xff;
    const port = addr - KVM_PIT_BASE_ADDRESS;
    if (port === 3) {
      const channel = val >> 6;
      if (channel === 3) {
        // Read-back command.
        for (let i = 0; i < 3; i++) {
          if (!(val & (2 << i))) continue;
          const c = this.channels[i]!;
          if (!(val & 0x20) && !c.countLatched) { c.latchedCount = this.getCount(c); c.countLatched = c.rwMode; }
          if (!(val & 0x10) && !c.statusLatched) { c.status = (c.rwMode << 4) | (c.mode << 1) | c.bcd; c.statusLatched = true; }
        }
        return 0;
      }
      const c = this.channels[channel]!;
      const access = (val >> 4) & 3;
      if (access === 0) { if (!c.countLatched) { c.latchedCount = this.getCount(c); c.countLatched = c.rwMode; } return 0; }
      c.rwMode = access;
      c.readState = access;
      c.writeState = access;
      c.mode = (val >> 1) & 7;
      if (c.mode > 5) c.mode -= 4;
      c.bcd = val & 1;
      return 0;
    }
    const c = this.channels[port]!;
    switch (c.writeState) {
      case RW_STATE_LSB: this.loadCount(c, val); break;
      case RW_STATE_MSB: this.loadCount(c, val << 8); break;
      case RW_STATE_WORD0: c.writeLatch = val; c.writeState = RW_STATE_WORD1; break;
      default: this.loadCount(c, c.writeLatch | (val << 8)); c.writeState = RW_STATE_WORD0; break;
    }
    return 0;
  }

  /** pit_ioport_read: a latched status or count first, else the running count, byte by byte. */
  read(addr: number, len: number): number | undefined {
    const port = addr - KVM_PIT_BASE_ADDRESS;
    if (len !== 1 || port === 3) return port === 3 ? 0 : undefined;
    const c = this.channels[port]!;
    if (c.statusLatched) { c.statusLatched = false; return c.status; }
    if (c.countLatched) {
      switch (c.countLatched) {
        case RW_STATE_MSB: c.countLatched = 0; return (c.latchedCount >> 8) & 0xff;
        case RW_STATE_WORD0: c.countLatched = RW_STATE_MSB; return c.latchedCount & 0xff;
        default: c.countLatched = 0; return c.latchedCount & 0xff;
      }
    }
    const count = this.getCount(c);
    switch (c.readState) {
      case RW_STATE_MSB: return (count >> 8) & 0xff;
      case RW_STATE_WORD0: c.readState = RW_STATE_WORD1; return count & 0xff;
      case RW_STATE_WORD1: c.readState = RW_STATE_WORD0; return (count >> 8) & 0xff;
      default: return count & 0xff;
    }
  }
}
