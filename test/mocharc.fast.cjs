// `npm run test:fast`: the suite without its slow parts, for the edit-test
// loop. CI and `npm test` still run everything. Left out (measured with
// `npx mocha --reporter json`: these take ~80% of the suite's time):
//   - end-to-end files that start the command line, containers, network
//     namespaces or pod resolvers as processes;
//   - the outage, scale and flood tests inside otherwise quick files.
const base = require('../.mocharc.json');

const SLOW_FILES = [
  'cli', 'capability', 'convert-kubedns', 'deploy-extras', 'deploy-kubeadm', 'dockerfile', 'footprint', 'fuzz',
  'nodelocal', 'nodelocal-ns', 'pod-resolver', 'shutdown',
];
const SLOW_TESTS = [
  'scale holds', // kube-api: 10,000 services + 100,000 slices
  'flood of random names', // kubernetes-conformance: answer memo eviction
  'API outage', // kubernetes-watch: a 5 s outage
  'a pipelining client that does not read', // tcp-robustness
  'a flood of queries at a silent upstream', // forward-limits
  'with --workers', // metrics: starts worker processes
];

module.exports = {
  ...base,
  ignore: SLOW_FILES.map((f) => `test/${f}.test.ts`),
  grep: SLOW_TESTS.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'),
  invert: true,
};
