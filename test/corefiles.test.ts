import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateCorefile } from '../src/app.js';
import { loadCorefile } from '../src/corefile/parse.js';
import { PLUGINS } from '../src/plugins/index.js';

/**
 * Corefiles of public distributions and common user edits (test/corefiles/,
 * each naming its source in a header comment), with the directives each
 * uses after imports are expanded. A file needing a plugin not registered
 * yet is reported pending, checked at run time: once the plugin lands the
 * file is validated in full.
 */
const NEEDS: Record<string, readonly string[]> = {
  'kubeadm.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'eks.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'aks.Corefile': ['errors', 'ready', 'health', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance', 'hosts', 'rewrite'],
  'aks-template.Corefile': ['errors', 'ready', 'health', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance', 'template'],
  'aks-localdns.Corefile': ['bind', 'whoami', 'log', 'forward', 'ready', 'cache', 'loop', 'nsid', 'prometheus', 'template'],
  'openshift.Corefile': ['bufsize', 'errors', 'log', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'reload', 'chaos'],
  'k3s.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'hosts', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance', 'log'],
  'helm-zonefiles.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'file', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'nodelocaldns.Corefile': ['errors', 'cache', 'reload', 'loop', 'bind', 'forward', 'prometheus', 'health'],
  'minikube.Corefile': ['log', 'errors', 'health', 'ready', 'kubernetes', 'prometheus', 'hosts', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'microk8s.Corefile': ['errors', 'health', 'ready', 'log', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'kops-ipv6.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance', 'dns64'],
  'kubespray.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'user-stubdomains.Corefile': ['errors', 'health', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'user-rewrite.Corefile': ['errors', 'health', 'ready', 'rewrite', 'kubernetes', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'user-autopath.Corefile': ['errors', 'health', 'ready', 'kubernetes', 'autopath', 'prometheus', 'forward', 'cache', 'loop', 'reload', 'loadbalance'],
  'user-transfer.Corefile': ['errors', 'kubernetes', 'transfer'],
};

const DIR = join(import.meta.dirname, 'corefiles');
const registered = new Set(PLUGINS.map((p) => p.name));

describe('Corefiles of distributions and user edits (test/corefiles)', function () {
  this.timeout(20000);

  it('has a plugin table entry for every fixture, at least ten', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.Corefile')).sort();
    expect(files).to.deep.equal(Object.keys(NEEDS).sort());
    expect(files.length).to.be.at.least(10);
  });

  for (const [file, needs] of Object.entries(NEEDS)) {
    const missing = needs.filter((n) => !registered.has(n));
    const title = missing.length > 0 ? `${file}: pending, needs ${missing.join(', ')}` : `${file} passes --validate`;
    it(title, function () {
      const path = join(DIR, file);
      // Parsing (imports expanded) never waits for a plugin: the table must match the file.
      const corefile = loadCorefile(path, { ...process.env, COREFILES_DIR: DIR });
      const used = new Set(corefile.blocks.flatMap((b) => b.directives.map((d) => d.name)));
      expect([...used].sort(), `${file}: the table lists what the file uses`).to.deep.equal([...new Set(needs)].sort());
      if (missing.length > 0) this.skip();
      const problems = validateCorefile(corefile, { defaultPort: 53, conf: path });
      expect(problems.map((p) => p.message)).to.deep.equal([]);
    });
  }
});
