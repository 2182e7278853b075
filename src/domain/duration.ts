// Go-style durations (time.ParseDuration), the format of Team spec.invitations.ttl:
// a sequence of decimal numbers, each with an optional fraction and a unit, such as
// `168h`, `90m`, `1h30m`, `2.5h`, `300ms`. Computed in integer nanoseconds (BigInt) so
// that fractions are exact and truncate the way Go truncates; returned in milliseconds.

const NANOS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5 micro sign
  μs: 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NANOS = 2n ** 63n - 1n; // Go's time.Duration is an int64 of nanoseconds
const NANOS_PER_MS = 1_000_000n;

// One component: digits, optional fraction (either side of the dot may be empty, not both), unit.
const COMPONENT = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/u;

function invalid(text: string): Error {
  return new Error(`invalid duration ${JSON.stringify(text)}: use a Go duration such as 168h, 90m or 1h30m`);
}

/**
 * Parses a Go duration into milliseconds (possibly fractional below 1 ms, e.g. `1500us` → 1.5).
 * Accepts what Go's time.ParseDuration accepts, sign included; throws a readable Error otherwise.
 */
export function parseDuration(text: string): number {
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0; // Go's special case: a bare zero needs no unit
  if (rest === '') throw invalid(text);

  let total = 0n;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    if (!match) throw invalid(text);
    const [whole, intDigits = '', fracDigits = '', unit = ''] = match;
    if (intDigits === '' && fracDigits === '') throw invalid(text);
    const perUnit = NANOS_PER_UNIT[unit];
    if (perUnit === undefined) throw invalid(text);
    let nanos = BigInt(intDigits === '' ? '0' : intDigits) * perUnit;
    if (fracDigits !== '') {
      nanos += (BigInt(fracDigits) * perUnit) / 10n ** BigInt(fracDigits.length);
    }
    total += nanos;
    if (total > MAX_NANOS) throw invalid(text);
    rest = rest.slice(whole.length);
  }
  const ms = Number(total / NANOS_PER_MS) + Number(total % NANOS_PER_MS) / 1e6;
  return negative && ms !== 0 ? -ms : ms;
}

/**
 * Formats milliseconds as a compact Go duration that parseDuration reads back exactly for
 * whole milliseconds: `168h`, `1h30m`, `1m0.5s` → `1m0.5s`, `250ms`, `0s`.
 * Sub-millisecond fractions are rounded to the nearest millisecond.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError('formatDuration: not a finite number');
  let rest = Math.round(Math.abs(ms));
  const sign = ms < 0 && rest !== 0 ? '-' : '';
  if (rest === 0) return '0s';
  if (rest < 1000) return `${sign}${rest}ms`;

  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;

  let out = sign;
  if (hours > 0) out += `${hours}h`;
  if (minutes > 0) out += `${minutes}m`;
  if (seconds > 0 || millis > 0) {
    out += millis > 0 ? `${seconds}.${String(millis).padStart(3, '0').replace(/0+$/, '')}s` : `${seconds}s`;
  }
  return out;
}
