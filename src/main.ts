// The operator's entry point: configuration, logger, operator, signals. Wiring only.
import { loadConfig } from './config.ts';
import { createLogger } from './runtime/logger.ts';
import { createOperator } from './operator.ts';

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
