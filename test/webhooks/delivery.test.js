// test/webhooks/delivery.test.js: webhook delivery against a receiver on
// 127.0.0.1 that the test runs itself (receiver.js). Needs a server with
// shared_preload_libraries = 'participants' (test/webhooks.sh starts the
// run); makes the database pt_hooks (and two throwaway ones) and drops them.
//
//   PGHOST=... PGPORT=... PGUSER=postgres node --test delivery.test.js
//
// The database is set up with participants.webhook_allowed_hosts =
// '127.0.0.1' (the receiver) and participants.webhook_max_attempts = 3, so
// that retries and the failing state show within a minute. Each scenario
// has its own project: a webhook receives every event of its project.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Client } = require(path.join(__dirname, '..', 'http', 'node_modules', 'pg'));
const { createReceiver } = require('./receiver.js');

const DB = process.env.PT_HOOKS_DB || 'pt_hooks';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let receiver;			// the in-process receiver
let PORT;
let requests = [];		// everything it received
let db;					// a superuser session in DB
const started = {};		// scenarios started in before(), checked later

async function connect(database = DB, user) {
	let last;
	for (let i = 0; i < 150; i++) {
		const c = new Client({ database, user });
		c.on('error', () => {});
		try {
			await c.connect();
			return c;
		} catch (e) {
			last = e;
			await sleep(200);
		}
	}
	throw last;
}

async function sql(text, params, client = db) {
	return (await client.query(text, params)).rows;
}
async function one(text, params, client = db) {
	const rows = await sql(text, params, client);
	return rows.length ? Object.values(rows[0])[0] : undefined;
}

// requests whose path starts with prefix
function at(prefix) {
	return requests.filter((r) => r.path.startsWith(prefix));
}
async function waitFor(what, fn, ms = 20000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(50);
	}
}
const eventId = (r) => Number(r.headers['webhook-id'].split('_').pop());

// a project with participants X0..X(n-1), none in a study
async function project(name, n = 10) {
	const p = await one('SELECT participants.create_project($1)', [name]);
	await one(`SELECT participants.upsert_participants($1, (SELECT jsonb_agg(jsonb_build_object('participantIdentifier', 'X' || i))
		FROM generate_series(0, $2::int - 1) i)) ->> 'totalAdded'`, [p, n]);
	return p;
}
async function webhook(p, url, types = null) {
	return (await sql('SELECT participants.create_webhook($1, $2, $3) AS w', [p, url, types]))[0].w;
}
// k person.opted_out events, each in its own transaction (one call), or in one
// transaction (a DO block); participant X(i % n) is opted out, then in, ...
const toggles = new Map();
async function emit(p, k, client = db, oneTransaction = false, n = 10) {
	const calls = [];
	for (let i = 0; i < k; i++) {
		const key = `${p}:${i % n}`;
		const v = !toggles.get(key);
		toggles.set(key, v);
		calls.push([`X${i % n}`, v]);
	}
	if (oneTransaction) {
		await client.query(`DO $$ DECLARE c record; BEGIN
			FOR c IN SELECT * FROM jsonb_to_recordset('${JSON.stringify(calls.map(([x, v]) => ({ x, v })))}') AS t(x text, v boolean) LOOP
				PERFORM participants.set_opted_out('${p}', c.x, c.v);
			END LOOP; END $$`);
	} else {
		for (const [x, v] of calls)
			await client.query('SELECT participants.set_opted_out($1, $2, $3)', [p, x, v]);
	}
}
async function events(p) {
	return sql(`SELECT (e ->> 'eventID')::bigint AS id, e -> 'payload' AS payload
		FROM jsonb_array_elements(participants.events_since($1, 0, 1000)) e`, [p]);
}
function verify(secret, r) {
	const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
	const expected = crypto.createHmac('sha256', key)
		.update(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`).digest('base64');
	return r.headers['webhook-signature'] === `v1,${expected}`;
}
async function deliveryWorkers(database = DB) {
	return sql(`SELECT pid FROM pg_stat_activity WHERE backend_type = 'participants webhook delivery' AND datname = $1`, [database]);
}

before(async () => {
	receiver = createReceiver((r) => requests.push(r));
	await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
	PORT = receiver.address().port;
	const admin = await connect('postgres');
	await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
	await admin.query(`CREATE DATABASE ${DB}`);
	await admin.query(`ALTER DATABASE ${DB} SET participants.webhook_allowed_hosts = '127.0.0.1'`);
	await admin.query(`ALTER DATABASE ${DB} SET participants.webhook_max_attempts = 3`);
	await admin.end();
	db = await connect();
	await db.query('SET client_min_messages = warning');
	await db.query('CREATE EXTENSION participants CASCADE');
	await db.query('DROP ROLE IF EXISTS regress_hooks_app');
	// the slow scenarios first: their retries wait 5 s, then 30 s
	started.retry = await project('retry');
	started.retryHook = await webhook(started.retry, `http://127.0.0.1:${PORT}/fail/2/retry`);
	await emit(started.retry, 1);
	started.failing = await project('failing');
	started.failingHook = await webhook(started.failing, `http://127.0.0.1:${PORT}/fail/3/failing`);
	await emit(started.failing, 1);
});

