// Timestamps as the Kubernetes API writes them. metav1.Time serializes to RFC 3339 with
// second precision; writing the same shape keeps status stable across a round trip
// through the API server (no spurious "changed" because of milliseconds).

/** RFC 3339 with second precision, UTC: `2026-03-01T12:00:00Z`. */
export function formatTime(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('formatTime: invalid date');
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Milliseconds since the epoch of an RFC 3339 timestamp, or undefined when absent or unreadable. */
export function parseTime(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
