// The streaming list reader (src/plugins/kubernetes/jsonlist.ts): items
// split out of a list body however the body is cut into chunks.

import { expect } from 'chai';
import { ListSplitter, WHOLE_BODY_BYTES } from '../src/plugins/kubernetes/jsonlist.js';

/** `wholeBodyBytes` 0: every byte goes through the scan (the splitter's default parses small bodies whole). */
function split(body: string | Buffer, cuts: (len: number) => number[], wholeBodyBytes = 0): { items: unknown[]; envelope: Record<string, unknown>; sawItems: boolean } {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const items: unknown[] = [];
  const s = new ListSplitter((i) => items.push(i), wholeBodyBytes);
  let at = 0;
  for (const c of [...cuts(buf.length), buf.length]) {
    if (c <= at) continue;
    s.write(buf.subarray(at, c));
    at = c;
  }
  const { envelope, sawItems } = s.end();
  expect(s.count).to.equal(items.length);
  return { items, envelope, sawItems };
}

const whole = (): number[] => [];
const bytewise = (len: number): number[] => Array.from({ length: len }, (_, i) => i);
function randomCuts(seed: number) {
  return (len: number): number[] => {
    let x = seed;
    const out: number[] = [];
    for (let at = 0; at < len;) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      at += 1 + (x % 37);
      out.push(at);
    }
    return out;
  };
}

const LIST = {
  kind: 'EndpointSliceList',
  apiVersion: 'discovery.k8s.io/v1',
  metadata: { resourceVersion: '42', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDJ9' },
  items: [
    { metadata: { name: 'a', labels: { 'x/y': '{[' } }, endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }] },
    { metadata: { name: 'b "quoted" \\ }]', annotations: { note: 'ünïcödé ✓ 日本 😀', items: '[1,2]' } }, ports: [] },
    { metadata: { name: 'c' }, nested: [[1, [2, { items: [3] }]], []], empty: {} },
  ],
};

describe('kubernetes: streaming list reader', () => {
  it('splits the items out of a list however the body is chunked', () => {
    const text = JSON.stringify(LIST, null, 1);
    for (const cuts of [whole, bytewise, randomCuts(1), randomCuts(7), randomCuts(99)]) {
      const { items, envelope, sawItems } = split(text, cuts);
      expect(sawItems).to.equal(true);
      expect(items).to.deep.equal(LIST.items);
      expect(envelope).to.deep.equal({ ...LIST, items: [] });
    }
  });

  it('cuts multi-byte UTF-8 characters across chunks without damage', () => {
    const text = JSON.stringify({ items: [{ n: '😀'.repeat(50) }, { n: 'é' }] });
    const { items } = split(text, bytewise);
    expect(items).to.deep.equal([{ n: '😀'.repeat(50) }, { n: 'é' }]);
  });

  it('finds items wherever the key stands, and only at the top level', () => {
    const text = '{"metadata":{"items":[{"not":"this"}]},"kind":"items","items":[{"a":1}],"after":{"continue":""}}';
    const { items, envelope } = split(text, randomCuts(3));
    expect(items).to.deep.equal([{ a: 1 }]);
    expect(envelope).to.deep.equal({ metadata: { items: [{ not: 'this' }] }, kind: 'items', items: [], after: { continue: '' } });
  });

  it('reports an empty list, and a body with no items at all', () => {
    expect(split('{"items":[],"metadata":{}}', whole)).to.deep.equal({ items: [], envelope: { items: [], metadata: {} }, sawItems: true });
    expect(split('{"kind":"Status","items":null}', whole).sawItems).to.equal(false);
  });

  it('still reads items under a key spelled with escapes', () => {
    const { items, sawItems } = split('{"it\\u0065ms":[{"a":1},{"b":2}]}', bytewise);
    expect(sawItems).to.equal(true);
    expect(items).to.deep.equal([{ a: 1 }, { b: 2 }]);
  });

  it('throws on malformed bodies instead of guessing', () => {
    const bad = ['{"items":[{"a":1},{"b":]}', '{"items":[{"a":1}', '{"items":[{"a":"1}]}', '{"items":[]}}', '[{"a":1}]', '{"items":[{"a":1}]} x'];
    for (const b of bad) expect(() => split(b, randomCuts(5)), b).to.throw();
  });

  it('parses a body within wholeBodyBytes whole, and scans one that grows past it, with the same result', () => {
    const items = Array.from({ length: 50 }, (_, i) => ({ metadata: { name: `svc-${i}`, note: 'a "quoted" \\ {brace}' }, spec: { ports: [i] } }));
    const body = JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '42', continue: 'c' }, items });
    const scanned = split(body, randomCuts(9));
    for (const whole of [body.length, body.length - 1, 100, WHOLE_BODY_BYTES]) {
      expect(split(body, randomCuts(9), whole), `wholeBodyBytes ${whole}`).to.deep.equal(scanned);
    }
    expect(scanned.items).to.deep.equal(items);
    for (const bad of ['{"items":[{"a":1}', '[{"a":1}]', '{"items":[{"a":1}]} x']) expect(() => split(bad, whole, WHOLE_BODY_BYTES), bad).to.throw();
  });

  it('passes on what the item handler throws', () => {
    const s = new ListSplitter(() => { throw new Error('store says no'); }, 0);
    expect(() => s.write(Buffer.from('{"items":[{"a":1}]}'))).to.throw('store says no');
  });
});
