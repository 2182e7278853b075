// A deliberately tiny template language for mails that operators may override (a Helm
// value). It has exactly three constructs and no way to emit a value unescaped:
//
//   {{name}}                  the value; HTML-escaped when the template is HTML
//   {{#name}} … {{/name}}     the inside, only when the value is not empty
//   {{^name}} … {{/name}}     the inside, only when the value is empty
//
// Only known field names are accepted and mistakes fail when the template is compiled, so
// a typo in a Helm value shows up at startup rather than as a blank in someone's inbox.
// A section tag alone on its line takes the whole line with it (as in Mustache), so
// optional paragraphs leave no stray blank lines.

export class TemplateError extends Error {
  override name = 'TemplateError';
}

export type TemplateValues<F extends string> = Readonly<Record<F, string>>;

export interface CompileOptions<F extends string> {
  /** Names the template may use. */
  readonly fields: readonly F[];
  /** `html` escapes every value; `text` inserts values as they are. */
  readonly mode: 'html' | 'text';
  /**
   * Fields whose values are already HTML built by Roster itself from escaped parts
   * (e.g. a rendered list); inserted without escaping in `html` mode. Never user input.
   */
  readonly trustedHtml?: readonly F[];
  /** Used in error messages: `html template`, `subject template`. */
  readonly label?: string;
}

type Node<F extends string> =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'value'; readonly name: F }
  | { readonly kind: 'section'; readonly name: F; readonly inverted: boolean; readonly children: readonly Node<F>[] };

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const STANDALONE_SECTION_TAG = /^[ \t]*(\{\{[ \t]*[#^/][ \t]*[A-Za-z][A-Za-z0-9]*[ \t]*\}\})[ \t]*(?:\r?\n|$)/gm;
const TAG = /\{\{(.*?)\}\}/gs;
const TAG_BODY = /^[ \t]*([#^/]?)[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*$/;

/** Parses and checks a template; returns a function that fills it in. Throws a TemplateError. */
export function compileTemplate<F extends string>(source: string, options: CompileOptions<F>): (values: TemplateValues<F>) => string {
  const label = options.label ?? 'template';
  const known = new Set<string>(options.fields);
  const trusted = new Set<string>(options.mode === 'html' ? (options.trustedHtml ?? []) : []);
  const fail = (problem: string): never => {
    throw new TemplateError(`${label}: ${problem}`);
  };
  if (source.includes('{{{')) fail('"{{{…}}}" (unescaped output) is not supported; use {{name}}');

  const normalized = source.replace(STANDALONE_SECTION_TAG, '$1');
  const root: Node<F>[] = [];
  const stack: Array<{ name: F; inverted: boolean; children: Node<F>[] }> = [];
  const current = (): Node<F>[] => stack.at(-1)?.children ?? root;
  let last = 0;
  for (const match of normalized.matchAll(TAG)) {
    const index = match.index;
    if (index > last) current().push({ kind: 'text', text: normalized.slice(last, index) });
    last = index + match[0].length;
    const body = TAG_BODY.exec(match[1] ?? '');
    if (!body) fail(`malformed placeholder ${JSON.stringify(match[0].slice(0, 40))}; placeholders look like {{name}}`);
    const sigil = body?.[1] ?? '';
    const name = body?.[2] ?? '';
    if (!known.has(name)) fail(`unknown placeholder {{${sigil}${name}}}; known names: ${[...known].join(', ')}`);
    const field = name as F;
    if (sigil === '') {
      current().push({ kind: 'value', name: field });
    } else if (sigil === '/') {
      const open = stack.pop();
      if (!open) fail(`{{/${name}}} closes a section that was never opened`);
      else if (open.name !== field) fail(`{{/${name}}} closes {{#${open.name}}}; sections must nest`);
      else current().push({ kind: 'section', name: open.name, inverted: open.inverted, children: open.children });
    } else {
      stack.push({ name: field, inverted: sigil === '^', children: [] });
    }
  }
  const unclosed = stack.at(-1);
  if (unclosed) fail(`{{${unclosed.inverted ? '^' : '#'}${unclosed.name}}} is never closed with {{/${unclosed.name}}}`);
  const tail = normalized.slice(last);
  if (tail.includes('{{')) fail('"{{" without a closing "}}"');
  if (tail !== '') root.push({ kind: 'text', text: tail });

  const render = (nodes: readonly Node<F>[], values: TemplateValues<F>): string => {
    let out = '';
    for (const node of nodes) {
      if (node.kind === 'text') out += node.text;
      else if (node.kind === 'value') {
        const value = values[node.name] ?? '';
        out += options.mode === 'html' && !trusted.has(node.name) ? escapeHtml(value) : value;
      } else {
        const present = (values[node.name] ?? '') !== '';
        if (present !== node.inverted) out += render(node.children, values);
      }
    }
    return out;
  };
  return (values) => render(root, values);
}