after(async () => {
	if (db) {
		await db.query('DROP OWNED BY regress_hooks_app').catch(() => {});
		await db.query('DROP ROLE IF EXISTS regress_hooks_app').catch(() => {});
		await db.end();
	}
	const admin = await connect('postgres');
	await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
	await admin.end();
	receiver.closeAllConnections();
	receiver.close();
});

test('webhook object: a secret whsec_ + base64 of 24 bytes, shown at creation only', async () => {
	const p = await project('object');
	const w = await webhook(p, `http://127.0.0.1:${PORT}/object`, ['person.opted_out']);
	assert.match(w.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
	assert.equal(Buffer.from(w.secret.slice(6), 'base64').length, 24);
	assert.deepEqual(Object.keys(w).sort(), ['active', 'createdDate', 'description', 'eventTypes', 'failing',
		'lastDeliveredEventID', 'secret', 'url', 'webhookID']);
	const list = await one('SELECT participants.list_webhooks($1)', [p]);
	assert.equal(list.length, 1);
	assert.equal(list[0].secret, undefined);
	assert.deepEqual(list[0].eventTypes, ['person.opted_out']);
});

test('signed with the secret (Standard Webhooks), the body is the event payload, a rotated secret signs after rotation', async () => {
	const p = await project('signed');
	const w = await webhook(p, `http://127.0.0.1:${PORT}/signed`);
	await emit(p, 5);
	const got = await waitFor('5 deliveries', () => at('/signed').length >= 5 && at('/signed'));
	const byId = new Map((await events(p)).map((e) => [Number(e.id), e.payload]));
	for (const r of got) {
		assert.ok(verify(w.secret, r), `signature of ${r.headers['webhook-id']}`);
		assert.equal(r.headers['content-type'], 'application/json');
		assert.match(r.headers['webhook-id'], new RegExp(`^msg_${p}_\\d+$`));
		assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
		assert.deepEqual(JSON.parse(r.body), byId.get(eventId(r)));
	}
	const rotated = (await sql('SELECT participants.rotate_webhook_secret($1, $2) AS w', [p, w.webhookID]))[0].w;
	assert.notEqual(rotated.secret, w.secret);
	await emit(p, 1);
	const last = await waitFor('the delivery after rotation', () => at('/signed').length >= 6 && at('/signed')[5]);
	assert.ok(verify(rotated.secret, last), 'signed with the new secret');
	assert.ok(!verify(w.secret, last), 'not with the old one');
});

test('every event in event-id order per webhook, from concurrent writers; types filter', async () => {
	const p = await project('order', 20);
	const study = await one("SELECT participants.create_study($1, 'S') ->> 'studyID'", [p]);
	await webhook(p, `http://127.0.0.1:${PORT}/order-all`);
	await webhook(p, `http://127.0.0.1:${PORT}/order-status`, ['participant.status_changed']);
	const clients = await Promise.all([0, 1, 2, 3].map(() => connect()));
	// four writers at once: opt-outs, and study participants added (a status event each)
	await Promise.all(clients.map((c, k) => (async () => {
		for (let i = 0; i < 40; i++) {
			const x = `X${k * 5 + (i % 5)}`;
			const key = `${p}:${x}`;
			const v = !toggles.get(key);
			toggles.set(key, v);
			await c.query('SELECT participants.set_opted_out($1, $2, $3)', [p, x, v]);
		}
	})()));
	await one('SELECT participants.add_study_participants($1, $2, $3)', [p, study, JSON.stringify(['X0', 'X1', 'X2', 'X3', 'X4', 'X5'])]);
	await Promise.all(clients.map((c) => c.end()));
	const all = (await events(p)).map((e) => Number(e.id));
	const statusIds = (await events(p)).filter((e) => e.payload.eventType === 'participant.status_changed').map((e) => Number(e.id));
	assert.ok(all.length >= 160);
	const gotAll = await waitFor('every event', () => at('/order-all').length >= all.length && at('/order-all'));
	assert.deepEqual(gotAll.map(eventId), all, 'each event once, in id order');
	const gotStatus = await waitFor('the status events', () => at('/order-status').length >= statusIds.length && at('/order-status'));
	assert.deepEqual(gotStatus.map(eventId), statusIds);
	assert.ok(gotStatus.every((r) => JSON.parse(r.body).eventType === 'participant.status_changed'));
});

test('a webhook passes over many events of other types (more than one read) and delivers the next of its type', async () => {
	const p = await project('filtered');
	const study = await one("SELECT participants.create_study($1, 'S') ->> 'studyID'", [p]);
	const w = await webhook(p, `http://127.0.0.1:${PORT}/filtered`, ['participant.status_changed']);
	await emit(p, 1200, db, true);
	await one('SELECT participants.add_study_participants($1, $2, $3)', [p, study, JSON.stringify(['X1'])]);
	const r = await waitFor('the status event', () => at('/filtered')[0], 10000);
	assert.equal(JSON.parse(r.body).eventType, 'participant.status_changed');
	assert.equal(eventId(r), 1201);
	await waitFor('the cursor at the last event', async () =>
		(await one('SELECT participants.list_webhooks($1)', [p]))[0].lastDeliveredEventID === 1201);
	assert.equal(at('/filtered').length, 1);
	const d = await one('SELECT participants.webhook_deliveries($1, $2)', [p, w.webhookID]);
	assert.equal(d.totalDeliveries, 1, 'events of other types are not attempts');
});

test('a rolled-back event is never sent; an event that commits after later ones is delivered first', async () => {
	const p = await project('late');
	await webhook(p, `http://127.0.0.1:${PORT}/late`);
	const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
	await a.query('BEGIN');
	await a.query('SELECT participants.set_opted_out($1, $2, true)', [p, 'X1']);	// id drawn, not committed
	await b.query('SELECT participants.set_opted_out($1, $2, true)', [p, 'X2']);	// a later id, committed
	await c.query('BEGIN');
	await c.query('SELECT participants.set_opted_out($1, $2, true)', [p, 'X3']);
	await c.query('ROLLBACK');
	await sleep(1500);
	assert.equal(at('/late').length, 0, 'nothing while an earlier event is in flight');
	await a.query('COMMIT');
	await b.query('SELECT participants.set_opted_out($1, $2, false)', [p, 'X2']);
	const got = await waitFor('3 deliveries', () => at('/late').length >= 3 && at('/late'));
	await sleep(500);
	const ids = (await events(p)).map((e) => Number(e.id));
	assert.equal(ids.length, 3);
	assert.deepEqual(at('/late').map(eventId), ids, 'in id order, the late commit first');
	const x3 = await one("SELECT id::text FROM participants.participant WHERE project_id = $1 AND participant_identifier = 'X3'", [p]);
	assert.ok(got.every((r) => JSON.parse(r.body).personId !== x3), 'the rolled-back opt-out was not sent');
	await Promise.all([a.end(), b.end(), c.end()]);
});

test('a private address is refused and recorded; a redirect is not followed', async () => {
	const p = await project('private');
	const urls = {
		'http://10.0.0.1/private': /refused to connect to 10\.0\.0\.1 \(private\)/,
		'http://169.254.169.254/latest/meta-data': /refused to connect to 169\.254\.169\.254 \(link-local\)/,
		[`http://127.0.0.2:${PORT}/private`]: /refused to connect to 127\.0\.0\.2 \(loopback\)/,
		[`http://[::1]:${PORT}/private`]: /refused to connect to ::1 \(loopback\)/,
		[`http://[::ffff:127.0.0.3]:${PORT}/private`]: /refused to connect to ::ffff:127\.0\.0\.3 \(loopback\)/,
		'http://224.0.0.1/private': /refused to connect to 224\.0\.0\.1 \(multicast\)/,
		[`http://127.0.0.1:${PORT}/status/302/private`]: /^HTTP 302: redirects are not followed$/,
	};
	const hooks = {};
	for (const u of Object.keys(urls)) hooks[u] = (await webhook(p, u)).webhookID;
	await emit(p, 1);
	for (const [u, re] of Object.entries(urls)) {
		const d = await waitFor(`an attempt at ${u}`, async () => {
			const r = await one('SELECT participants.webhook_deliveries($1, $2)', [p, hooks[u]]);
			return r.totalDeliveries >= 1 && r;
		});
		const attempt = d.deliveries[0];
		assert.match(attempt.error, re, u);
		assert.equal(attempt.attempt, 1);
		assert.equal(attempt.eventType, 'person.opted_out');
		if (!u.includes('/status/302')) assert.equal(attempt.httpStatus, null);
		else assert.equal(attempt.httpStatus, 302);
	}
	assert.equal(at('/private').length, 0, 'nothing reached the receiver through a refused address');
	assert.equal(at('/status/302/private').length, 1, 'the redirecting URL was asked once');
	assert.equal(at('/elsewhere').length, 0);
	for (const id of Object.values(hooks)) await sql('SELECT participants.delete_webhook($1, $2)', [p, id]);
});

test('a slow (3 s) and a dead receiver do not hold up a fast one', async () => {
	const p = await project('slow');
	const slow = await webhook(p, `http://127.0.0.1:${PORT}/slow/3000/slow`);
	const dead = await webhook(p, 'http://127.0.0.1:1/dead');
	await webhook(p, `http://127.0.0.1:${PORT}/fast`);
	const t0 = Date.now();
	await emit(p, 30);
	await waitFor('the fast webhook', () => at('/fast').length >= 30, 10000);
	const took = Date.now() - t0;
	assert.ok(took < 3000, `30 events to the fast webhook in ${took} ms`);
	assert.ok(at('/slow/3000/slow').length <= 2, 'the slow one is still at its first events');
	const d = await one('SELECT participants.webhook_deliveries($1, $2)', [p, dead.webhookID]);
	assert.equal(d.deliveries[0].httpStatus, null);
	assert.match(d.deliveries[0].error, /connect/i, 'the dead receiver: no connection');
	for (const w of [slow, dead]) await sql('SELECT participants.delete_webhook($1, $2)', [p, w.webhookID]);
});

test('update_webhook(active => false) pauses delivery; active => true resumes where it stopped', async () => {
	const p = await project('pause');
	const w = await webhook(p, `http://127.0.0.1:${PORT}/pause`);
	await emit(p, 2);
	await waitFor('2 deliveries', () => at('/pause').length >= 2);
	await sql('SELECT participants.update_webhook($1, $2, active => false)', [p, w.webhookID]);
	await emit(p, 3);
	await sleep(1500);
	assert.equal(at('/pause').length, 2, 'nothing while paused');
	const resumed = (await sql('SELECT participants.update_webhook($1, $2, active => true) AS w', [p, w.webhookID]))[0].w;
	assert.equal(resumed.active, true);
	await waitFor('the 3 events', () => at('/pause').length >= 5);
	assert.deepEqual(at('/pause').map(eventId), (await events(p)).map((e) => Number(e.id)));
});

test('pausing in the middle of a stream stops it; replay_webhook in the middle starts again from its event, in order', async () => {
	const p = await project('midstream');
	const w = await webhook(p, `http://127.0.0.1:${PORT}/slow/20/midstream`);
	await emit(p, 100, db, true);
	const ids = (await events(p)).map((e) => Number(e.id));
	await waitFor('10 deliveries', () => at('/slow/20/midstream').length >= 10);
	await sql('SELECT participants.update_webhook($1, $2, active => false)', [p, w.webhookID]);
	await sleep(500);
	const paused = at('/slow/20/midstream').length;
	await sleep(1000);
	assert.equal(at('/slow/20/midstream').length, paused, 'nothing sent once paused');
	assert.ok(paused < 100, `stopped after ${paused} of 100`);
	await sql('SELECT participants.update_webhook($1, $2, active => true)', [p, w.webhookID]);
	await waitFor('20 more', () => at('/slow/20/midstream').length >= paused + 20);
	const before = at('/slow/20/midstream').length;
	await sql('SELECT participants.replay_webhook($1, $2, 0)', [p, w.webhookID]);
	await waitFor('every event again', () => {
		const after = at('/slow/20/midstream').slice(before).map(eventId);
		const k = after.indexOf(ids[0]);
		return k >= 0 && after.length - k >= 100;
	}, 30000);
	const after = at('/slow/20/midstream').slice(before).map(eventId);
	const k = after.indexOf(ids[0]);
	assert.ok(k <= 1, `the replay starts at once (after ${k} request(s) already in flight)`);
	assert.deepEqual(after.slice(k, k + 100), ids, 'from the first event, in order');
	await waitFor('the cursor at the end', async () =>
		(await one('SELECT participants.list_webhooks($1)', [p]))[0].lastDeliveredEventID === ids[ids.length - 1]);
});

test('delivery starts within a second of the commit, also after the worker stopped for lack of work', async () => {
	await waitFor('the delivery worker to stop', async () => (await deliveryWorkers()).length === 0, 40000);
	const p = await project('wake');
	await webhook(p, `http://127.0.0.1:${PORT}/wake`);
	await waitFor('the delivery worker to stop again', async () => (await deliveryWorkers()).length === 0, 40000);
	const t0 = Date.now();
	await emit(p, 1);
	const committed = Date.now();
	const r = await waitFor('the delivery', () => at('/wake')[0], 5000);
	assert.ok(r.at - committed < 1000, `arrived ${r.at - committed} ms after the commit`);
	assert.ok(committed - t0 < 1000);
});

test('a receiver answering 500 twice gets the event again with the same webhook-id; every attempt is recorded', async () => {
	const got = await waitFor('3 attempts', () => at('/fail/2/retry').length >= 3 && at('/fail/2/retry'), 60000);
	assert.equal(new Set(got.map((r) => r.headers['webhook-id'])).size, 1, 'the same webhook-id');
	assert.equal(new Set(got.map((r) => r.body)).size, 1, 'the same body');
	assert.ok(got[1].at - got[0].at >= 4000, `first retry after ${got[1].at - got[0].at} ms (about 5 s)`);
	assert.ok(got[2].at - got[1].at >= 25000, `second retry after ${got[2].at - got[1].at} ms (about 30 s)`);
	const d = await waitFor('the attempts recorded', async () => {
		const r = await one('SELECT participants.webhook_deliveries($1, $2)', [started.retry, started.retryHook.webhookID]);
		return r.totalDeliveries >= 3 && r;
	});
	assert.deepEqual(d.deliveries.map((x) => [x.attempt, x.httpStatus, x.error]),
		[[3, 200, null], [2, 500, 'HTTP 500'], [1, 500, 'HTTP 500']]);
	const failed = await one('SELECT participants.webhook_deliveries($1, $2, failed_only => true)', [started.retry, started.retryHook.webhookID]);
	assert.equal(failed.totalDeliveries, 2);
	const w = (await one('SELECT participants.list_webhooks($1)', [started.retry]))[0];
	assert.equal(w.failing, false);
	assert.equal(w.lastDeliveredEventID, eventId(got[0]));
});

test('failing after participants.webhook_max_attempts; update_webhook(active => true) resumes; replay_webhook delivers again', async () => {
	const p = started.failing;
	const id = started.failingHook.webhookID;
	const w = await waitFor('the webhook to be failing', async () => {
		const l = await one('SELECT participants.list_webhooks($1)', [p]);
		return l[0].failing && l[0];
	}, 60000);
	assert.equal(at('/fail/3/failing').length, 3, 'three attempts, then it paused');
	assert.equal(w.active, true);
	await sleep(1000);
	assert.equal(at('/fail/3/failing').length, 3, 'no attempt while failing');
	const resumed = (await sql('SELECT participants.update_webhook($1, $2, active => true) AS w', [p, id]))[0].w;
	assert.equal(resumed.failing, false);
	const fourth = await waitFor('the fourth attempt', () => at('/fail/3/failing')[3], 5000);
	assert.equal(fourth.status, 200);
	const ev = (await events(p)).map((e) => Number(e.id));
	await waitFor('the cursor to move', async () => (await one('SELECT participants.list_webhooks($1)', [p]))[0].lastDeliveredEventID === ev[ev.length - 1]);
	// replay: the same event again, with the same webhook-id
	const replayed = (await sql('SELECT participants.replay_webhook($1, $2, 0) AS w', [p, id]))[0].w;
	assert.equal(replayed.lastDeliveredEventID, 0);
	const fifth = await waitFor('the replay', () => at('/fail/3/failing')[4], 5000);
	assert.equal(fifth.headers['webhook-id'], fourth.headers['webhook-id']);
	const d = await waitFor('5 attempts recorded', async () => {
		const r = await one('SELECT participants.webhook_deliveries($1, $2, page_size => 100)', [p, id]);
		return r.totalDeliveries >= 5 && r;
	});
	assert.equal(d.totalDeliveries, 5);
	assert.deepEqual(d.deliveries.map((x) => x.httpStatus), [200, 200, 500, 500, 500]);
});

test('kill -9 of the receiver in the middle loses nothing', async () => {
	const log = path.join(os.tmpdir(), `pt-hooks-receiver-${process.pid}.log`);
	fs.rmSync(log, { force: true });
	const start = (port) => new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [path.join(__dirname, 'receiver.js'), String(port), log]);
		child.stdout.once('data', (d) => resolve([child, Number(String(d).split(' ')[1])]));
		child.once('error', reject);
	});
	const read = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse) : []);
	let [child, port] = await start(0);
	const p = await project('receiver crash');
	await webhook(p, `http://127.0.0.1:${port}/slow/20/crash`);
	await emit(p, 100, db, true);
	await waitFor('20 deliveries', () => read().length >= 20);
	child.kill('SIGKILL');
	await sleep(1000);
	[child, port] = await start(port);
	const ids = (await events(p)).map((e) => Number(e.id));
	assert.equal(ids.length, 100);
	await waitFor('every event', () => new Set(read().map(eventId)).size >= 100, 60000);
	const first = [...new Set(read().map(eventId))];
	assert.deepEqual(first, ids, 'every event, first seen in id order');
	child.kill('SIGKILL');
	fs.rmSync(log, { force: true });
});

