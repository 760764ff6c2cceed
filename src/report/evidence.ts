// A scenario's evidence for the report, made from its recorded walks: the sequence diagram, the
// narrated walk, the trace as JSON and as kvm tracepoint text, and the tags and source links Allure
// shows. Nothing here runs the model; it only formats what the trace says.

import type { VmConfig } from '../config';
import { LAYERS, type Layer } from '../trace/events';
import { ftraceText } from '../trace/ftrace';
import { narrate } from '../trace/narrative';
import type { Summary } from '../trace/query';
import type { TraceEvent } from '../trace/recorder';
import { sequenceSvg } from '../trace/svg';
import { sourceLinks, type SourceLink } from './sources';

export interface ScenarioWalk { action: string; events: TraceEvent[]; summary: Summary }

export interface Attachment { fileName: string; mediaType: string; body: string }

export interface Evidence {
  attachments: Attachment[];
  /** Allure labels: layer (each box the walk entered), exitReason, userspaceExit, profile. */
  labels: { name: string; value: string }[];
  tags: string[];
  parameters: { name: string; value: string }[];
  links: SourceLink[];
}

/** The conformance matrix page, relative to an Allure test page (reports/allure/index.html). */
export const MATRIX_HREF = '../conformance.html';

/** The file name under which the trace JSON is attached; the matrix reads it back. */
export const TRACE_ATTACHMENT = 'trace.json';

/** Functions inside a box worth a link besides the crossings: where each box decides where to go. */
const KEY_FUNCTIONS = new Set(['virtio_queue_rq', 'vp_notify', 'kvm_cpu_exec', 'kvm_main_loop_cpu', 'kvm_handle_io',
  'virtio_blk_handle_output', 'laio_co_submit', 'laio_submit', 'kvm_vcpu_block']);

/** A walk's title: the scenario, and the step that ran it. */
export const walkTitle = (scenario: string, w: { action: string }): string => (w.action ? `${scenario}: ${w.action}` : scenario);

/**
 * A walk longer than this (an exit storm, a hundred writes, an fsync of a hundred requests) is
 * attached by its first events, so that no attachment of a report passes about a megabyte; its
 * summary still covers all of it.
 */
export const MAX_ATTACHED_EVENTS = 5_000;

/** The part of a walk a report attaches: all of it, or its first MAX_ATTACHED_EVENTS events. */
const shown = (w: ScenarioWalk): ScenarioWalk => (w.events.length <= MAX_ATTACHED_EVENTS ? w : { ...w, events: w.events.slice(0, MAX_ATTACHED_EVENTS) });

export function scenarioEvidence(s: { scenario: string; config: VmConfig; walks: ScenarioWalk[]; lang?: 'en' | 'ja' }): Evidence {
  return { attachments: scenarioAttachments(s), ...scenarioFacts(s) };
}

/** The files a scenario attaches: per walk the diagram, the narrative and the tracepoint text; then the trace. */
export function scenarioAttachments(s: { scenario: string; config: VmConfig; walks: ScenarioWalk[]; lang?: 'en' | 'ja' }): Attachment[] {
  const many = s.walks.length > 1;
  const attachments: Attachment[] = [];
  const era = s.config.profile;
  const lang = s.lang ?? 'en';
  s.walks.forEach((whole, i) => {
    const w = shown(whole);
    const n = many ? `-${i + 1}` : '';
    const cut = whole.events.length > w.events.length ? ` (the first ${w.events.length} of ${whole.events.length} events)` : '';
    const title = walkTitle(s.scenario, w) + cut;
    attachments.push({ fileName: `walk${n}.svg`, mediaType: 'image/svg+xml', body: sequenceSvg(w.events, { title, lang }) });
    attachments.push({ fileName: `walk${n}.txt`, mediaType: 'text/plain', body: narrate(`${title}  (profile ${era}, irqchip ${s.config.irqchip})`, w.events, w.summary, false, lang) });
    attachments.push({ fileName: `kvm-trace${n}.txt`, mediaType: 'text/plain', body: ftraceText(w.events, { era }) || '(no kvm tracepoint fired on this walk)\n' });
  });
  attachments.push({
    fileName: TRACE_ATTACHMENT, mediaType: 'application/json',
    body: JSON.stringify({ config: s.config, walks: s.walks.map(shown).map((w) => ({ action: w.action, events: w.events, summary: w.summary })) }),
  });
  return attachments;
}

/** What a scenario's walks say about it: the labels and tags Allure shows, and the source links. */
export function scenarioFacts(s: { config: VmConfig; walks: ScenarioWalk[] }): Omit<Evidence, 'attachments'> {
  const era = s.config.profile;
  const entered = new Set<Layer>();
  const exits = new Set<string>();
  const userspace = new Set<string>();
  const names = new Set<string>();
  for (const w of s.walks) {
    for (const e of w.events) {
      if (e.from !== e.to) entered.add(e.to);
      if (e.from !== e.to || e.kind === 'exit-handler' || KEY_FUNCTIONS.has(e.name)) names.add(e.name);
    }
    for (const x of w.summary.exits) {
      exits.add(x.reason);
      if (x.userspaceExit) userspace.add(x.userspaceExit);
    }
  }
  const labels = [
    ...LAYERS.filter((l) => entered.has(l)).map((l) => ({ name: 'layer', value: l })),
    ...[...exits].map((r) => ({ name: 'exitReason', value: r })),
    ...[...userspace].map((u) => ({ name: 'userspaceExit', value: u })),
    { name: 'profile', value: era },
  ];
  const tags = [...[...exits].map((r) => `exit:${r}`), ...userspace, `profile:${era}`];
  const parameters = [{ name: 'profile', value: era }];
  const links = [{ name: 'conformance matrix', url: MATRIX_HREF }, ...sourceLinks(names, era)];
  return { labels, tags, parameters, links };
}
