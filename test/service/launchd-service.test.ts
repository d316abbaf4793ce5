/**
 * macOS without macOS: the plist is well-formed with the right paths and user, and the launchctl
 * commands are recorded by a DryRun.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { DryRun, LaunchdManager, renderLaunchdPlist, type ServicePlan } from '../../src/service/index.js';

const plan: ServicePlan = {
  node: '/usr/local/bin/node',
  cli: '/usr/local/lib/node_modules/smtp-oauth-relay/dist/cli/main.js',
  config: '/Users/anna/Library/Application Support/smtp-oauth-relay/relay.json',
  dataDir: '/Users/anna/Library/Application Support/smtp-oauth-relay/data',
  account: 'anna',
};
const agent = { system: false, home: '/Users/anna', uid: 501 };
const daemon = { system: true, home: '/var/root', uid: 0 };

/** A plist <dict> as key -> value (fast-xml-parser keeps keys and values as sibling arrays). */
function plistEntries(xml: string): Map<string, unknown> {
  expect(XMLValidator.validate(xml)).toBe(true);
  const parsed = new XMLParser({ preserveOrder: true, ignoreAttributes: false }).parse(xml) as Record<string, unknown>[];
  const plist = parsed.find((node) => 'plist' in node)?.plist as Record<string, unknown>[];
  const dict = plist.find((node) => 'dict' in node)?.dict as Record<string, unknown>[];
  const entries = new Map<string, unknown>();
  for (let index = 0; index < dict.length; index += 1) {
    const node = dict[index];
    if (node === undefined || !('key' in node)) continue;
    const key = String((node.key as { '#text': unknown }[])[0]?.['#text']);
    const value = dict[index + 1];
    entries.set(key, value);
  }
  return entries;
}

const text = (node: unknown, tag: string): unknown => ((node as Record<string, { '#text': unknown }[]>)[tag] ?? [])[0]?.['#text'];

describe('launchd plist', () => {
  it('an agent: label, node + CLI + config as arguments, run at load, restart on crash only, logs in the data folder', () => {
    const entries = plistEntries(renderLaunchdPlist(plan, agent));
    expect(text(entries.get('Label'), 'string')).toBe('com.smtp-oauth-relay');
    const args = (entries.get('ProgramArguments') as { array: Record<string, { '#text': unknown }[]>[] }).array.map((item) => item.string?.[0]?.['#text']);
    expect(args).toEqual([plan.node, plan.cli, 'serve', '--config', plan.config]);
    expect(entries.get('RunAtLoad')).toHaveProperty('true');
    expect(entries.has('KeepAlive')).toBe(true);
    expect(entries.has('UserName')).toBe(false); // an agent runs as the user who loads it
    expect(text(entries.get('WorkingDirectory'), 'string')).toBe(plan.dataDir);
    expect(text(entries.get('StandardOutPath'), 'string')).toBe(`${plan.dataDir}/logs/stdout.log`);
    expect(text(entries.get('StandardErrorPath'), 'string')).toBe(`${plan.dataDir}/logs/stderr.log`);
    expect(text(entries.get('ExitTimeOut'), 'integer')).toBe(45);
  });

  it('a system daemon names its user', () => {
    const entries = plistEntries(renderLaunchdPlist({ ...plan, account: '_smtprelay' }, daemon));
    expect(text(entries.get('UserName'), 'string')).toBe('_smtprelay');
  });
});

describe('launchd manager commands', () => {
  it('agent: writes ~/Library/LaunchAgents and bootstraps in gui/<uid>; start, stop, restart, status, uninstall', async () => {
    const dryRun = new DryRun();
    const manager = new LaunchdManager(dryRun, dryRun, agent);
    await manager.install(plan);
    await manager.start();
    await manager.stop();
    await manager.restart();
    await manager.status();
    await manager.uninstall();
    const plistPath = '/Users/anna/Library/LaunchAgents/com.smtp-oauth-relay.plist';
    expect(dryRun.fileAt(plistPath)).toContain('<string>serve</string>');
    expect(dryRun.commandLines()).toEqual([
      `launchctl bootstrap gui/501 ${plistPath}`,
      'launchctl kickstart gui/501/com.smtp-oauth-relay',
      'launchctl kill SIGTERM gui/501/com.smtp-oauth-relay',
      'launchctl kickstart -k gui/501/com.smtp-oauth-relay',
      'launchctl print gui/501/com.smtp-oauth-relay',
      'launchctl bootout gui/501/com.smtp-oauth-relay',
    ]);
    expect(dryRun.steps.at(-1)).toEqual({ kind: 'remove', path: plistPath });
  });

  it('system daemon: /Library/LaunchDaemons, the system domain, data folder owned by its user', async () => {
    const dryRun = new DryRun();
    await new LaunchdManager(dryRun, dryRun, daemon).install({ ...plan, account: '_smtprelay', dataDir: '/Library/Application Support/smtp-oauth-relay/data' });
    expect(dryRun.commandLines()).toEqual([
      'chown -R _smtprelay /Library/Application Support/smtp-oauth-relay/data',
      'launchctl bootstrap system /Library/LaunchDaemons/com.smtp-oauth-relay.plist',
    ]);
  });
});
