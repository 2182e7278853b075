// kubectl-roster: the `kubectl roster` plugin (bin/kubectl-roster runs this with the
// project's Node 24; scripts/build-plugin.ts bundles it for npm and the standalone
// executable). See `kubectl roster --help`.
import { runCli } from './app.ts';

// `kubectl roster members acme | head -1` closes stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

// No top-level await: the standalone build bundles this file as CommonJS (a Node single
// executable application runs CommonJS only). runCli never rejects: it turns errors into codes.
void runCli(process.argv.slice(2), {
  io: {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
  },
}).then((code) => {
  process.exitCode = code;
});
