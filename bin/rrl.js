#!/usr/bin/env node
'use strict';
// The rrl command: the package's TypeScript sources through tsx (never a possibly stale dist/), then the CLI. Users'
// experiment and reward files load through lib/user-module.ts, where `rationale-rl` resolves to these same sources.
require('tsx/cjs');
require('./cli.ts')
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; });
