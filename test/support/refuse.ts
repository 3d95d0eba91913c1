import { expect } from 'chai';
import { createServer } from '../../src/app.js';
import { CorefileError } from '../../src/corefile/errors.js';
import { parseCorefile } from '../../src/corefile/parse.js';

/** Building a server from `text` (file "Corefile") fails with a Corefile error at `line` whose reason matches. */
export function expectRefused(text: string, reason: RegExp, line: number): void {
  let err: unknown;
  try { createServer(parseCorefile(text, { file: 'Corefile' })); } catch (e) { err = e; }
  expect(err).to.be.instanceOf(CorefileError);
  expect((err as CorefileError).reason).to.match(reason);
  expect((err as CorefileError).line).to.equal(line);
}
