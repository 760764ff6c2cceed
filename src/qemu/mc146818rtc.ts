// hw/rtc/mc146818rtc.c (QEMU 9.0): the CMOS real-time clock at ports 0x70 (index) and 0x71 (data).
// rtc_realizefn registers the pair as one region with flush_coalesced_mmio set, and the index port
// alone as a coalesced subregion ("rtc-index", memory_region_add_coalescing): with
// KVM_CAP_COALESCED_PIO kvm keeps index writes in its ring instead of exiting, and qemu replays the
// ring before it touches the RTC again (prepare_mmio_access → qemu_flush_coalesced_mmio_buffer), so
// a data access always sees the index the guest wrote. qemu-kvm 0.14's RTC had no coalescing.
//
// Simplified: the clock's time is the model's own — 2013-04-13 00:00:00 UTC (the talk's date) plus
// simulated time; no host wall clock is read. Writes to the time, alarm and control registers are
// kept as CMOS bytes and change nothing; the update-ended, alarm and periodic interrupts (IRQ 8)
// are not modelled.

import type { MemoryRegion } from './memory';

export const RTC_ISA_BASE = 0x70;
const RTC_SECONDS = 0, RTC_MINUTES = 2, RTC_HOURS = 4, RTC_DAY_OF_WEEK = 6, RTC_DAY_OF_MONTH = 7, RTC_MONTH = 8, RTC_YEAR = 9;
const RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_D = 0x0d, RTC_CENTURY = 0x32;
const REG_B_24H = 0x02;
const REG_D_VRT = 0x80;
/** 2013-04-13 00:00:00 UTC, in seconds since the Unix epoch. */
const RTC_BASE_TIME = Date.UTC(2013, 3, 13) / 1000;

const bcd = (n: number): number => ((Math.floor(n / 10) % 10) << 4) | (n % 10);

export class Mc146818Rtc {
  /** s->cmos_index and s->cmos_data[128]. */
  private index = 0;
  private readonly cmos = new Uint8Array(128);
  constructor(private readonly nowNs: () => number) {
    // rtc_reset / rtc_realizefn: 32.768 kHz divider with 1024 Hz rate, 24-hour BCD, valid RAM and time.
    this.cmos[RTC_REG_A] = 0x26;
    this.cmos[RTC_REG_B] = REG_B_24H;
    this.cmos[RTC_REG_D] = REG_D_VRT;
  }

  /** rtc_update_time + rtc_set_cmos: the date registers, in BCD, from the clock. */
  private time(reg: number): number {
    const d = new Date((RTC_BASE_TIME + Math.floor(this.nowNs() / 1e9)) * 1000);
    switch (reg) {
      case RTC_SECONDS: return bcd(d.getUTCSeconds());
      case RTC_MINUTES: return bcd(d.getUTCMinutes());
      case RTC_HOURS: return bcd(d.getUTCHours());
      case RTC_DAY_OF_WEEK: return bcd(d.getUTCDay() + 1);
      case RTC_DAY_OF_MONTH: return bcd(d.getUTCDate());
      case RTC_MONTH: return bcd(d.getUTCMonth() + 1);
      case RTC_YEAR: return bcd(d.getUTCFullYear() % 100);
      default: return bcd(Math.floor(d.getUTCFullYear() / 100));
    }
  }

  /** cmos_ioport_write: the index port keeps 7 bits; the data port writes the indexed byte. */
  write(addr: number, val: number): void {
    if ((addr & 1) === 0) this.index = val & 0x7f;
    else this.cmos[this.index] = val & 0xff;
  }

  /** cmos_ioport_read: the index port reads 0xff; the data port the indexed register. */
  read(addr: number): number {
    if ((addr & 1) === 0) return 0xff;
    const i = this.index;
    if (i === RTC_SECONDS || i === RTC_MINUTES || i === RTC_HOURS || (i >= RTC_DAY_OF_WEEK && i <= RTC_YEAR) || i === RTC_CENTURY) return this.time(i);
    return this.cmos[i]!;
  }

  /** The "rtc" region: both ports, flush_coalesced_mmio; the index port coalesced when `coalesce`. */
  region(coalesce: boolean): MemoryRegion {
    return {
      name: 'rtc', owner: 'mc146818rtc', base: RTC_ISA_BASE, size: 2, flushCoalesced: coalesce,
      coalesced: coalesce ? [{ offset: 0, size: 1 }] : undefined,
      ops: { read: (a) => this.read(a), write: (a, v) => this.write(a, v) },
    };
  }
}
