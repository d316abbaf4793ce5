/**
 * A real Secret Service for tests: gnome-keyring in a DBus session of its own
 * (dbus-run-session), unlocked, with HOME and the XDG folders in a temporary folder, exactly as
 * docs/microsoft-365.md ("Keychains") and the README describe. Needs gnome-keyring, libsecret-tools and dbus (installed by .ci/run).
 */
import { join } from 'node:path';
import { systemTool, type ToolCheck } from './system-tool.js';

const INSTALL = 'apt-get install gnome-keyring libsecret-tools dbus';

export const SECRET_SERVICE_TOOLS: readonly ToolCheck[] = [
  systemTool('dbus-run-session', ['dbus-run-session', '--version'], INSTALL),
  systemTool('gnome-keyring-daemon', ['gnome-keyring-daemon', '--version'], INSTALL),
  systemTool('secret-tool', ['sh', '-c', 'command -v secret-tool'], INSTALL),
];

/** The first tool that is missing, if any. */
export const missingSecretServiceTool: ToolCheck | undefined = SECRET_SERVICE_TOOLS.find((tool) => !tool.available);

/** A private home (its `runtime` folder must exist, mode 0700), and no session bus unless dbus-run-session adds one. */
export function secretServiceEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: join(home, 'share'),
    XDG_RUNTIME_DIR: join(home, 'runtime'),
    XDG_CONFIG_HOME: join(home, 'config'),
  };
  delete env.DBUS_SESSION_BUS_ADDRESS;
  delete env.DISPLAY;
  return env;
}

/** The command prefix that runs a program inside a DBus session with an unlocked gnome-keyring. */
export const WITH_SECRET_SERVICE: readonly string[] = [
  'dbus-run-session',
  '--',
  'bash',
  '-c',
  'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$@"',
  'bash',
];
