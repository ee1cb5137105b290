// test/webhooks/receiver.js: a webhook receiver for the tests and the
// benchmark, on 127.0.0.1 only. Answers at once, unless the path asks
// otherwise:
//   /fail/N/...   500 to the first N requests with a given webhook-id, then 200
//   /slow/MS/...  200 after MS milliseconds
//   /status/S/... S (a redirect gets a Location header)
// As a module: createReceiver(onRequest) returns an http.Server that calls
// onRequest({at, path, headers, body, status}) for every request (at: when
// it arrived, ms since the epoch). As a program:
//   node receiver.js PORT [LOGFILE]   appends each request to LOGFILE as a
//   JSON line, and prints "listening PORT" when ready.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

function createReceiver(onRequest) {
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
				const key = req.url + ' ' + req.headers['webhook-id'];
				const seen = (failures.get(key) || 0) + 1;
				failures.set(key, seen);
				if (seen <= Number(parts[2])) status = 500;
			} else if (parts[1] === 'slow') {
				delay = Number(parts[2]);
			} else if (parts[1] === 'status') {
				status = Number(parts[2]);
			}
			onRequest({ at, path: req.url, headers: req.headers, body, status });
			const answer = () => {
				if (status >= 300 && status < 400) res.setHeader('Location', 'http://127.0.0.1:1/elsewhere');
				res.writeHead(status, { 'Content-Type': 'text/plain' });
				res.end(status === 200 ? 'ok' : 'no');
			};
			// at once (a timer of 0 ms would wait a millisecond)
			if (delay > 0) setTimeout(answer, delay);
			else answer();
		});
	});
	server.keepAliveTimeout = 60000;
	return server;
}

module.exports = { createReceiver };

if (require.main === module) {
	const port = Number(process.argv[2] || 0);
	const log = process.argv[3] ? fs.createWriteStream(process.argv[3], { flags: 'a' }) : null;
	const server = createReceiver((r) => { if (log) log.write(JSON.stringify(r) + '\n'); });
	server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
}
