/**
 * `serve`: the daemon in the foreground. SIGTERM or SIGINT stops it cleanly (exit 0); a second
 * signal exits at once — safe, because every acknowledged message is already on disk.
 */
import { join } from 'node:path';
import { loadConfig } from '../core/config-load.js';
import { createLogger } from '../core/logger.js';
import { Relay } from '../daemon/relay.js';
import { packageVersion } from './version.js';

export async function serve(configFile: string): Promise<number> {
  const { config, file } = loadConfig(configFile);
  const logger = createLogger({ level: config.log.level, logDir: config.log.file ? join(config.dataDir, 'logs') : undefined });
  logger.info({ config: file, version: packageVersion() }, 'starting');

  process.on('uncaughtException', (error) => {
    // Acknowledged mail is on disk; a restart (by the service manager) recovers it.
    logger.fatal({ err: error }, 'unexpected error, exiting');
    logger.flush();
    process.exit(70);
  });

  // Signals are handled from before the start: a stop asked for while the relay is still
  // starting (a service manager may do that) waits for the start, then stops cleanly.
  let signals = 0;
  let stopRequested: () => void = () => undefined;
  const stopAsked = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal, exiting now; acknowledged messages stay in the queue');
      logger.flush();
      process.exit(1);
    }
    logger.info({ signal }, 'stopping');
    stopRequested();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const relay = await Relay.start({ config, logger, version: packageVersion(), stopTimeoutMs: config.delivery.stopTimeoutSeconds * 1000, configFile: file });
  await stopAsked;
  await relay.stop();
  logger.flush();
  // Everything is closed; should a library still hold a handle (a socket of a send abandoned at
  // the bound), the process must end anyway, as a service manager expects after a stop.
  setTimeout(() => process.exit(0), EXIT_AFTER_STOP_MS).unref();
  return 0;
}

const EXIT_AFTER_STOP_MS = 2_000;
