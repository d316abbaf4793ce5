/**
 * Windows without Windows: the WinSW definition is well-formed XML with the right paths, account
 * and arguments, and the commands the manager would run are recorded by a DryRun.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { DryRun, renderWinswXml, type ServicePlan, WinswManager, windowsLayout } from '../../src/service/index.js';

const layout = windowsLayout({ ProgramData: 'C:\\ProgramData' }, 'C:\\app\\node_modules\\node-windows\\bin\\winsw\\winsw.exe');
const serviceDir = 'C:\\ProgramData\\smtp-oauth-relay';
const plan: ServicePlan = {
  node: 'C:\\Program Files\\nodejs\\node.exe',
  cli: 'C:\\Users\\admin\\AppData\\Roaming\\npm\\node_modules\\smtp-oauth-relay\\dist\\cli\\main.js',
  config: `${serviceDir}\\relay.json`,
  dataDir: `${serviceDir}\\data`,
  account: 'NT SERVICE\\smtp-oauth-relay',
};

interface WinswXml {
  service: {
    id: string;
    executable: string;
    arguments: string;
    startmode: string;
    onfailure: { '@_action': string; '@_delay': string }[];
    resetfailure: string;
    stoptimeout: string;
    logpath: string;
    log: { '@_mode': string };
    env: { '@_name': string; '@_value': string };
    serviceaccount?: { domain: string; user: string; password?: string };
  };
}

function parse(xml: string): WinswXml {
  expect(XMLValidator.validate(xml)).toBe(true);
  return new XMLParser({ ignoreAttributes: false, isArray: (name) => name === 'onfailure' }).parse(xml) as WinswXml;
}

describe('WinSW definition', () => {
  it('runs node with the CLI and the configuration, restarts with growing delays, logs under ProgramData', () => {
    const { service } = parse(renderWinswXml(plan, layout));
    expect(service.id).toBe('smtp-oauth-relay');
    expect(service.executable).toBe(plan.node);
    expect(service.arguments).toBe(`"${plan.cli}" serve --config "${plan.config}"`);
    expect(service.startmode).toBe('Automatic');
    expect(service.onfailure.map((failure) => failure['@_action'])).toEqual(['restart', 'restart', 'restart', 'restart']);
    expect(service.onfailure.map((failure) => failure['@_delay'])).toEqual(['10 sec', '30 sec', '2 min', '5 min']);
    expect(service.resetfailure).toBe('1 hour');
    expect(service.stoptimeout).toBe('45 sec'); // above the relay's stop bound (15 s deliveries + 10 s DATA grace)
    expect(service.logpath).toBe(`${serviceDir}\\logs`);
    expect(service.log['@_mode']).toBe('roll-by-size');
    expect(service.env).toEqual({ '@_name': 'SMTP_OAUTH_RELAY_CONFIG', '@_value': plan.config });
  });

  it('runs as the virtual account by default, with no password anywhere', () => {
    const xml = renderWinswXml(plan, layout);
    expect(parse(xml).service.serviceaccount).toEqual({ domain: 'NT SERVICE', user: 'smtp-oauth-relay' });
    expect(xml).not.toMatch(/password/i);
  });

  it('names no account for LocalSystem (WinSW default) and NT AUTHORITY for LocalService', () => {
    expect(parse(renderWinswXml({ ...plan, account: 'LocalSystem' }, layout)).service.serviceaccount).toBeUndefined();
    expect(parse(renderWinswXml({ ...plan, account: 'LocalService' }, layout)).service.serviceaccount).toEqual({ domain: 'NT AUTHORITY', user: 'LocalService' });
  });

  it('escapes paths with XML characters', () => {
    const odd = { ...plan, config: 'C:\\R&D <mail>\\"relay".json' };
    expect(parse(renderWinswXml(odd, layout)).service.arguments).toBe(`"${plan.cli}" serve --config "${odd.config}"`);
  });
});

describe('WinSW manager commands', () => {
  const wrapper = `${serviceDir}\\smtp-oauth-relay.exe`;

  it('install: copies WinSW beside its XML, installs, restricts the folder to the account, starts', async () => {
    const dryRun = new DryRun();
    await new WinswManager(dryRun, dryRun, layout).install(plan);
    expect(dryRun.steps.filter((step) => step.kind === 'copy')).toEqual([
      { kind: 'copy', from: layout.winswExe, to: wrapper },
      { kind: 'copy', from: `${layout.winswExe}.config`, to: `${wrapper}.config` },
    ]);
    expect(dryRun.fileAt(`${serviceDir}\\smtp-oauth-relay.xml`)).toContain('<executable>C:\\Program Files\\nodejs\\node.exe</executable>');
    expect(dryRun.commandLines()).toEqual([
      `${wrapper} install`,
      `icacls ${serviceDir} /inheritance:r /grant:r NT SERVICE\\smtp-oauth-relay:(OI)(CI)F Administrators:(OI)(CI)F SYSTEM:(OI)(CI)F`,
      `${wrapper} start`,
    ]);
  });

  it('install for DOMAIN\\user: WinSW asks the password on the terminal (install /p), never argv or XML', async () => {
    const dryRun = new DryRun();
    await new WinswManager(dryRun, dryRun, layout).install({ ...plan, account: 'CONTOSO\\svc-relay' });
    const install = dryRun.steps.find((step) => step.kind === 'command' && step.args[0] === 'install');
    expect(install).toMatchObject({ program: wrapper, args: ['install', '/p'], interactive: true });
    expect(dryRun.fileAt(`${serviceDir}\\smtp-oauth-relay.xml`)).not.toContain('serviceaccount');
    expect(dryRun.commandLines()[1]).toContain('CONTOSO\\svc-relay:(OI)(CI)F');
  });

  it('also restricts a data folder the configuration puts outside ProgramData', async () => {
    const dryRun = new DryRun();
    await new WinswManager(dryRun, dryRun, layout).install({ ...plan, dataDir: 'D:\\relay-data' });
    expect(dryRun.commandLines().filter((line) => line.startsWith('icacls')).map((line) => line.split(' ')[1])).toEqual([serviceDir, 'D:\\relay-data']);
  });

  it('uninstall, start, stop, restart, status', async () => {
    const dryRun = new DryRun((_program, args) => (args[0] === 'status' ? { code: 0, stdout: 'Started\n', stderr: '' } : undefined));
    const manager = new WinswManager(dryRun, dryRun, layout);
    await manager.start();
    await manager.stop();
    await manager.restart();
    expect((await manager.status()).stdout).toBe('Started\n');
    await manager.uninstall();
    expect(dryRun.commandLines()).toEqual([`${wrapper} start`, `${wrapper} stop`, `${wrapper} restart`, `${wrapper} status`, `${wrapper} stop`, `${wrapper} uninstall`]);
    expect(dryRun.steps.filter((step) => step.kind === 'remove').map((step) => (step.kind === 'remove' ? step.path : ''))).toEqual([wrapper, `${wrapper}.config`, `${serviceDir}\\smtp-oauth-relay.xml`]);
  });

  it('a failing command stops the install with its output', async () => {
    const dryRun = new DryRun((_program, args) => (args[0] === 'install' ? { code: 1, stdout: '', stderr: 'Access is denied.' } : undefined));
    await expect(new WinswManager(dryRun, dryRun, layout).install(plan)).rejects.toThrow(/install exited 1: Access is denied/);
    expect(dryRun.commandLines().some((line) => line.startsWith('icacls'))).toBe(false);
  });
});
