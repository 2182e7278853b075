// Generates src/api/generated.ts from crds/*.yaml with json-schema-to-typescript.
// `--check` compares instead of writing and exits 1 when the committed file has drifted.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderApiTypes } from './api-types.ts';

const target = fileURLToPath(new URL('../src/api/generated.ts', import.meta.url));
const output = await renderApiTypes();

if (process.argv.includes('--check')) {
  const current = readFileSync(target, 'utf8');
  if (current !== output) {
    console.error('src/api/generated.ts is out of date with crds/: run `npm run generate`');
    process.exit(1);
  }
  console.log('src/api/generated.ts matches crds/');
} else {
  writeFileSync(target, output);
  console.log(`wrote ${target}`);
}
