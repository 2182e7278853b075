#!/usr/bin/env node
// kubectl-roster from npm: the whole CLI is one bundled file (dist/, built by the repository's
// `npm run build:plugin`) with its dependencies inlined, so this package has none.
'use strict';
/* global process, require -- CommonJS run by node; the repository's lint config is for TypeScript modules */

// The bundled Kubernetes client (undici) needs Node 22.19; say so instead of a stack trace.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `error: kubectl-roster needs Node.js 22.19 or later, and this is ${process.version}: upgrade Node, or install the standalone kubectl-roster executable, which needs no Node\n`,
  );
  process.exit(3);
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- this file is CommonJS
require('../dist/kubectl-roster.cjs');
