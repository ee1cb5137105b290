// test/webhooks/receiver.js: a webhook receiver for the tests and the
// benchmark, on 127.0.0.1 only. Every request is appended to a log file as
// one JSON line {"at", "path", "headers", "body", "status"} (the time it
// arrived, in ms since the epoch) and answered at once, unless the path asks
// otherwise:
//   /fail/N/...   answers 500 to the first N requests with a given
//                 webhook-id, then 200
//   /slow/MS/...  answers 200 after MS milliseconds
//   /status/S/... answers S (a redirect with a Location header)
// Usage: node receiver.js PORT LOGFILE   (prints "listening PORT" when ready)
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const port = Number(process.argv[2] || 0);
const logFile = process.argv[3];
const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
const failures = new Map();

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		const at = Date.now();
		const body = Buffer.concat(chunks).toString('utf8');
		const parts = req.url.split('/');
		let status = 200;
		let delay = 0;
		if (parts[1] === 'fail') {
			const id = req.headers['webhook-id'];
			const seen = (failures.get(id) || 0) + 1;
			failures.set(id, seen);
			if (seen <= Number(parts[2])) status = 500;
		} else if (parts[1] === 'slow') {
			delay = Number(parts[2]);
		} else if (parts[1] === 'status') {
			status = Number(parts[2]);
		}
		if (log) log.write(JSON.stringify({ at, path: req.url, headers: req.headers, body, status }) + '\n');
		setTimeout(() => {
			if (status >= 300 && status < 400) res.setHeader('Location', 'http://127.0.0.1:1/elsewhere');
			res.writeHead(status, { 'Content-Type': 'text/plain' });
			res.end(status === 200 ? 'ok' : 'no');
		}, delay);
	});
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => {
	console.log(`listening ${server.address().port}`);
});
