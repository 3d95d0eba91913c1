// The store's compact endpoint addresses (store-tables.ts): IPv4 kept as a
// number must give back exactly the text it came from, and only canonical
// text may become a number (anything else would answer under another name).

import { expect } from 'chai';
import { ipKey, ipText, sliceIP } from '../src/plugins/kubernetes/store-tables.js';

describe('kubernetes store: endpoint addresses as numbers', () => {
  it('a canonical IPv4 address becomes its 32-bit number and back to the same text', () => {
    for (const ip of ['0.0.0.0', '10.128.0.1', '10.96.0.10', '127.0.0.1', '192.168.255.254', '255.255.255.255', '1.2.3.4']) {
      const n = sliceIP(ip);
      expect(n, ip).to.be.a('number');
      expect(ipText(n), ip).to.equal(ip);
    }
    expect(sliceIP('10.0.0.1')).to.equal(0x0a000001);
    expect(sliceIP('255.255.255.255')).to.equal(0xffffffff);
  });

  it('anything but canonical IPv4 text stays text (IPv6, leading zeros, out of range, wrong shape)', () => {
    for (const s of ['fd00::1', '::ffff:10.0.0.1', '01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', '1234.1.1.1', '']) {
      expect(sliceIP(s), JSON.stringify(s)).to.equal(s);
      expect(ipText(sliceIP(s))).to.equal(s);
    }
  });

  it('IPv4 addresses of one /24 share a reverse-index key; IPv6 keys are exact', () => {
    expect(ipKey(sliceIP('10.1.1.10'))).to.equal(ipKey(sliceIP('10.1.1.250')));
    expect(ipKey(sliceIP('10.1.1.10'))).to.not.equal(ipKey(sliceIP('10.1.2.10')));
    expect(ipKey(sliceIP('200.1.1.10'))).to.equal(ipKey(sliceIP('200.1.1.11')));
    expect(ipKey(sliceIP('200.1.1.10'))).to.not.equal(ipKey(sliceIP('72.1.1.10')));
    expect(ipKey('fd00::1')).to.equal('fd00::1');
  });
});
