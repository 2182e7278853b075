// kubectl-roster: the `kubectl roster` plugin (bin/kubectl-roster runs this with the
// project's Node 24). See `kubectl roster --help`.
import { runCli } from './app.ts';

// `kubectl roster members acme | head -1` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await runCli(process.argv.slice(2), {
  io: {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
  },
});
