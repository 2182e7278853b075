// The plugin as a function: argv in, text out through `io`, an exit code back. The entry
// point (kubectl-roster.ts) wires it to the process; tests can call it directly.
import { parseCommandLine } from './args.ts';
import type { Connection } from './cluster.ts';
import type { Command, Io } from './command.ts';
import { audit } from './commands/audit.ts';
import { canI } from './commands/can-i.ts';
import { completion, COMPLETE_COMMAND, runComplete } from './completion.ts';
import { invite } from './commands/invite.ts';
import { members } from './commands/members.ts';
import { plan } from './commands/plan.ts';
import { resend } from './commands/resend.ts';
import { release } from './commands/release.ts';
import { key } from './commands/key.ts';
import { revoke } from './commands/revoke.ts';
import { seats } from './commands/seats.ts';
import { transfer } from './commands/transfer.ts';
import { describeError, ExitCode, UsageError } from './errors.ts';
import { commandHelp, PROGRAM, programHelp } from './help.ts';

/** In the order the help lists them. */
export const COMMANDS: readonly Command[] = [invite, resend, revoke, members, seats, transfer, canI, audit, plan, release, key, completion];

export interface RunOptions {
  readonly io: Io;
  readonly now?: () => Date;
  /** Replaces the real connection (tests). */
  readonly connect?: () => Promise<Connection>;
}

export async function runCli(argv: readonly string[], options: RunOptions): Promise<ExitCode> {
  const { io } = options;
  const specs = COMMANDS.map((c) => c.spec);
  // The shell asks for candidates (kubectl_complete-roster, the completion scripts).
  if (argv[0] === COMPLETE_COMMAND) return await runComplete(argv.slice(1), specs, io);
  let connection: Promise<Connection> | undefined;
  let running: Command | undefined;
  try {
    const parsed = parseCommandLine(argv, specs);
    if (parsed.kind === 'help') {
      io.out(parsed.command ? commandHelp(parsed.command) : programHelp(specs));
      return ExitCode.ok;
    }
    const command = COMMANDS.find((c) => c.spec === parsed.command)!;
    running = command;
    if (parsed.global.output === 'markdown' && !command.markdown) {
      throw new UsageError(`-o markdown is only for plan; ${command.spec.name} takes table, wide, json or yaml`, command.spec.name);
    }
    const { connect: realConnect } = await import('./cluster.ts');
    const connect = (): Promise<Connection> => (connection ??= options.connect ? options.connect() : realConnect(parsed.global));
    return await command.run({
      args: parsed.args,
      flags: parsed.flags,
      global: parsed.global,
      io,
      connect,
      now: options.now ?? (() => new Date()),
    });
  } catch (e) {
    const server = connection
      ? await connection.then(
          (c) => c.server,
          () => undefined,
        )
      : undefined;
    const { message, exitCode } = describeError(e, server);
    io.err(`error: ${message}\n`);
    if (e instanceof UsageError) io.err(`See '${PROGRAM}${e.command ? ` ${e.command}` : ''} --help' for usage.\n`);
    // plan's codes mean something else (2 = changes): its errors all exit 1.
    const failed = running ?? (e instanceof UsageError ? COMMANDS.find((c) => c.spec.name === e.command) : undefined);
    return failed?.errorExitCode ?? exitCode;
  } finally {
    if (connection)
      await connection.then(
        (c) => c.client.close(),
        () => undefined,
      );
  }
}
