// Validates docs/asyncapi.yaml with the stock AsyncAPI parser (@asyncapi/parser, with its
// default Spectral ruleset) and prints what the document holds. Exit 1 on any error or
// warning. run.sh installs the parser in a cache folder and points NODE_PATH at it.
'use strict';
const { Parser, fromFile } = require('@asyncapi/parser');

async function main() {
  const path = process.argv[2];
  if (!path) {
    console.error('usage: node asyncapi.cjs <asyncapi.yaml>');
    return 2;
  }
  const { document, diagnostics } = await fromFile(new Parser(), path).parse();
  // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
  const errors = diagnostics.filter((d) => d.severity === 0);
  const warnings = diagnostics.filter((d) => d.severity === 1);
  for (const d of [...errors, ...warnings]) {
    const where = d.path && d.path.length ? d.path.join('.') : '(document)';
    console.log(`${d.severity === 0 ? 'ERROR' : 'warning'} ${d.code}: ${d.message} at ${where}`);
  }
  if (!document || errors.length > 0) {
    console.error(`asyncapi: ${path} is NOT valid (${errors.length} errors)`);
    return 1;
  }
  if (warnings.length > 0) {
    console.error(`asyncapi: ${path} has ${warnings.length} warnings; they count as failures here`);
    return 1;
  }
  const channels = document.channels().all();
  const operations = document.operations().all();
  const messages = document.allMessages().all();
  const examples = messages.reduce((n, m) => n + m.examples().length, 0);
  console.log(`asyncapi: ${path}: valid AsyncAPI ${document.version()}, ${channels.length} channels (` +
    channels.map((c) => c.address() ?? '<reply_to>').join(', ') + `), ${operations.length} operations, ` +
    `${messages.length} messages, ${examples} examples`);
  // A reply must say where it goes and how the sender correlates it.
  for (const op of operations) {
    const reply = op.reply();
    if (!reply) continue;
    const address = reply.address();
    const location = address && address.location();
    if (!location) {
      console.error(`asyncapi: operation ${op.id()} has a reply without an address`);
      return 1;
    }
    const uncorrelated = reply.messages().all().filter((m) => !m.hasCorrelationId());
    if (uncorrelated.length > 0) {
      console.error(`asyncapi: replies of ${op.id()} without correlationId: ${uncorrelated.map((m) => m.id()).join(', ')}`);
      return 1;
    }
    console.log(`asyncapi: operation ${op.id()} replies to ${location}, correlated by ` +
      reply.messages().all().map((m) => m.correlationId().location()).filter((v, i, a) => a.indexOf(v) === i).join(', '));
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`asyncapi: ${e.stack || e}`);
  process.exit(1);
});
