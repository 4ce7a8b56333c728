// bench/receiver.mjs - the webhook receiver of `make bench` (issue 10): one Node process on 127.0.0.1
// that answers every POST with 204 and counts the deliveries: how many, how many distinct webhook-id
// values (a delivery sent twice shows up as a duplicate), how many lacked the Standard Webhooks headers
// (webhook-id, webhook-timestamp, webhook-signature), and the wall-clock ms (Date.now) of the first and
// the last. It does not verify signatures (the e2e tests do, with the npm standardwebhooks package):
// here it must cost as little per request as it can, so that it is not what is measured.
//   node bench/receiver.mjs PORT_FILE   listens on a free port, writes it into PORT_FILE
//   GET /stats                          {"count","unique","duplicates","missingHeaders","firstMs","lastMs"}
// Stops on SIGTERM.
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';

const seen = new Set();
let count = 0, duplicates = 0, missing = 0, firstMs = 0, lastMs = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count, unique: seen.size, duplicates, missingHeaders: missing, firstMs, lastMs }));
    return;
  }
  req.on('data', () => {}); // the body is read and dropped
  req.on('end', () => {
    const id = req.headers['webhook-id'];
    if (!id || !req.headers['webhook-timestamp'] || !req.headers['webhook-signature']) missing++;
    if (id && seen.has(id)) duplicates++;
    else if (id) seen.add(id);
    count++;
    lastMs = Date.now();
    if (firstMs === 0) firstMs = lastMs;
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => writeFileSync(process.argv[2], `${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
