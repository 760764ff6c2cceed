// Literate chapters (features/**/*.feature.md): the prose a chapter puts before a scenario is the
// lesson that scenario checks. The report shows it with the scenario, so a reader of one test page
// sees the explanation next to the walk it explains.

const STEP = /^\s*[*+-]\s+\S/;
const TABLE = /^\s{2,5}\|/;

/** The Markdown between the previous scenario's last step (or table) and this scenario's heading. */
export function chapterLesson(markdown: string, scenarioName: string): string | null {
  const lines = markdown.split('\n');
  const esc = scenarioName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = lines.findIndex((l) => new RegExp(`^#{2,6}\\s+(Scenario|Example):\\s*${esc}\\s*$`).test(l));
  if (at < 0) return null;
  let from = at;
  while (from > 0 && !STEP.test(lines[from - 1]!) && !TABLE.test(lines[from - 1]!)) from--;
  // Skip the chapter's title line: its prose is the introduction, which belongs to the first lesson.
  const text = lines.slice(from, at).filter((l) => !/^#\s+Feature:/.test(l)).join('\n').trim();
  return text || null;
}

export const isChapter = (uri: string): boolean => uri.endsWith('.feature.md');
