/**
 * `serve`: the daemon in the foreground. SIGTERM or SIGINT stops it cleanly (exit 0); a second
 * signal exits at once — safe, because every acknowledged message is already on disk.
 *
 * `--stop-on-stdin-close`: the end of stdin is a stop request too. The Windows service host
 * (windows/service-host.c) uses it: a Windows process without a console cannot be sent CTRL_C,
 * and TerminateProcess is a hard kill, so the host closes the relay's stdin pipe instead
 * (docs/windows-service.md).
 */
import { loadConfig } from '../core/config-load.js';
import { createLogger } from '../core/logger.js';
import { Relay } from '../daemon/relay.js';
import { packageVersion } from './version.js';
import { dataPaths } from '../core/data-paths.js';

export interface ServeOptions {
  /** Stop gracefully when stdin ends (the service host closed its pipe). */
  readonly stopOnStdinClose?: boolean;
}

export async function serve(configFile: string, options: ServeOptions = {}): Promise<number> {
  const { config, file } = loadConfig(configFile);
  const logger = createLogger({ level: config.log.level, logDir: config.log.file ? dataPaths(config.dataDir).logs : undefined });
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
  if (options.stopOnStdinClose === true) {
    // Only the end counts: what the host might write is read and dropped. An end after a signal
    // is the same stop, not a second request.
    process.stdin.on('end', () => {
      if (signals > 0) return;
      signals += 1;
      logger.info({ reason: 'stdin closed' }, 'stopping');
      stopRequested();
    });
    process.stdin.on('error', (error) => logger.warn({ err: error.message }, 'stdin could not be read; stop the relay another way'));
    process.stdin.resume();
  }

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
