// Runs deploy/argocd/roster-health.lua the way Argo CD does: the object as a Lua table in
// the global `obj`, the script's returned table is the health. Uses Debian's lua5.4
// (scripts/setup-helm.sh installs it); the script keeps to what Argo CD's Lua 5.1 has.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const healthScriptPath = fileURLToPath(new URL('../../../deploy/argocd/roster-health.lua', import.meta.url));

export interface Health {
  status: 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown';
  message: string;
}

/** A JSON value as a Lua expression (objects → tables with string keys, arrays → sequences; null → nil). */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return JSON.stringify(value).replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => `\\u{${hex}}`);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== null && v !== undefined);
  return `{${entries.map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`).join(', ')}}`;
}

const harness = (object: unknown, script: string) => `
obj = ${luaLiteral(object)}
local check = assert(loadfile(${JSON.stringify(script)}))
local hs = check()
assert(type(hs) == "table", "the health check must return a table")
io.write(tostring(hs.status), "\\n", tostring(hs.message or ""))
`;

export function argoHealth(object: unknown, script: string = healthScriptPath): Health {
  let out: string;
  try {
    out = execFileSync('lua5.4', ['-'], { input: harness(object, script), encoding: 'utf8', timeout: 10_000 });
  } catch (e) {
    const error = e as NodeJS.ErrnoException & { stderr?: string };
    if (error.code === 'ENOENT') throw new Error('lua5.4 is missing: run `bash scripts/setup-helm.sh`');
    throw new Error(`the health check failed: ${error.stderr ?? error.message}`);
  }
  const [status, ...message] = out.split('\n');
  return { status: status as Health['status'], message: message.join('\n') };
}
