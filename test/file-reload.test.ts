import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../src/app.js';
import { parseCorefile } from '../src/corefile/parse.js';
import { setLogSink } from '../src/log.js';
import { rcodeOf, rrLines, udpQuery } from './support/dns.js';
import { freePort, startCorefile } from './support/server.js';

const zoneText = (serial: number, ip: string, extra = ''): string =>
  `$ORIGIN example.org.\n@ 60 IN SOA ns hostmaster ${serial} 7200 3600 1209600 60\n  60 IN NS ns\nns 60 IN A 192.0.2.53\nwww 60 IN A ${ip}\n${extra}`;

async function until(cond: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

async function wwwA(port: number): Promise<string[]> {
  return rrLines((await udpQuery(port, 'www.example.org', 'A')).answers).map((l) => l.split(' ')[2] ?? '');
}

describe('file plugin: reload and setup errors', function () {
  this.timeout(20000);
  let dir: string;
  const logs: string[] = [];

  beforeEach(() => {
    logs.length = 0;
    setLogSink((l) => logs.push(l));
    dir = mkdtempSync(join(tmpdir(), 'clusterdns-file-reload-'));
  });
  afterEach(() => {
    setLogSink(null);
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks up a changed zone with a new serial, keeps the old zone on a broken file, and ignores an unchanged serial', async () => {
    const db = join(dir, 'db.example.org');
    writeFileSync(db, zoneText(1, '192.0.2.1'));
    const srv = await startCorefile(`example.org {\n    file ${db} {\n        reload 50ms\n    }\n}\n`);
    try {
      expect(await wwwA(srv.port)).to.deep.equal(['192.0.2.1']);

      writeFileSync(db, zoneText(2, '192.0.2.2'));
      expect(await until(async () => (await wwwA(srv.port))[0] === '192.0.2.2')).to.equal(true);
      expect(logs).to.include(`[INFO] plugin/file: Successfully reloaded zone "example.org." in "${db}" with 2 SOA serial`);

      // Line 6 has a bad TTL: the zone of serial 2 keeps answering.
      writeFileSync(db, zoneText(3, '192.0.2.3', 'bad 3x00 IN A 192.0.2.4\n'));
      expect(await until(() => logs.some((l) => l.startsWith('[ERROR] plugin/file:')))).to.equal(true);
      expect(logs.filter((l) => l.startsWith('[ERROR]'))).to.deep.equal([
        `[ERROR] plugin/file: Parsing zone file failed, keeping the zone loaded before: ${db}:6: bad TTL "3x00": expected seconds from 0 to 2147483647 (or 1h30m)`,
      ]);
      expect(await wwwA(srv.port)).to.deep.equal(['192.0.2.2']);

      // Changed data, same serial: not reloaded (CoreDNS reloads on a serial change), said once.
      writeFileSync(db, zoneText(2, '192.0.2.5'));
      expect(await until(() => logs.some((l) => l.startsWith('[WARNING] plugin/file:')))).to.equal(true);
      expect(logs.find((l) => l.startsWith('[WARNING]'))).to.match(/SOA serial 2 did not: not reloaded/);
      expect(await wwwA(srv.port)).to.deep.equal(['192.0.2.2']);

      writeFileSync(db, zoneText(4, '192.0.2.6'));
      expect(await until(async () => (await wwwA(srv.port))[0] === '192.0.2.6')).to.equal(true);
    } finally {
      await srv.stop();
    }
    // stop() cleared the timer: a later change is not read.
    const count = logs.length;
    writeFileSync(db, zoneText(5, '192.0.2.7'));
    await new Promise((r) => setTimeout(r, 200));
    expect(logs.slice(count).filter((l) => l.includes('plugin/file'))).to.deep.equal([]);
  });

  it('keeps the loaded zone when the file goes away, and says so once', async () => {
    const db = join(dir, 'db');
    writeFileSync(db, zoneText(1, '192.0.2.1'));
    const srv = await startCorefile(`example.org {\n    file ${db} {\n        reload 30ms\n    }\n}\n`);
    try {
      rmSync(db);
      expect(await until(() => logs.some((l) => l.startsWith('[ERROR] plugin/file:')))).to.equal(true);
      await new Promise((r) => setTimeout(r, 150));
      expect(logs.filter((l) => l.startsWith('[ERROR]'))).to.deep.equal([
        `[ERROR] plugin/file: Failed to open zone file "${db}" (ENOENT), keeping the zone loaded before`,
      ]);
      expect(await wwwA(srv.port)).to.deep.equal(['192.0.2.1']);
    } finally {
      await srv.stop();
    }
  });

  it('reload_by_mtime reloads a changed file whatever its serial', async () => {
    const db = join(dir, 'db');
    writeFileSync(db, zoneText(1, '192.0.2.1'));
    const srv = await startCorefile(`example.org {\n    file ${db} {\n        reload 50ms\n        reload_by_mtime\n    }\n}\n`);
    try {
      await new Promise((r) => setTimeout(r, 20));
      writeFileSync(db, zoneText(1, '192.0.2.8'));
      expect(await until(async () => (await wwwA(srv.port))[0] === '192.0.2.8')).to.equal(true);
    } finally {
      await srv.stop();
    }
  });

  it('serves SERVFAIL for a zone file that does not exist yet, and the zone once it appears', async () => {
    const db = join(dir, 'later.db');
    const srv = await startCorefile(`example.org {\n    file ${db} {\n        reload 50ms\n    }\n}\n`);
    try {
      expect(logs.some((l) => l.startsWith('[WARNING] plugin/file: Failed to open') && l.includes(db))).to.equal(true);
      expect(rcodeOf(await udpQuery(srv.port, 'www.example.org', 'A'))).to.equal('SERVFAIL');
      writeFileSync(db, zoneText(1, '192.0.2.1'));
      expect(await until(async () => (await wwwA(srv.port))[0] === '192.0.2.1')).to.equal(true);
    } finally {
      await srv.stop();
    }
  });

  it('refuses at start a missing file without reload, and a broken zone, naming the Corefile line and FILE:LINE', async () => {
    const db = join(dir, 'db');
    let err: unknown = null;
    await startCorefile(`example.org {\n    file ${join(dir, 'missing.db')} {\n        reload 0\n    }\n}\n`).catch((e: unknown) => { err = e; });
    expect(String(err)).to.include(`test.Corefile:2: file: zone file "${join(dir, 'missing.db')}" does not exist`);

    const cases: Array<[string, string]> = [
      [zoneText(1, '192.0.2.1', 'x 60 IN A 192.0.2.300\n'), `${db}:6: bad IPv4 address "192.0.2.300" in A record`],
      [zoneText(1, '192.0.2.1', 'x 60 IN BOGUS 1\n'), `${db}:6: unknown record type "BOGUS"`],
      ['www 60 IN A 192.0.2.1\n', `${db}:1: the zone has no SOA record at its origin example.org.`],
      [zoneText(1, '192.0.2.1', '$INCLUDE other.db\n'), `${db}:6: $INCLUDE is not supported`],
    ];
    for (const [text, message] of cases) {
      writeFileSync(db, text);
      err = null;
      await startCorefile(`example.org {\n    file ${db}\n}\n`).catch((e: unknown) => { err = e; });
      expect(String(err)).to.include(`test.Corefile:2: file: ${message}`);
    }
  });

  it('refuses unknown options and bad durations in the block', async () => {
    const db = join(dir, 'db');
    writeFileSync(db, zoneText(1, '192.0.2.1'));
    const problems: Array<[string, RegExp]> = [
      ['no_such_thing', /test\.Corefile:3: file: unknown option "no_such_thing"; accepted: reload, reload_by_mtime, fallthrough/],
      ['reload soon', /test\.Corefile:3: invalid duration "soon"/],
      ['reload', /test\.Corefile:3: file: option "reload": wrong number of arguments \(got 0\); usage: reload DURATION/],
    ];
    let bare: unknown = null;
    await startCorefile('example.org {\n    file\n}\n').catch((e: unknown) => { bare = e; });
    expect(String(bare)).to.match(/test\.Corefile:2: file: wrong number of arguments \(got 0\); usage: file DBFILE \[ZONES\.\.\.\]/);
    for (const [line, re] of problems) {
      let err: unknown = null;
      await startCorefile(`example.org {\n    file ${db} {\n        ${line}\n    }\n}\n`).catch((e: unknown) => { err = e; });
      expect(String(err)).to.match(re);
    }
  });

  it('serves one file as several zones, each read with its own origin', async () => {
    const db = join(dir, 'db.shared');
    writeFileSync(db, '@ 60 IN SOA ns hostmaster 1 7200 3600 1209600 60\nwww 60 IN A 192.0.2.21\n');
    const srv = await startCorefile(`. {\n    file ${db} a.test b.test\n}\n`);
    try {
      for (const zone of ['a.test', 'b.test']) {
        expect(rrLines((await udpQuery(srv.port, `www.${zone}`, 'A')).answers)).to.deep.equal([`www.${zone} A 192.0.2.21`]);
        const soa = await udpQuery(srv.port, zone, 'SOA');
        expect((soa.answers?.[0] as { data?: { mname?: string } } | undefined)?.data?.mname).to.equal(`ns.${zone}`);
      }
      // Names in neither zone reach the end of the chain: SERVFAIL (CoreDNS's file, last in its chain, says REFUSED).
      expect(rcodeOf(await udpQuery(srv.port, 'www.c.test', 'A'))).to.equal('SERVFAIL');
    } finally {
      await srv.stop();
    }
  });

  it('takes a relative DBFILE from the Corefile\'s folder', async () => {
    writeFileSync(join(dir, 'db.rel'), zoneText(1, '192.0.2.11'));
    const corefile = parseCorefile(`example.org {\n    bind 127.0.0.1\n    file db.rel\n}\n`, { file: join(dir, 'Corefile') });
    const port = await freePort();
    const server = createServer(corefile, { forcePort: port });
    await server.start();
    try {
      expect(await wwwA(port)).to.deep.equal(['192.0.2.11']);
    } finally {
      await server.stop(1000);
    }
  });
});
