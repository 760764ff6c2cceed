// Literate chapters (features/**/*.feature.md): each scenario's section opens with an excerpt of the
// real code and the prose that explains it, before its steps. In Markdown Gherkin a description starts
// at a line that is not a heading, step, table or blank, so each section opens with a fenced excerpt
// (a bare ``` fence: the Markdown Gherkin tokenizer tracks fences with a language tag unreliably);
// cucumber's HTML report then shows the section as written. The Allure report gets the same text as
// the scenario's description (see chapterLesson).

const STEP = /^\s*[*+-]\s+\S/;

/** The Markdown between a scenario's heading and its first step: the lesson that scenario checks. */
export function chapterLesson(markdown: string, scenarioName: string): string | null {
  const lines = markdown.split('\n');
  const esc = scenarioName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const at = lines.findIndex((l) => new RegExp(`^#{2,6}\\s+(Scenario|Example):\\s*${esc}\\s*$`).test(l));
  if (at < 0) return null;
  let end = at + 1;
  while (end < lines.length && !STEP.test(lines[end]!) && !/^#{1,6}\s/.test(lines[end]!)) end++;
  const text = lines.slice(at + 1, end).join('\n').trim();
  return text || null;
}

export const isChapter = (uri: string): boolean => uri.endsWith('.feature.md');

const escHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The lesson as HTML for Allure: fenced code as <pre>, paragraphs joined, `code` and **bold** inline. */
export function lessonHtml(markdown: string): string {
  const out: string[] = [];
  let para: string[] = [];
  let code: string[] | null = null;
  const inline = (s: string) => escHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');
  const flush = () => { if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`); para = []; };
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) {
      if (code) { out.push(`<pre><code>${escHtml(code.join('\n'))}</code></pre>`); code = null; } else { flush(); code = []; }
    } else if (code) code.push(line);
    else if (line.trim() === '') flush();
    else para.push(line.trim());
  }
  if (code) out.push(`<pre><code>${escHtml(code.join('\n'))}</code></pre>`);
  flush();
  return out.join('\n');
}
