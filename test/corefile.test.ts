import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Directive } from '../src/corefile/ast.js';
import { CorefileError, configError } from '../src/corefile/errors.js';
import { loadCorefile, parseCorefile } from '../src/corefile/parse.js';
import { nth } from './support/nth.js';

const parse = (text: string, env: Record<string, string | undefined> = {}) => parseCorefile(text, { file: 'Corefile', env });

/** A compact view of directives: [name, ...args] or [name, ...args, [block]] */
type View = (string | View[])[];
function view(ds: Directive[]): View[] {
  return ds.map((d) => (d.block ? [d.name, ...d.args, view(d.block)] : [d.name, ...d.args]));
}

function expectError(fn: () => unknown, file: string, line: number, reason: RegExp): CorefileError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a CorefileError').to.be.instanceOf(CorefileError);
  const ce = err as CorefileError;
  expect(ce.reason).to.match(reason);
  expect({ file: ce.file, line: ce.line }).to.deep.equal({ file, line });
  expect(ce.message).to.equal(`${file}:${line}: ${ce.reason}`);
  return ce;
}

describe('corefile parser', () => {
  it('parses the kubeadm default Corefile', () => {
    const text = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`;
    const cf = parse(text);
    expect(cf.blocks).to.have.length(1);
    const b = nth(cf.blocks, 0);
    expect(b.keys).to.deep.equal(['.:53']);
    expect([b.file, b.line]).to.deep.equal(['Corefile', 1]);
    expect(view(b.directives)).to.deep.equal([
      ['errors'],
      ['health', [['lameduck', '5s']]],
      ['ready'],
      ['kubernetes', 'cluster.local', 'in-addr.arpa', 'ip6.arpa', [['pods', 'insecure'], ['fallthrough', 'in-addr.arpa', 'ip6.arpa'], ['ttl', '30']]],
      ['prometheus', ':9153'],
      ['forward', '.', '/etc/resolv.conf', [['max_concurrent', '1000']]],
      ['cache', '30', [['disable', 'success', 'cluster.local'], ['disable', 'denial', 'cluster.local']]],
      ['loop'],
      ['reload'],
      ['loadbalance'],
    ]);
    expect(b.directives.map((d) => d.line)).to.deep.equal([2, 3, 6, 7, 12, 13, 16, 20, 21, 22]);
    expect(nth(b.directives, 3).block!.map((d) => d.line)).to.deep.equal([8, 9, 10]);
    expect(nth(b.directives, 0).block).to.equal(null);
    expect(nth(b.directives, 0).file).to.equal('Corefile');
  });

  it('handles several server blocks and key lists (spaces, commas, trailing comma)', () => {
    const cf = parse(`example.org example.net {
  whoami
}
a.com, b.com,
  c.com
{
  log
}
d.com,e.com {
}`);
    expect(cf.blocks.map((b) => [b.keys, b.line])).to.deep.equal([
      [['example.org', 'example.net'], 1],
      [['a.com', 'b.com', 'c.com'], 4],
      [['d.com', 'e.com'], 9],
    ]);
    expect(view(nth(cf.blocks, 1).directives)).to.deep.equal([['log']]);
    expect(nth(cf.blocks, 2).directives).to.deep.equal([]);
  });

  it('accepts a single server block without braces', () => {
    const cf = parse(`.:1053
whoami
forward . 1.1.1.1 {
  max_fails 2
}
`);
    expect(cf.blocks).to.have.length(1);
    expect(nth(cf.blocks, 0).keys).to.deep.equal(['.:1053']);
    expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['whoami'], ['forward', '.', '1.1.1.1', [['max_fails', '2']]]]);
  });

  it('parses nested blocks generically, including one-line blocks', () => {
    const cf = parse(`. {
  outer a {
    middle b {
      inner c
      deepest { x 1 }
    }
    after
  }
  hosts { fallthrough }
}`);
    expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([
      ['outer', 'a', [['middle', 'b', [['inner', 'c'], ['deepest', [['x', '1']]]]], ['after']]],
      ['hosts', [['fallthrough']]],
    ]);
    const deepest = nth(nth(nth(nth(cf.blocks, 0).directives, 0).block, 0).block, 1);
    expect(deepest.line).to.equal(5);
    expect(nth(deepest.block, 0).line).to.equal(5);
  });

  it('reads quoted strings: spaces, newlines, escapes, backticks', () => {
    const cf = parse(`. {
  a "hello world" "say \\"hi\\"" "back\\\\slash" "keep\\n"
  b "two
lines" same-line
  c \`raw \\" "q"\` "{" "}"
  d "" x"y
}`);
    expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([
      ['a', 'hello world', 'say "hi"', 'back\\slash', 'keep\\n'],
      ['b', 'two\nlines', 'same-line'],
      ['c', 'raw \\" "q"', '{', '}'],
      ['d', '', 'x"y'],
    ]);
    expect(nth(cf.blocks, 0).directives.map((d) => d.line)).to.deep.equal([2, 3, 5, 6]);
  });

  it('skips comments, but not inside quotes', () => {
    const cf = parse(`# header comment
. { # after brace
  # whole line
  log # trailing
  rewrite "a # b" c#d e
}
# the end`);
    expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['log'], ['rewrite', 'a # b', 'c']]);
    expect(nth(cf.blocks, 0).line).to.equal(2);
    expect(nth(nth(cf.blocks, 0).directives, 1).line).to.equal(5);
  });

  it('handles CRLF line endings', () => {
    const cf = parse('. {\r\n  log\r\n  errors\r\n}\r\n');
    expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['log'], ['errors']]);
    expect(nth(nth(cf.blocks, 0).directives, 1).line).to.equal(3);
  });

  describe('environment substitution', () => {
    it('replaces {$VAR} and {%VAR%} anywhere in a token; unset is empty', () => {
      const env = { ZONE: 'cluster.local', PORT: '1053', UP: '10.0.0.1', TTL: '5' };
      const cf = parse(
        `{$ZONE}:{$PORT} {
  forward . {%UP%}:53 "{$UP}"
  cache {$TTL}s x{$NOPE}y {$NOPE}
}`,
        env,
      );
      expect(nth(cf.blocks, 0).keys).to.deep.equal(['cluster.local:1053']);
      expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([
        ['forward', '.', '10.0.0.1:53', '10.0.0.1'],
        ['cache', '5s', 'xy', ''],
      ]);
    });

    it('keeps a value as one token and never lets it open a block; line numbers unchanged', () => {
      const env = { MANY: 'a b\nc', BRACE: '{', HASH: 'x # y' };
      const cf = parse(`. {
  one {$MANY} {$HASH}
  two {$BRACE}
  three
}`, env);
      expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['one', 'a b\nc', 'x # y'], ['two', '{'], ['three']]);
      expect(nth(cf.blocks, 0).directives.map((d) => d.line)).to.deep.equal([2, 3, 4]);
    });

    it('defaults to process.env', () => {
      process.env.CLUSTERDNS_TEST_VAR = 'from-env';
      try {
        const cf = parseCorefile('. {\n  x {$CLUSTERDNS_TEST_VAR}\n}', { file: 'Corefile' });
        expect(nth(nth(cf.blocks, 0).directives, 0).args).to.deep.equal(['from-env']);
      } finally {
        delete process.env.CLUSTERDNS_TEST_VAR;
      }
    });
  });

  describe('snippets', () => {
    it('defines and pastes snippets; a snippet is not a server block', () => {
      const cf = parse(`(common) {
  errors
  cache 30 {
    success 100
  }
}
a.com {
  import common
  log
}
b.com {
  import common
}`);
      expect(cf.blocks.map((b) => b.keys)).to.deep.equal([['a.com'], ['b.com']]);
      expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['errors'], ['cache', '30', [['success', '100']]], ['log']]);
      expect(view(nth(cf.blocks, 1).directives)).to.deep.equal([['errors'], ['cache', '30', [['success', '100']]]]);
      // Pasted lines keep the snippet's own positions.
      expect(nth(cf.blocks, 1).directives.map((d) => d.line)).to.deep.equal([2, 3]);
    });

    it('pastes a snippet inside a nested block, and a one-line snippet', () => {
      const cf = parse(`(k8s) { pods insecure }
. {
  kubernetes cluster.local {
    import k8s
    ttl 30
  }
}`);
      expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['kubernetes', 'cluster.local', [['pods', 'insecure'], ['ttl', '30']]]]);
    });

    it('rejects redeclared, unknown, recursive and misplaced snippets', () => {
      expectError(() => parse('(s) {\n a\n}\n(s) {\n b\n}'), 'Corefile', 4, /snippet \(s\) is already defined/);
      expectError(() => parse('. {\n  import nosuch\n}'), 'Corefile', 2, /no snippet \(nosuch\)/);
      expectError(() => parse('(a) {\n  import b\n}\n(b) {\n  import a\n}\n. {\n  import a\n}'), 'Corefile', 5, /import cycle: snippet \(a\)/);
      expectError(() => parse('. {\n  (s) {\n  }\n}'), 'Corefile', 2, /top level/);
      expectError(() => parse('(s)\n. {\n}'), 'Corefile', 1, /must be followed by '\{'/);
      expectError(() => parse('(s) {\n  a\n'), 'Corefile', 1, /never closed/);
    });
  });

  describe('import of files', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'clusterdns-corefile-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));
    const write = (rel: string, text: string) => {
      const p = join(dir, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, text);
      return p;
    };

    it('imports a file relative to the importing file, with its own file:line', () => {
      write('conf/extra.conf', '\n\nlog\nforward . 8.8.8.8 {\n  max_fails 3\n}\n');
      const main = write('Corefile', '. {\n  import conf/extra.conf\n  errors\n}\n');
      const cf = loadCorefile(main, {});
      const ds = nth(cf.blocks, 0).directives;
      expect(view(ds)).to.deep.equal([['log'], ['forward', '.', '8.8.8.8', [['max_fails', '3']]], ['errors']]);
      expect(ds.map((d) => [d.file, d.line])).to.deep.equal([
        [join(dir, 'conf/extra.conf'), 3],
        [join(dir, 'conf/extra.conf'), 4],
        [main, 3],
      ]);
      expect(nth(nth(ds, 1).block, 0)).to.include({ file: join(dir, 'conf/extra.conf'), line: 5 });
    });

    it('resolves nested imports relative to the imported file', () => {
      write('nest/a.conf', 'import sub/b.conf\n');
      write('nest/sub/b.conf', 'whoami\n');
      const main = write('nest.Corefile', '. {\n  import nest/a.conf\n}');
      expect(view(nth(loadCorefile(main, {}).blocks, 0).directives)).to.deep.equal([['whoami']]);
    });

    it('imports whole server blocks at top level, and snippets defined in imported files', () => {
      write('top/snips.conf', '(s) {\n  log\n}\n');
      write('top/servers.conf', 'example.org {\n  import s\n}\n');
      const main = write('top.Corefile', 'import top/snips.conf\nimport top/servers.conf\n. {\n  import s\n}\n');
      const cf = loadCorefile(main, {});
      expect(cf.blocks.map((b) => [b.keys[0], b.file, b.line])).to.deep.equal([
        ['example.org', join(dir, 'top/servers.conf'), 1],
        ['.', main, 3],
      ]);
      expect(view(nth(cf.blocks, 0).directives)).to.deep.equal([['log']]);
    });

    it('expands * and ? globs in the last element, sorted, skipping directories', () => {
      write('g/b.server', 'b.com {\n}\n');
      write('g/a.server', 'a.com {\n}\n');
      write('g/c.other', 'c.com {\n}\n');
      write('g/z1.server', 'z1.com {\n}\n');
      mkdirSync(join(dir, 'g/dir.server'), { recursive: true });
      const main = write('glob.Corefile', 'import g/*.server\nimport g/z?.server\nimport g/none-*.server\n');
      expect(loadCorefile(main, {}).blocks.map((b) => b.keys[0])).to.deep.equal(['a.com', 'b.com', 'z1.com', 'z1.com']);
    });

    it('reports a missing file, glob misuse, and import cycles at the import line', () => {
      const missing = write('missing.Corefile', '. {\n  log\n  import nothere.conf\n}');
      expectError(() => loadCorefile(missing, {}), missing, 3, /file not found/);
      const badGlob = write('badglob.Corefile', '. {\n  import */x.conf\n}');
      expectError(() => loadCorefile(badGlob, {}), badGlob, 2, /last path element/);
      write('cyc/a.conf', 'log\nimport b.conf\n');
      write('cyc/b.conf', 'import a.conf\n');
      const cyc = write('cyc.Corefile', '. {\n  import cyc/a.conf\n}');
      expectError(() => loadCorefile(cyc, {}), join(dir, 'cyc/b.conf'), 1, /import cycle/);
      const self = write('self.Corefile', 'import self.Corefile\n');
      expectError(() => loadCorefile(self, {}), self, 1, /import cycle/);
      const noArg = write('noarg.Corefile', '. {\n  import\n}');
      expectError(() => loadCorefile(noArg, {}), noArg, 2, /exactly one argument/);
      const twoArgs = write('twoargs.Corefile', '. {\n  import a b\n}');
      expectError(() => loadCorefile(twoArgs, {}), twoArgs, 2, /exactly one argument \(file, glob or snippet name\), got 2/);
    });

    it('substitutes env in the import path', () => {
      write('env/x.conf', 'whoami\n');
      const main = write('env.Corefile', '. {\n  import {$SUB}/x.conf\n}');
      expect(view(nth(loadCorefile(main, { SUB: 'env' }).blocks, 0).directives)).to.deep.equal([['whoami']]);
    });

    it('gives a clear message when the Corefile itself is missing', () => {
      const p = join(dir, 'does-not-exist');
      const err = expectErrorNoLine(() => loadCorefile(p, {}));
      expect(err.message).to.equal(`${p}: cannot read Corefile: no such file`);
    });
  });

  describe('syntax errors carry file:line', () => {
    it('unexpected }', () => {
      expectError(() => parse('. {\n  log\n}\n}\n'), 'Corefile', 4, /unexpected '\}'/);
      expectError(() => parse('.:53\n  log\n}\n'), 'Corefile', 3, /server block at line 1 has no '\{'/);
    });
    it('unexpected end of file inside a block (points at the unclosed {)', () => {
      expectError(() => parse('. {\n  log\n'), 'Corefile', 1, /end of file/);
      expectError(() => parse('. {\n  health {\n    lameduck 5s\n}\n'), 'Corefile', 1, /never closed/);
      expectError(() => parse('. {\n  a {\n    b {\n'), 'Corefile', 3, /never closed/);
    });
    it('directive outside a server block', () => {
      expectError(() => parse('. {\n}\nlog\n'), 'Corefile', 3, /directive outside a server block/);
      expectError(() => parse('errors\n.:53 {\n  log\n}\n'), 'Corefile', 1, /directive outside a server block/);
    });
    it('{ with no directive', () => {
      expectError(() => parse('. {\n  forward . 1.1.1.1\n  {\n  }\n}'), 'Corefile', 3, /'\{' with no directive/);
    });
    it('empty key list', () => {
      expectError(() => parse('\n{\n  log\n}'), 'Corefile', 2, /without server block keys/);
      expectError(() => parse('"" {\n}'), 'Corefile', 1, /no keys/);
      expectError(() => parse('a.com, {\n}'), 'Corefile', 1, /expected another server key/);
      expectError(() => parse('a.com,'), 'Corefile', 1, /file ends/);
    });
    it('unterminated quotes (points at the opening quote)', () => {
      expectError(() => parse('. {\n  log\n  rewrite "abc\n}\n'), 'Corefile', 3, /unterminated quoted string/);
      expectError(() => parse('. {\n  x `abc\n}\n'), 'Corefile', 2, /unterminated backtick string/);
    });
  });

  it('configError builds a CorefileError', () => {
    const e = configError({ file: 'f', line: 7 }, 'bad');
    expect(e).to.be.instanceOf(Error);
    expect(e.message).to.equal('f:7: bad');
    expect([e.file, e.line, e.reason]).to.deep.equal(['f', 7, 'bad']);
  });
});

function expectErrorNoLine(fn: () => unknown): CorefileError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(CorefileError);
    return e as CorefileError;
  }
  throw new Error('expected an error');
}
