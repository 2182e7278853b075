#!/usr/bin/env node
// kubectl_complete-roster from npm: kubectl (1.26+) runs it to complete `kubectl roster ...`.
'use strict';
/* global process, require -- CommonJS run by node; the repository's lint config is for TypeScript modules */

process.argv.splice(2, 0, '__complete');
// eslint-disable-next-line @typescript-eslint/no-require-imports -- this file is CommonJS
require('./kubectl-roster.cjs');
