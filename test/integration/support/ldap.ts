// A real OpenLDAP server for tests: Debian's slapd (scripts/setup-identity-servers.sh installs
// it) with a temporary cn=config made by `slapadd -n0` from a generated LDIF (mdb database;
// core, cosine, inetorgperson, nis schemas), on a free loopback port. halt()/resume() stop and
// start the same server (same port, same data) to test an unreachable backend.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { freePort } from '../../../controlplane/harness.ts';
import { eventually } from './eventually.ts';

export interface TestLdapServer {
  readonly url: string;
  readonly port: number;
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  /** The rootDN (tests use it to look and to change things "by hand"). */
  readonly adminDn: string;
  readonly adminPassword: string;
  /** The service account Roster binds as, and the file holding its password (a mounted Secret). */
  readonly rosterDn: string;
  readonly rosterPasswordFile: string;
  /** A service account like rosterDn (same password file) whose searches the server cuts off after 2 entries. */
  readonly limitedDn: string;
  /** A client bound as the rootDN; the caller unbinds it. */
  adminClient(): Promise<Client>;
  /** Stops the server (the data stays). */
  halt(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((c) => c.kill('SIGKILL')));

export function ldapAvailable(): boolean {
  return existsSync(SLAPD) && existsSync(SLAPADD) && existsSync('/etc/ldap/schema/inetorgperson.ldif');
}

export async function startLdapServer(): Promise<TestLdapServer> {
  if (!ldapAvailable()) throw new Error('slapd is not installed: run scripts/setup-identity-servers.sh');
  const dir = mkdtempSync(join(tmpdir(), 'roster-slapd-'));
  const configDir = join(dir, 'slapd.d');
  const dataDir = join(dir, 'data');
  mkdirSync(configDir);
  mkdirSync(dataDir);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const baseDn = 'dc=roster,dc=test';
  const adminDn = `cn=admin,${baseDn}`;
  const adminPassword = 'admin-secret';
  const rosterDn = `cn=roster,ou=services,${baseDn}`;
  const rosterPassword = 'roster-secret';
  // Same rights as rosterDn, but the server stops every search of it after 2 entries (paged or not).
  const limitedDn = `cn=roster-limited,ou=services,${baseDn}`;
  const rosterPasswordFile = join(dir, 'roster-bind-password');
  writeFileSync(rosterPasswordFile, `${rosterPassword}\n`, { mode: 0o600 });

  const config = `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${join(dir, 'slapd.pid')}
olcArgsFile: ${join(dir, 'slapd.args')}

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

include: file:///etc/ldap/schema/nis.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 1000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${baseDn}
olcDbDirectory: ${dataDir}
olcDbMaxSize: 268435456
olcRootDN: ${adminDn}
olcRootPW: ${adminPassword}
olcDbIndex: objectClass eq
olcDbIndex: mail eq
olcDbIndex: member eq
olcDbIndex: businessCategory eq
olcAccess: {0}to attrs=userPassword by self =xw by anonymous auth by * none
olcLimits: {0}dn.exact="${limitedDn}" size.soft=2 size.hard=2 size.prtotal=2
olcAccess: {1}to * by dn.children="ou=services,${baseDn}" write by users read by * none
`;
  const data = `dn: ${baseDn}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Roster test
dc: roster

dn: ou=people,${baseDn}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${baseDn}
objectClass: organizationalUnit
ou: groups

dn: ou=services,${baseDn}
objectClass: organizationalUnit
ou: services

dn: ${rosterDn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: roster
userPassword: ${rosterPassword}

dn: ${limitedDn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: roster-limited
userPassword: ${rosterPassword}
`;
  writeFileSync(join(dir, 'config.ldif'), config);
  writeFileSync(join(dir, 'data.ldif'), data);
  for (const args of [
    ['-n0', '-F', configDir, '-l', join(dir, 'config.ldif')],
    ['-n1', '-F', configDir, '-l', join(dir, 'data.ldif')],
  ]) {
    const result = spawnSync(SLAPADD, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`slapadd ${args.join(' ')} failed:\n${result.stderr}`);
  }

  let child: ChildProcess | undefined;
  const logPath = join(dir, 'slapd.log');
  const launch = async () => {
    // -d 0: stay in the foreground (the test owns the process) without debug output.
    const proc = spawn(SLAPD, ['-d', '0', '-h', `${url}/`, '-F', configDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    running.add(proc);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      writeFileSync(logPath, stderr);
    });
    proc.once('exit', () => running.delete(proc));
    await eventually(
      async () => {
        if (proc.exitCode !== null) throw new Error(`slapd exited with ${proc.exitCode}: ${stderr}`);
        const c = new Client({ url, connectTimeout: 1000, timeout: 2000 });
        try {
          await c.bind(adminDn, adminPassword);
        } finally {
          await c.unbind().catch(() => undefined);
        }
      },
      20_000,
      100,
    );
  };
  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();

  return {
    url,
    port,
    baseDn,
    peopleDn: `ou=people,${baseDn}`,
    groupsDn: `ou=groups,${baseDn}`,
    adminDn,
    adminPassword,
    rosterDn,
    rosterPasswordFile,
    limitedDn,
    async adminClient() {
      const c = new Client({ url, connectTimeout: 2000, timeout: 5000 });
      await c.bind(adminDn, adminPassword);
      return c;
    },
    halt,
    resume: launch,
    async stop() {
      await halt();
      if (process.env.ROSTER_KEEP_TEST_DIRS) console.log(`slapd files kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
