// The operator's entry point: configuration, logger, operator, signals. Wiring only.
import { setFlagsFromString } from 'node:v8';
import { loadConfig } from './config.ts';
import { createLogger } from './runtime/logger.ts';
import { createOperator } from './operator.ts';

// Between full collections V8 lets the old generation grow to up to 4× the live heap: with
// caches of 10,000s of objects that are rewritten all the time, 100s of MiB of RSS held for
// garbage (issue 14). A full collection once it has grown by this percentage instead keeps RSS
// near the live heap, for a little more GC time. 0 = V8's own policy. (Not a NODE_OPTIONS flag.)
const heapGrowingPercent = Number(process.env.ROSTER_HEAP_GROWING_PERCENT || '30');
if (!Number.isInteger(heapGrowingPercent) || heapGrowingPercent < 0) {
  throw new Error(`ROSTER_HEAP_GROWING_PERCENT must be a whole number of percent (0 = V8's default), not ${process.env.ROSTER_HEAP_GROWING_PERCENT}`);
}
if (heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);

const config = loadConfig();
const logger = createLogger({ level: config.log.level });
const operator = createOperator(config, logger);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  operator
    .stop()
    .then(() => process.exit(0))
    .catch((e: unknown) => {
      logger.error({ err: e }, 'shutdown failed');
      process.exit(1);
    });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

await operator.start();