test('kill -9 of the server (its delivery worker) in the middle loses nothing; the same webhook-id after restart', async () => {
	const p = await project('server crash');
	await webhook(p, `http://127.0.0.1:${PORT}/slow/20/server-crash`);
	await emit(p, 100, db, true);
	const ids = (await events(p)).map((e) => Number(e.id));
	await waitFor('20 deliveries', () => at('/slow/20/server-crash').length >= 20);
	const workers = await deliveryWorkers();
	assert.equal(workers.length, 1);
	process.kill(workers[0].pid, 'SIGKILL');	// the postmaster restarts every process
	await db.end().catch(() => {});
	await sleep(1000);
	db = await connect();
	await waitFor('every event after the restart', () => new Set(at('/slow/20/server-crash').map(eventId)).size >= 100, 60000);
	const got = at('/slow/20/server-crash');
	assert.deepEqual([...new Set(got.map(eventId))], ids, 'every event, first seen in id order');
	const byId = new Map();
	for (const r of got) {
		if (byId.has(eventId(r))) {
			assert.equal(r.headers['webhook-id'], byId.get(eventId(r)).headers['webhook-id']);
			assert.equal(r.body, byId.get(eventId(r)).body);
		} else byId.set(eventId(r), r);
	}
});

test('confined roles see neither other projects\' webhooks nor any secret', async () => {
	const a = await project('confined A');
	const b = await project('confined B');
	await webhook(a, 'http://192.0.2.1/a');
	await webhook(b, 'http://192.0.2.1/b');
	await db.query('CREATE ROLE regress_hooks_app LOGIN');
	await db.query("SELECT participants.grant_access('regress_hooks_app', 'app')");
	await db.query("SELECT participants.grant_access('regress_hooks_app', 'reader')");
	await db.query("INSERT INTO participants.project_access (project_id, role_name) VALUES ($1, 'regress_hooks_app')", [a]);
	const app = await connect(DB, 'regress_hooks_app');
	try {
		await assert.rejects(app.query('SELECT participants.list_webhooks($1)', [b]), { code: '42501' });
		await assert.rejects(app.query("SELECT participants.create_webhook($1, 'http://192.0.2.1/x')", [b]), { code: '42501' });
		const own = (await app.query('SELECT participants.list_webhooks($1) AS l', [a])).rows[0].l;
		assert.equal(own.length, 1);
		assert.equal(own[0].secret, undefined);
		await assert.rejects(app.query('SELECT * FROM participants.webhook_secret'), { code: '42501' });
		const rows = (await app.query('SELECT project_id FROM participants.webhook')).rows;
		assert.deepEqual(rows.map((r) => r.project_id), [a]);
		const mine = (await app.query("SELECT participants.create_webhook($1, 'http://192.0.2.1/mine') AS w", [a])).rows[0].w;
		assert.match(mine.secret, /^whsec_/, 'its own new webhook shows its secret once');
	} finally {
		await app.end();
	}
});

