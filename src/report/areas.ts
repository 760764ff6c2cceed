// The seed's areas, as the report groups the specification: the walk itself, the exits, the I/O
// paths, SMP, the host's faults, the hostile guest, bad input. A feature's area follows from its
// folder under features/. The numbers keep the report's lists in the order a reader takes them.

const AREAS: [readonly string[], string][] = [
  [['seed', 'chapters', 'walk', 'golden', 'ja'], '1. The walk'],
  [['exits'], '2. Exits'],
  [['io-paths', 'io', 'workload'], '3. I/O paths'],
  [['smp'], '4. SMP'],
  [['faults'], '5. Faults'],
  [['hostile'], '6. Hostile guest'],
  [['input'], '7. Bad input'],
];

/** The area (Allure's epic) of a feature in features/<folder>/. */
export function areaOf(folder: string): string {
  return AREAS.find(([folders]) => folders.includes(folder))?.[1] ?? `8. features/${folder}`;
}

/** The scenario a learner starts with: the seed's ten steps. */
export const SEED_SCENARIO = { uri: 'features/seed/write-walk.feature', name: 'The ten steps of the talk' } as const;
