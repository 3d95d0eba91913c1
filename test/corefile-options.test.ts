import { expect } from 'chai';
import type { Directive } from '../src/corefile/ast.js';
import { CorefileError } from '../src/corefile/errors.js';
import { expectArgs, noBlock, parseDuration, parseHostPort, parseIntArg } from '../src/corefile/options.js';
import { unknownOptionError } from '../src/corefile/walk.js';

const at = { file: 'Corefile', line: 9 };
const dir = (name: string, args: string[] = [], block: Directive[] | null = null): Directive => ({ name, args, block, file: 'Corefile', line: 4 });

function throwsAt(fn: () => unknown, line: number, reason: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).to.be.instanceOf(CorefileError);
  expect((err as CorefileError).line).to.equal(line);
  expect((err as CorefileError).reason).to.match(reason);
}

describe('corefile option helpers', () => {
  it('parseDuration reads Go durations into milliseconds', () => {
    expect(parseDuration('5s', at)).to.equal(5000);
    expect(parseDuration('1m30s', at)).to.equal(90_000);
    expect(parseDuration('500ms', at)).to.equal(500);
    expect(parseDuration('2h', at)).to.equal(7_200_000);
    expect(parseDuration('1.5s', at)).to.equal(1500);
    expect(parseDuration('1h2m3s4ms', at)).to.equal(3_723_004);
    expect(parseDuration('250us', at)).to.equal(0.25);
    expect(parseDuration('0', at)).to.equal(0);
    expect(parseDuration('30', at)).to.equal(30_000); // bare integer = seconds
    throwsAt(() => parseDuration('-5s', at), 9, /must not be negative/);
    for (const bad of ['', 's', '5x', '5 s', '1.5', 'abc', '5s3', '1e3s']) {
      throwsAt(() => parseDuration(bad, at), 9, /invalid duration/);
    }
  });

  it('parseIntArg checks syntax and range', () => {
    expect(parseIntArg('1000', at, 1, 10000, 'max_concurrent')).to.equal(1000);
    expect(parseIntArg('-1', at, -5, 5, 'x')).to.equal(-1);
    throwsAt(() => parseIntArg('0', at, 1, 10, 'ttl'), 9, /invalid ttl "0": expected an integer from 1 to 10/);
    throwsAt(() => parseIntArg('1.5', at, 1, 10, 'ttl'), 9, /invalid ttl/);
    throwsAt(() => parseIntArg('12abc', at, 1, 100, 'ttl'), 9, /invalid ttl/);
    throwsAt(() => parseIntArg('', at, 1, 100, 'ttl'), 9, /invalid ttl/);
  });

  it('expectArgs, noBlock, unknownOptionError point at the directive', () => {
    expectArgs(dir('forward', ['.', '1.1.1.1']), 2, Infinity, 'forward FROM TO...');
    throwsAt(() => expectArgs(dir('forward'), 2, Infinity, 'forward FROM TO...'), 4, /^forward: wrong number of arguments \(got 0\); usage: forward FROM TO\.\.\.$/);
    throwsAt(() => expectArgs(dir('ready', ['a', 'b']), 0, 1, 'ready [ADDRESS]'), 4, /got 2/);
    noBlock(dir('loop'));
    throwsAt(() => noBlock(dir('loop', [], [])), 4, /^loop takes no block$/);
    const e = unknownOptionError(dir('maxfails', ['3']), 'forward', ['max_fails', 'policy']);
    expect(e).to.be.instanceOf(CorefileError);
    expect(e.message).to.equal('Corefile:4: forward: unknown option "maxfails"; accepted: max_fails, policy');
  });

  it('parseHostPort reads the address forms', () => {
    expect(parseHostPort('1.2.3.4', 53, at)).to.deep.equal({ host: '1.2.3.4', port: 53 });
    expect(parseHostPort('1.2.3.4:5353', 53, at)).to.deep.equal({ host: '1.2.3.4', port: 5353 });
    expect(parseHostPort('[::1]:53', 0, at)).to.deep.equal({ host: '::1', port: 53 });
    expect(parseHostPort('[fd00::1]', 53, at)).to.deep.equal({ host: 'fd00::1', port: 53 });
    expect(parseHostPort('::1', 53, at)).to.deep.equal({ host: '::1', port: 53 });
    expect(parseHostPort(':8080', 53, at)).to.deep.equal({ host: '', port: 8080 });
    expect(parseHostPort('localhost:9153', 53, at)).to.deep.equal({ host: 'localhost', port: 9153 });
    expect(parseHostPort('dns.example.org', 53, at)).to.deep.equal({ host: 'dns.example.org', port: 53 });
    expect(parseHostPort('127.0.0.1:0', 8080, at, { allowZeroPort: true })).to.deep.equal({ host: '127.0.0.1', port: 0 });
  });

  it('parseHostPort rejects malformed addresses', () => {
    for (const bad of ['', ':', '1.2.3.4:', '1.2.3.4:0', '1.2.3.4:70000', '1.2.3.4:x', '[::1', '[::1]x', '[1.2.3.4]:53', 'fd00::zz', 'bad host:53', 'a..b', '-a']) {
      throwsAt(() => parseHostPort(bad, 53, at), 9, /invalid address/);
    }
  });
});
