/**
 * Windows without Windows: what the sc.exe manager would run, recorded by a DryRun (the real
 * commands run under Wine in test/windows/service.test.ts). The binPath the SCM keeps is parsed
 * back with the Windows command-line rules, so quoting mistakes show here.
 */
import { describe, expect, it } from 'vitest';
import {
  AccountNeedsPasswordError,
  DryRun,
  ElevationRequiredError,
  hostCommand,
  runServiceAction,
  ScManager,
  type ServicePlan,
  windowsArg,
  windowsCommandLine,
  windowsLayout,
} from '../../src/service/index.js';

const releaseDir = 'C:\\Program Files\\smtp-oauth-relay';
const serviceDir = 'C:\\ProgramData\\smtp-oauth-relay';
const host = `${releaseDir}\\smtp-oauth-relay-service.exe`;
/** The release: one executable, process.argv[1] is the exe itself. */
const plan: ServicePlan = {
  node: `${releaseDir}\\smtp-oauth-relay.exe`,
  cli: `${releaseDir}\\smtp-oauth-relay.exe`,
  config: `${serviceDir}\\relay.json`,
  dataDir: `${serviceDir}\\data`,
  account: 'NT SERVICE\\smtp-oauth-relay',
};

/** CommandLineToArgvW's rules (the reverse of windowsArg), to read a command line back. */
function parseWindowsCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inQuotes = false;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\') {
      let count = 0;
      while (line[i] === '\\') (count += 1), (i += 1);
      if (line[i] === '"') {
        word += '\\'.repeat(Math.floor(count / 2));
        if (count % 2 === 1) word += '"';
        else {
          inQuotes = !inQuotes;
        }
      } else {
        word += '\\'.repeat(count);
        i -= 1;
      }
      started = true;
    } else if (char === '"') {
      inQuotes = !inQuotes;
      started = true;
    } else if (char === ' ' && !inQuotes) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += char;
      started = true;
    }
  }
  if (started) words.push(word);
  return words;
}

describe('Windows command lines', () => {
  it('quotes every word so that the Windows rules give it back, backslashes and quotes included', () => {
    const words = ['C:\\Program Files\\x.exe', 'C:\\dir with space\\', 'say "hi"', 'back\\\\"slash', '', 'plain'];
    expect(parseWindowsCommandLine(windowsCommandLine(words))).toEqual(words);
    expect(windowsArg('C:\\a b\\')).toBe('"C:\\a b\\\\"');
  });

  it('the release: the host beside smtp-oauth-relay.exe, with the configuration and the data folder', () => {
    const { host: found, binPath } = hostCommand(plan);
    expect(found).toBe(host);
    expect(parseWindowsCommandLine(binPath)).toEqual([host, '--config', plan.config, '--data-dir', plan.dataDir]);
  });

  it('a Node install: the host from the package folder, node.exe and the CLI after "--"', () => {
    const nodePlan = { ...plan, node: 'C:\\Program Files\\nodejs\\node.exe', cli: 'C:\\tools\\smtp-oauth-relay\\dist\\cli\\main.js' };
    const { host: found, binPath } = hostCommand(nodePlan);
    expect(found).toBe('C:\\tools\\smtp-oauth-relay\\windows\\smtp-oauth-relay-service.exe');
    expect(parseWindowsCommandLine(binPath)).toEqual([found, '--config', plan.config, '--data-dir', plan.dataDir, '--', nodePlan.node, nodePlan.cli]);
  });
});

