// The kubernetes answer memo's store (answer-memo.ts) on its own: the bound
// holds and names still asked survive a flood of names asked once. The same
// over UDP, through the server: kubernetes-conformance's "flood of random names".

import { expect } from 'chai';
import { AnswerMemo } from '../src/plugins/kubernetes/answer-memo.js';

describe('kubernetes: answer memo store', () => {
  it('holds at most its bound and keeps a name asked once per half-bound of new names', () => {
    const memo = new AnswerMemo<string>(100);
    memo.set(1, 'web.demo.svc.cluster.local', 'web');
    memo.set(28, 'web.demo.svc.cluster.local', 'web-aaaa');
    for (let i = 0; i < 1000; i++) {
      memo.set(1, `r${i}.demo.svc.cluster.local`, `r${i}`);
      if (i % 40 === 0) expect(memo.get(1, 'web.demo.svc.cluster.local')).to.equal('web');
      expect(memo.size).to.be.at.most(100);
    }
    expect(memo.get(1, 'web.demo.svc.cluster.local')).to.equal('web');
    // Asked for by type: the AAAA entry of the same name was not, so it went.
    expect(memo.get(28, 'web.demo.svc.cluster.local')).to.equal(undefined);
    // Recent names stay, the oldest of the flood went.
    expect(memo.get(1, 'r999.demo.svc.cluster.local')).to.equal('r999');
    expect(memo.get(1, 'r0.demo.svc.cluster.local')).to.equal(undefined);
  });

  it('counts a name set twice once, and clear() empties it', () => {
    const memo = new AnswerMemo<number>(10);
    memo.set(1, 'a', 1);
    memo.set(1, 'a', 2);
    expect(memo.size).to.equal(1);
    expect(memo.get(1, 'a')).to.equal(2);
    memo.clear();
    expect(memo.size).to.equal(0);
    expect(memo.get(1, 'a')).to.equal(undefined);
  });
});