test('DROP EXTENSION and DROP DATABASE stop delivery cleanly', async () => {
	const admin = await connect('postgres');
	for (const name of ['pt_hooks_drop1', 'pt_hooks_drop2']) {
		await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
		await admin.query(`CREATE DATABASE ${name}`);
		await admin.query(`ALTER DATABASE ${name} SET participants.webhook_allowed_hosts = '127.0.0.1'`);
		const c = await connect(name);
		await c.query('SET client_min_messages = warning');
		await c.query('CREATE EXTENSION participants CASCADE');
		const p = await one('SELECT participants.create_project($1)', [name], c);
		await one(`SELECT participants.upsert_participants($1, '[{"participantIdentifier": "X0"}]')`, [p], c);
		await one('SELECT participants.create_webhook($1, $2)', [p, `http://127.0.0.1:${PORT}/${name}`], c);
		await c.query('SELECT participants.set_opted_out($1, $2, true)', [p, 'X0']);
		await waitFor(`the delivery in ${name}`, () => at(`/${name}`).length === 1);
		if (name === 'pt_hooks_drop1') {
			await c.query('DROP EXTENSION participants');
			await waitFor('the worker to stop after DROP EXTENSION', async () => (await deliveryWorkers(name)).length === 0, 5000);
		}
		await c.end();
		// no FORCE: DROP DATABASE waits up to 5 s for other sessions; the worker leaves
		await admin.query(`DROP DATABASE ${name}`);
	}
	await admin.end();
});
