// `npm run report:serve`: serve reports/ on 127.0.0.1 (the multi-page Allure app needs http; the
// single-file one in reports/allure/ also opens from the file system). Stops on Ctrl-C.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { packageRoot } from '../runner/paths';

const root = path.join(packageRoot(), 'reports');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.txt': 'text/plain; charset=utf-8', '.xml': 'application/xml',
};
if (!fs.existsSync(path.join(root, 'index.html'))) {
  process.stderr.write('report:serve: reports/index.html is missing: run `npm run report` first\n');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 0);
const server = http.createServer((req, res) => {
  const url = decodeURIComponent((req.url ?? '/').split('?')[0]!);
  const file = path.join(root, url.endsWith('/') ? `${url}index.html` : url);
  if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404).end('not found\n'); return; }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
server.listen(port, '127.0.0.1', () => {
  const p = (server.address() as AddressInfo).port;
  process.stdout.write(`serving reports/ at http://127.0.0.1:${p}/  (Allure: /allure/index.html, matrix: /conformance.html); Ctrl-C stops\n`);
});