describe('sc.exe manager', () => {
  it('install: registers the host as the virtual account, recovery actions, Event Log source, paths, the folders with their ACL, then starts', async () => {
    const dryRun = new DryRun();
    await new ScManager(dryRun).install(plan);
    const steps = dryRun.steps.flatMap((step) => (step.kind === 'command' ? [{ program: step.program, args: step.args }] : []));
    expect(steps.map((step) => [step.program, ...step.args.slice(0, 2)].join(' '))).toEqual([
      'sc.exe query smtp-oauth-relay',
      'sc.exe create smtp-oauth-relay',
      'sc.exe description smtp-oauth-relay',
      'sc.exe failure smtp-oauth-relay',
      'sc.exe sidtype smtp-oauth-relay',
      'reg.exe add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay',
      'reg.exe add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay',
      'reg.exe add HKLM\\SOFTWARE\\smtp-oauth-relay',
      'reg.exe add HKLM\\SOFTWARE\\smtp-oauth-relay',
      `${host} prepare --data-dir`,
      'net.exe start smtp-oauth-relay',
    ]);
    expect(steps[1]!.args).toEqual(['create', 'smtp-oauth-relay', 'binPath=', hostCommand(plan).binPath, 'start=', 'auto', 'obj=', 'NT SERVICE\\smtp-oauth-relay', 'DisplayName=', 'SMTP OAuth relay']);
    expect(steps[3]!.args.slice(2)).toEqual(['reset=', '86400', 'actions=', 'restart/10000/restart/30000/restart/120000']);
    expect(steps[4]!.args[2]).toBe('unrestricted');
    expect(steps[5]!.args.slice(2)).toEqual(['/v', 'EventMessageFile', '/t', 'REG_EXPAND_SZ', '/d', host, '/f']);
    expect(steps[6]!.args.slice(2)).toEqual(['/v', 'TypesSupported', '/t', 'REG_DWORD', '/d', '7', '/f']);
    expect(steps[7]!.args.slice(2)).toEqual(['/v', 'ConfigFile', '/t', 'REG_SZ', '/d', plan.config, '/f']);
    expect(steps[9]!.args).toEqual(['prepare', '--data-dir', plan.dataDir]);
    expect(dryRun.commandLines().join('\n')).not.toMatch(/password/i);
  });

  it('install again: sc config instead of create (a new account or path), same steps after', async () => {
    const dryRun = new DryRun((program, args) => (program === 'sc.exe' && args[0] === 'query' ? { code: 0, stdout: 'STATE : 1 STOPPED', stderr: '' } : undefined));
    await new ScManager(dryRun).install({ ...plan, account: 'LocalService' });
    const lines = dryRun.commandLines();
    expect(lines[1]).toMatch(/^sc\.exe config smtp-oauth-relay binPath= .* obj= NT AUTHORITY\\LocalService /);
    expect(lines.some((line) => line.includes('sidtype'))).toBe(false);
    expect(lines.find((line) => line.includes(' prepare '))).toBe(`${host} prepare --data-dir ${plan.dataDir} --account NT AUTHORITY\\LocalService`);
  });

  it('a user account with a password is refused before anything runs; a gMSA (DOMAIN\\name$) is taken', async () => {
    const dryRun = new DryRun();
    await expect(new ScManager(dryRun).install({ ...plan, account: 'CONTOSO\\svc-relay' })).rejects.toThrow(AccountNeedsPasswordError);
    expect(dryRun.steps).toEqual([]);
    await new ScManager(dryRun).install({ ...plan, account: 'CONTOSO\\relay-gmsa$' });
    expect(dryRun.commandLines()[1]).toContain('obj= CONTOSO\\relay-gmsa$ ');
  });

  it('not elevated: "Access is denied" becomes "run this in an elevated prompt", and nothing after it runs', async () => {
    const denied = { code: 5, stdout: '[SC] OpenSCManager FAILED 5:\r\n\r\nAccess is denied.\r\n', stderr: '' };
    const dryRun = new DryRun((program, args) => (program === 'sc.exe' && args[0] === 'create' ? denied : undefined));
    const failure = new ScManager(dryRun).install(plan);
    await expect(failure).rejects.toThrow(ElevationRequiredError);
    await expect(failure).rejects.toThrow(/Access is denied[\s\S]*Run as administrator/);
    expect(dryRun.commandLines()).toHaveLength(2);
  });

  it('another failure keeps its own message', async () => {
    const dryRun = new DryRun((program) => (program === 'net.exe' ? { code: 2, stdout: '', stderr: 'The service name is invalid.' } : undefined));
    await expect(new ScManager(dryRun).start()).rejects.toThrow(/^net\.exe start smtp-oauth-relay exited 2: The service name is invalid\.$/);
  });

  it('uninstall, start, stop, restart, status; uninstall leaves the data folder alone', async () => {
    const running = { code: 0, stdout: 'SERVICE_NAME: smtp-oauth-relay\n        STATE              : 4  RUNNING\n', stderr: '' };
    const dryRun = new DryRun((program, args) => (program === 'sc.exe' && args[0] === 'query' ? running : undefined));
    const manager = new ScManager(dryRun);
    await manager.start();
    await manager.stop();
    await manager.restart();
    expect((await manager.status()).stdout).toContain('RUNNING');
    await manager.uninstall();
    expect(dryRun.commandLines()).toEqual([
      'net.exe start smtp-oauth-relay',
      'net.exe stop smtp-oauth-relay',
      'sc.exe query smtp-oauth-relay',
      'net.exe stop smtp-oauth-relay',
      'net.exe start smtp-oauth-relay',
      'sc.exe query smtp-oauth-relay',
      'net.exe stop smtp-oauth-relay',
      'sc.exe delete smtp-oauth-relay',
      'reg.exe delete HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay /f',
      'reg.exe delete HKLM\\SOFTWARE\\smtp-oauth-relay /f',
    ]);
    expect(dryRun.steps.some((step) => step.kind !== 'command')).toBe(false);
  });

  it('restart of a stopped service only starts it', async () => {
    const stopped = { code: 0, stdout: 'STATE              : 1  STOPPED\n', stderr: '' };
    const dryRun = new DryRun((program, args) => (program === 'sc.exe' && args[0] === 'query' ? stopped : undefined));
    await new ScManager(dryRun).restart();
    expect(dryRun.commandLines()).toEqual(['sc.exe query smtp-oauth-relay', 'net.exe start smtp-oauth-relay']);
  });

  it('`service install --print` on Windows shows the sc.exe commands and changes nothing', async () => {
    let printed = '';
    const code = await runServiceAction(
      'install',
      { print: true, config: plan.config, dataDir: plan.dataDir },
      { target: { platform: 'win32', system: false, env: { ProgramData: 'C:\\ProgramData' } }, node: plan.node, cli: plan.cli, out: (text) => (printed += text) },
    );
    expect(code).toBe(0);
    expect(printed).toContain('# smtp-oauth-relay service install would do this (nothing was changed):');
    expect(printed).toMatch(/^sc\.exe create smtp-oauth-relay binPath= .*smtp-oauth-relay-service\.exe/m);
    expect(windowsLayout({ ProgramData: 'D:\\PD' }).serviceDir).toBe('D:\\PD\\smtp-oauth-relay');
  });
});
