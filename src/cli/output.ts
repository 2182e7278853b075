// Rendering: kubectl-style tables (upper-case headers, columns three spaces apart, no
// trailing blanks), JSON and YAML, and kubectl's short ages ("5m30s", "3d4h").
import { stringify } from 'yaml';
import type { OutputFormat } from './args.ts';

/** Cells hold one line: newlines and tabs become spaces; empty cells show `<none>` as kubectl does. */
function cell(text: string): string {
  const flat = text.replace(/[\r\n\t]+/g, ' ').trim();
  return flat === '' ? '<none>' : flat;
}

/** Display width of a string: code points (good enough for the addresses and names we print). */
function width(text: string): number {
  return [...text].length;
}

/** An aligned table: each column as wide as its widest cell, three spaces between columns. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => cell(r[i] ?? '')))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => width(r[i]!))));
  const lines = all.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c) + 3)))
      .join('')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/** A value as JSON (two-space indent) or YAML, ending in a newline. */
export function renderData(format: Exclude<OutputFormat, 'table' | 'wide' | 'markdown'>, data: unknown): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  const text = stringify(data, { lineWidth: 0 });
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration): "45s", "5m30s", "3h", "2d5h", "1y30d". */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    const years = Math.floor(hours / 24 / 365);
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

/** How long ago `time` (RFC 3339) was, as kubectl prints ages; `<unknown>` when absent. */
export function age(time: string | undefined, now: Date): string {
  const at = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(now.getTime() - at);
}

/** A timestamp for tables: RFC 3339 to the second, UTC (`2026-03-01T12:00:03Z`). */
export function shortTime(time: string | undefined): string {
  const at = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(at) ? '<unknown>' : new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}
