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
  parseServiceState,
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
    expect(windowsArg('--config')).toBe('--config');
    expect(windowsArg('')).toBe('""');
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

/** A service that follows net start / net stop, as the SCM would; `failWith` makes a start end STOPPED with that exit code. */
function scmStandIn(initial: string, failWith?: number): DryRun {
  let state = initial;
  let pendingLooks = 0;
  return new DryRun((program, args) => {
    if (program === 'net.exe') {
      state = args[0] === 'start' ? 'START_PENDING' : 'STOP_PENDING';
      pendingLooks = 2;
      return undefined;
    }
    if (program !== 'sc.exe' || args[0] !== 'query') return undefined;
    if (state.endsWith('_PENDING') && pendingLooks-- === 0) state = state === 'STOP_PENDING' ? 'STOPPED' : failWith === undefined ? 'RUNNING' : 'STOPPED';
    const codes = state === 'STOPPED' && failWith !== undefined ? `WIN32_EXIT_CODE : 1066 (0x42a)\nSERVICE_EXIT_CODE : ${failWith} (0x4e)\n` : '';
    return { code: 0, stdout: `SERVICE_NAME: smtp-oauth-relay\n        STATE              : 4  ${state}\n${codes}`, stderr: '' };
  });
}
const noWait = (): Promise<void> => Promise.resolve();

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
      'reg.exe add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay',
      'reg.exe add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay',
      'reg.exe add HKLM\\SOFTWARE\\smtp-oauth-relay',
      'reg.exe add HKLM\\SOFTWARE\\smtp-oauth-relay',
      `${host} prepare --data-dir`,
      'net.exe start smtp-oauth-relay',
      'sc.exe query smtp-oauth-relay',
    ]);
    expect(steps[1]!.args).toEqual(['create', 'smtp-oauth-relay', 'binPath=', hostCommand(plan).binPath, 'start=', 'auto', 'obj=', 'NT SERVICE\\smtp-oauth-relay', 'DisplayName=', 'SMTP OAuth relay']);
    expect(steps[3]!.args.slice(2)).toEqual(['reset=', '86400', 'actions=', 'restart/10000/restart/30000/restart/120000']);
    expect(steps[4]!.args.slice(2)).toEqual(['/v', 'EventMessageFile', '/t', 'REG_EXPAND_SZ', '/d', host, '/f']);
    expect(steps[5]!.args.slice(2)).toEqual(['/v', 'TypesSupported', '/t', 'REG_DWORD', '/d', '7', '/f']);
    expect(steps[6]!.args.slice(2)).toEqual(['/v', 'ConfigFile', '/t', 'REG_SZ', '/d', plan.config, '/f']);
    expect(steps[8]!.args).toEqual(['prepare', '--data-dir', plan.dataDir]);
    expect(dryRun.commandLines().join('\n')).not.toMatch(/password/i);
  });

  it('install again: sc config instead of create (a new account or path), same steps after', async () => {
    const dryRun = scmStandIn('STOPPED');
    await new ScManager(dryRun, noWait).install({ ...plan, account: 'LocalService' });
    const lines = dryRun.commandLines();
    expect(lines[1]).toMatch(/^sc\.exe config smtp-oauth-relay binPath= .* obj= NT AUTHORITY\\LocalService /);
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


  it('start and stop wait while the service is pending (Wine\'s net.exe does not); uninstall leaves the data folder alone', async () => {
    const dryRun = scmStandIn('STOPPED');
    const manager = new ScManager(dryRun, noWait);
    await manager.start();
    expect(parseServiceState((await manager.status()).stdout)?.name).toBe('RUNNING');
    await manager.stop();
    expect(parseServiceState((await manager.status()).stdout)?.name).toBe('STOPPED');
    await manager.restart();
    await manager.uninstall();
    const query = 'sc.exe query smtp-oauth-relay';
    expect(dryRun.commandLines()).toEqual([
      'net.exe start smtp-oauth-relay', query, query, query, query,
      'net.exe stop smtp-oauth-relay', query, query, query, query,
      query, 'net.exe start smtp-oauth-relay', query, query, query,
      'net.exe stop smtp-oauth-relay',
      'sc.exe delete smtp-oauth-relay',
      'reg.exe delete HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\smtp-oauth-relay /f',
      'reg.exe delete HKLM\\SOFTWARE\\smtp-oauth-relay /f',
    ]);
    expect(dryRun.steps.some((step) => step.kind !== 'command')).toBe(false);
  });

  it('restart of a running service stops it first', async () => {
    const dryRun = scmStandIn('RUNNING');
    await new ScManager(dryRun, noWait).restart();
    expect(dryRun.commandLines().filter((line) => line.startsWith('net.exe'))).toEqual(['net.exe stop smtp-oauth-relay', 'net.exe start smtp-oauth-relay']);
  });

  it('a start that ends STOPPED (78: the configuration) is an error that says where the reason is', async () => {
    await expect(new ScManager(scmStandIn('STOPPED', 78), noWait).start()).rejects.toThrow(/did not start \(service exit code 78, Windows exit code 1066\).*Event Log/);
  });

  it('reads sc query', () => {
    const output = 'SERVICE_NAME: smtp-oauth-relay\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 1  STOPPED\r\n        WIN32_EXIT_CODE    : 1066  (0x42a)\r\n        SERVICE_EXIT_CODE  : 78  (0x4e)\r\n';
    expect(parseServiceState(output)).toEqual({ name: 'STOPPED', win32ExitCode: 1066, serviceExitCode: 78 });
    expect(parseServiceState('[SC] EnumQueryServicesStatus:OpenService FAILED 1060:')).toBeUndefined();
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
