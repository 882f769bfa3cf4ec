// Mocha reporter: the spec reporter's output, plus one JSON line of counts appended to
// $APPMESH_TEST_SUMMARY so .ci/run can print a single "N passed, N failed" across suites.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.APPMESH_TEST_SUMMARY;
      if (!file) return;
      const { passes, failures, pending } = this.stats;
      fs.appendFileSync(file, JSON.stringify({ passes, failures, pending }) + '\n');
    });
  }
}

module.exports = SummaryReporter;
