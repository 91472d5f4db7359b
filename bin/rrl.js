#!/usr/bin/env node
'use strict';
// The rrl command: load the TypeScript sources (and users' .ts experiment files) through tsx, then run the CLI.
require('tsx/cjs');
require('./cli.ts')
  .main(process.argv.slice(2))
  .then((code) => { process.exitCode = code; });
