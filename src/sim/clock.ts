// The one simulated clock. Time advances only when a modelled transition is taken; its cost in
// cycles comes from the CPU profile (sim/costs.ts), so t_ns follows from the mechanism.

export class Clock {
  /** Simulated nanoseconds since the machine was created. */
  now = 0;
  /** Cycles elapsed, at the profile's frequency. */
  cycles = 0;
  constructor(readonly ghz: number) {}
  /** Spend `cycles` of CPU time. */
  spend(cycles: number): void {
    this.cycles += cycles;
    this.now = this.cycles / this.ghz;
  }
  /** Jump forward to `t` ns (idle time, waiting for a timer); never backwards. */
  advanceTo(t: number): void {
    if (t > this.now) { this.now = t; this.cycles = t * this.ghz; }
  }
}
