// What a command is: its spec (for parsing and help) and what it does.
import type { CommandSpec, GlobalOptions, OutputFormat, ParsedFlags } from './args.ts';
import type { Connection } from './cluster.ts';
import { UsageError, type ExitCode } from './errors.ts';
import { renderData } from './output.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export interface CommandInput {
  readonly args: readonly string[];
  readonly flags: ParsedFlags;
  readonly global: GlobalOptions;
  readonly io: Io;
  /** Connects on first call and returns the same connection after. */
  readonly connect: () => Promise<Connection>;
  readonly now: () => Date;
}

export interface Command {
  readonly spec: CommandSpec;
  run(input: CommandInput): Promise<ExitCode>;
  /** The exit code of every error, usage errors included, when the command's codes mean something else (plan: 2 = changes). */
  readonly errorExitCode?: ExitCode;
  /** Takes `-o markdown` (the others refuse it before doing anything). */
  readonly markdown?: boolean;
}

/** Prints `data` as JSON/YAML, or the table text the command rendered (`wide`: with its extra columns). */
export function emit(io: Io, format: OutputFormat, data: unknown, table: (wide: boolean) => string): void {
  if (format === 'markdown') throw new UsageError('-o markdown is only for plan; use table, wide, json or yaml');
  io.out(format === 'table' || format === 'wide' ? table(format === 'wide') : renderData(format, data));
}
