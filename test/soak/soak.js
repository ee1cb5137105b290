#!/usr/bin/env node
// test/soak/soak.js: a soak test of the participants extension under concurrent load.
//
//   cd test/soak && npm ci
//   node test/soak/soak.js --host SOCKETDIR --port PORT [--clients 8] [--seconds 60]
//                          [--no-refilter] [--seed S] [--db pt_soak] [--keep]
//
// It creates a fresh database (pt_soak by default), a project with 1,000 participants in
// two studies, two static segments (groups) and three dynamic ones, then runs N clients
// for T seconds, each calling the writing API functions in a weighted random mix on
// overlapping participants: single upserts (some changing an email to one another
// participant has), 100-element bulk upserts naming distinct participants in random
// order, status changes, additions to a study, enrollments and withdrawals, opt-outs and
// opt-ins, deletions (and adds of new participants), refilters of the dynamic segments
// (unless --no-refilter) and changes of the groups' members. Two consumers poll
// events_since from their own cursors every 20 ms the whole time.
//
// It counts every call by kind and every error by SQLSTATE. The API's own refusals
// (22023, 23505, PT404, PT409) are expected in such a mix; any other error (a deadlock,
// 40P01; a foreign key violation; an internal error) is a failure. After the run (and a
// last read by the consumers) it checks the invariants:
//   - no duplicate participantIdentifier, email (in any case) or phone in the project;
//   - no enrolled participant's email or phone differs from what it was when it enrolled;
//   - every dynamic segment's current members are exactly what its filter selects now,
//     evaluated from scratch by query_participants;
//   - every study participant has an unbroken chain of status events (the first
//     NOT_STARTED with no prior status, each next one's prior status the status before),
//     its current status is its last event's, and last_event_id names it;
//   - each consumer saw every event that is still in the table exactly once, in id order,
//     and nothing twice.
// It prints the counts and the checks ("ok - ..." / "not ok - ..." lines) and exits 1 on
// any failure, 2 on a usage or setup error.
'use strict';

const { Client } = require('pg');

function usage(msg) {
	if (msg) process.stderr.write(`soak.js: ${msg}\n`);
	process.stderr.write('usage: node soak.js --host SOCKETDIR --port PORT [--clients N] [--seconds T] ' +
		'[--no-refilter] [--seed S] [--db pt_soakNAME] [--keep]\n');
	process.exit(2);
}

function parseArgs(argv) {
	const o = { clients: 8, seconds: 60, refilter: true, seed: Date.now() % 1000000, db: 'pt_soak', keep: false };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
		if (a === '--host') o.host = next();
		else if (a === '--port') o.port = Number(next());
		else if (a === '--clients') o.clients = Number(next());
		else if (a === '--seconds') o.seconds = Number(next());
		else if (a === '--no-refilter') o.refilter = false;
		else if (a === '--seed') o.seed = Number(next());
		else if (a === '--db') o.db = next();
		else if (a === '--keep') o.keep = true;
		else usage(`unknown option ${a}`);
	}
	if (!o.host || !o.port) usage('--host and --port are required');
	if (!/^pt_soak\w*$/.test(o.db)) usage('--db must start with pt_soak');
	return o;
}

// a small seeded PRNG (mulberry32), so a run can be repeated
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6D2B79F5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

async function connect(opts, database) {
	const c = new Client({ host: opts.host, port: opts.port, user: 'postgres', database,
		application_name: 'participants-soak' });
	c.on('error', () => {});
	await c.connect();
	return c;
}

const SIZE = 1000;
const API_REFUSALS = new Set(['22023', '23505', 'PT404', 'PT409']);
const STATUSES = ['INVITE_SENT', 'SCREENER_STARTED', 'SCREENER_COMPLETED', 'SCREENER_QUALIFIED',
	'SURVEY_STARTED', 'SURVEY_COMPLETED', 'INTERVIEW_INVITE_SENT', 'INTERVIEW_SCHEDULED',
	'INTERVIEW_COMPLETED', 'INCENTIVE_SENT', 'COMPLETED_STUDY', 'CANCELLED', 'NOT_ELIGIBLE'];
const CITIES = ['Boston', 'Nashville', 'Austin', 'Denver'];
const NAMES = ['Smith', 'Jones', 'Lee', 'Garcia'];
const FILTERS = [
	{ custom_fields: { Arm: 'A' } }, { custom_fields: { Arm: 'B' } },
	{ demographic_fields: { City: 'Boston' } }, { demographic_fields: { City: 'Denver' } },
	{ query: 'smith' }, { query: 'lee' },
];

async function setup(opts) {
	const admin = await connect(opts, 'postgres');
	await admin.query(`DROP DATABASE IF EXISTS ${opts.db}`);
	await admin.query(`CREATE DATABASE ${opts.db}`);
	await admin.end();
	const db = await connect(opts, opts.db);
	await db.query('CREATE EXTENSION participants CASCADE');
	const { rows: [{ p }] } = await db.query(`SELECT participants.create_project('soak', '{"participantIdentifierPrefix": "N-"}') AS p`);
	await db.query(`SELECT participants.define_custom_field($1, 'Arm', 'text')`, [p]);
	const bodies = [];
	for (let i = 1; i <= SIZE; i++) {
		bodies.push({
			participantIdentifier: `S${i}`,
			demographics: { email: `s${i}@soak.test`, mobilePhone: `+1555${String(1000000 + i)}`,
				city: CITIES[i % CITIES.length], lastName: NAMES[i % NAMES.length] },
			customFields: { Arm: i % 2 ? 'A' : 'B', Score: i % 10 },
		});
	}
	await db.query('SELECT participants.upsert_participants($1, $2)', [p, JSON.stringify(bodies)]);
	const s1 = (await db.query(`SELECT participants.create_study($1, 'soak one') ->> 'studyID' AS s`, [p])).rows[0].s;
	const s2 = (await db.query(`SELECT participants.create_study($1, 'soak two') ->> 'studyID' AS s`, [p])).rows[0].s;
	const all = Array.from({ length: SIZE }, (_, i) => `S${i + 1}`);
	await db.query('SELECT participants.add_study_participants($1, $2, $3)', [p, s1, JSON.stringify(all)]);
	await db.query('SELECT participants.add_study_participants($1, $2, $3)', [p, s2, JSON.stringify(all.filter((_, i) => i % 2))]);
	const groups = [];
	for (const name of ['Group 1', 'Group 2'])
		groups.push((await db.query(`SELECT participants.create_segment($1, $2) ->> 'segmentID' AS s`, [p, name])).rows[0].s);
	const dynamic = [];
	for (const [name, f] of [['Arm A', FILTERS[0]], ['Boston', FILTERS[2]], ['Smiths', FILTERS[4]]])
		dynamic.push((await db.query(`SELECT participants.create_segment($1, $2, NULL, $3) ->> 'segmentID' AS s`,
			[p, name, JSON.stringify(f)])).rows[0].s);
	await db.query('ANALYZE');
	await db.end();
	return { p, studies: [s1, s2], groups, dynamic };
}

// ---------------------------------------------------------------------------------------

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	const rnd = prng(opts.seed);
	const pick = (a) => a[Math.floor(rnd() * a.length)];
	const int = (n) => Math.floor(rnd() * n);
	const ident = () => (rnd() < 0.9 ? `S${1 + int(SIZE)}` : pick(added.length ? added : ['S1']));
	const out = (s) => process.stdout.write(s + '\n');

	let ctx;
	try {
		ctx = await setup(opts);
	} catch (e) {
		process.stderr.write(`soak.js: setup failed: ${e.message}\n`);
		process.exit(2);
	}
	const { p, studies, groups, dynamic } = ctx;
	const added = [];				// identifiers generated by adds during the run
	const enrolled = new Map();		// participant id -> [email, phone] when it enrolled
	const calls = {};
	const busy = {};	// milliseconds spent in calls, by kind
	const errors = {};
	const unexpected = [];
	let newPeople = 0;

	const ops = [
		['upsert', 30, async (db) => {
			const body = { participantIdentifier: ident(), demographics: { city: pick(CITIES), lastName: pick(NAMES) },
				customFields: { Arm: pick(['A', 'B']), Score: int(10) } };
			if (rnd() < 0.2) body.demographics.email = `s${1 + int(SIZE)}@soak.test`;	// often another's: 23505
			if (rnd() < 0.05) body.demographics.mobilePhone = `+1555${String(1000000 + 1 + int(SIZE))}`;
			await db.query('SELECT participants.upsert_participant($1, $2)', [p, JSON.stringify(body)]);
		}],
		['add', 4, async (db) => {
			newPeople++;
			const r = await db.query('SELECT participants.upsert_participant($1, $2) AS r', [p, JSON.stringify({
				demographics: { email: `new${opts.seed}-${newPeople}-${int(1e9)}@soak.test`, city: pick(CITIES), lastName: pick(NAMES) } })]);
			added.push(r.rows[0].r.result.participantIdentifier);
		}],
		['bulk', 10, async (db) => {
			const set = new Set();
			while (set.size < 100) set.add(`S${1 + int(SIZE)}`);
			const bodies = [...set].map((i) => ({ participantIdentifier: i,
				demographics: { city: pick(CITIES) }, customFields: { Arm: pick(['A', 'B']) } }));
			await db.query('SELECT pg_column_size(participants.upsert_participants($1, $2))', [p, JSON.stringify(bodies)]);
		}],
		['status', 25, async (db) => {
			await db.query('SELECT participants.set_participant_status($1, $2, $3, $4)', [p, pick(studies), ident(), pick(STATUSES)]);
		}],
		['add_to_study', 4, async (db) => {
			const list = Array.from({ length: 5 }, () => ident());
			await db.query('SELECT participants.add_study_participants($1, $2, $3)', [p, pick(studies), JSON.stringify([...new Set(list)])]);
		}],
		['enroll', 4, async (db) => {
			const r = await db.query('SELECT participants.enroll_participant($1, $2) AS r', [p, ident()]);
			const res = r.rows[0].r.result;
			if (!enrolled.has(res.id))
				enrolled.set(res.id, [res.demographics.email || null, res.demographics.mobilePhone || null]);
		}],
		['withdraw', 1, async (db) => {
			await db.query('SELECT participants.withdraw_participant($1, $2)', [p, ident()]);
		}],
		['opt_out', 4, async (db) => {
			await db.query('SELECT participants.set_opted_out($1, $2, $3)', [p, ident(), rnd() < 0.5]);
		}],
		['delete', 2, async (db) => {
			await db.query('SELECT participants.delete_participant($1, $2)', [p, ident()]);
		}],
		['members', 4, async (db) => {
			const list = [...new Set(Array.from({ length: 10 }, () => ident()))];
			const fn = rnd() < 0.5 ? 'add_segment_members' : 'remove_segment_members';
			await db.query(`SELECT participants.${fn}($1, $2, $3)`, [p, pick(groups), JSON.stringify(list)]);
		}],
	];
	if (opts.refilter)
		ops.push(['refilter', 10, async (db) => {
			await db.query('SELECT participants.update_segment($1, $2, filter => $3)', [p, pick(dynamic), JSON.stringify(pick(FILTERS))]);
		}]);
	const total = ops.reduce((s, o) => s + o[1], 0);
	const chooseOp = () => {
		let r = rnd() * total;
		for (const o of ops) {
			if ((r -= o[1]) < 0) return o;
		}
		return ops[0];
	};

	out(`# soak: ${opts.clients} clients for ${opts.seconds} s, refilters ${opts.refilter ? 'on' : 'off'}, seed ${opts.seed}, database ${opts.db}`);
	const end = Date.now() + opts.seconds * 1000;
	let running = true;

	// consumers
	const consumers = [];
	for (let c = 0; c < 2; c++) {
		const state = { seen: [], cursor: 0, polls: 0, db: await connect(opts, opts.db) };
		consumers.push(state);
	}
	const poll = async (st) => {
		const { rows: [{ e }] } = await st.db.query('SELECT participants.events_since($1, $2, 1000) AS e', [p, st.cursor]);
		st.polls++;
		for (const ev of e) {
			st.seen.push(Number(ev.eventID));
			st.cursor = Number(ev.eventID);
		}
		return e.length;
	};
	const consumerLoops = consumers.map(async (st) => {
		while (running) {
			try {
				await poll(st);
			} catch (e) {
				unexpected.push(`consumer: ${e.code} ${e.message}`);
			}
			await new Promise((r) => setTimeout(r, 20));
		}
	});

	// writers
	const t0 = Date.now();
	const writers = [];
	for (let c = 0; c < opts.clients; c++) {
		writers.push((async () => {
			const db = await connect(opts, opts.db);
			while (Date.now() < end) {
				const [name, , fn] = chooseOp();
				calls[name] = (calls[name] || 0) + 1;
				const started = process.hrtime.bigint();
				try {
					await fn(db);
				} catch (e) {
					const code = e.code || 'client';
					errors[code] = (errors[code] || 0) + 1;
					if (!API_REFUSALS.has(code) && unexpected.length < 50)
						unexpected.push(`${name}: ${code} ${e.message}`);
				}
				busy[name] = (busy[name] || 0) + Number(process.hrtime.bigint() - started) / 1e6;
			}
			await db.end();
		})());
	}
	await Promise.all(writers);
	const elapsed = (Date.now() - t0) / 1000;
	running = false;
	await Promise.all(consumerLoops);
	for (const st of consumers) {
		while (await poll(st) > 0);		// read to the end
	}

	const ncalls = Object.values(calls).reduce((a, b) => a + b, 0);
	out(`# calls: ${ncalls} in ${elapsed.toFixed(1)} s, ${(ncalls / elapsed).toFixed(0)} per second`);
	out(`#   ${Object.entries(calls).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
	out(`# mean ms per call: ${Object.entries(calls).sort().map(([k, v]) => `${k} ${(busy[k] / v).toFixed(1)}`).join(', ')}`);
	out(`# errors by SQLSTATE: ${Object.entries(errors).sort().map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
	out(`# consumers: ${consumers.map((c) => `${c.polls} polls, ${c.seen.length} events`).join('; ')}`);

	// ---------------------------------------------------------------- checks
	const db = await connect(opts, opts.db);
	// deadlocks the server detected in this (fresh) database, those the calls retried
	// included: the writers' backends report them as they exit
	await new Promise((r) => setTimeout(r, 1500));
	const detected = Number((await db.query(
		'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
	out(`# deadlocks detected by the server: ${detected} (each retried by the call that lost it, unless a client saw 40P01)`);
	let failed = 0;
	const check = (name, good, detail) => {
		if (good) out(`ok - ${name}`);
		else {
			failed++;
			out(`not ok - ${name}`);
			if (detail) out(`#   ${String(detail).slice(0, 2000).replace(/\n/g, '\n#   ')}`);
		}
	};
	const deadlocks = errors['40P01'] || 0;
	check(`no deadlock reached a client (40P01: ${deadlocks})`, deadlocks === 0);
	check(`no error but the API's own refusals (22023, 23505, PT404, PT409) reached a client`,
		unexpected.length === 0, unexpected.slice(0, 20).join('\n'));

	const dup = async (expr) => Number((await db.query(`SELECT count(*) AS n FROM (SELECT ${expr} FROM participants.participant
		WHERE project_id = $1 AND ${expr} IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d`, [p])).rows[0].n);
	check('no duplicate participantIdentifier', await dup('participant_identifier') === 0);
	check('no duplicate email (in any case)', await dup('lower(email)') === 0);
	check('no duplicate mobile phone', await dup('mobile_phone') === 0);

	const changed = [];
	for (const [id, [email, phone]] of enrolled) {
		const r = await db.query('SELECT email, mobile_phone FROM participants.participant WHERE project_id = $1 AND id = $2', [p, id]);
		if (r.rows.length && (r.rows[0].email !== email || r.rows[0].mobile_phone !== phone))
			changed.push(`${id}: ${email}/${phone} -> ${r.rows[0].email}/${r.rows[0].mobile_phone}`);
	}
	check(`no enrolled participant's email or phone changed (${enrolled.size} enrolled during the run)`, changed.length === 0, changed.join('\n'));

	for (const seg of dynamic) {
		const { rows: [{ filter, name }] } = await db.query('SELECT filter, name FROM participants.segment WHERE project_id = $1 AND id = $2', [p, seg]);
		const members = new Set((await db.query(`SELECT participant_id::text AS id FROM participants.segment_membership
			WHERE project_id = $1 AND segment_id = $2 AND remove_date IS NULL`, [p, seg])).rows.map((r) => r.id));
		const expected = new Set();
		for (let page = 0; ; page++) {
			const { rows: [{ r }] } = await db.query(`SELECT participants.query_participants($1, query => $2, custom_fields => $3,
				demographic_fields => $4, page_number => $5, page_size => 1000) AS r`,
				[p, filter.query || null, filter.custom_fields ? JSON.stringify(filter.custom_fields) : null,
					filter.demographic_fields ? JSON.stringify(filter.demographic_fields) : null, page]);
			for (const x of r.participants) expected.add(x.id);
			if (r.participants.length < 1000) break;
		}
		const missing = [...expected].filter((x) => !members.has(x));
		const extra = [...members].filter((x) => !expected.has(x));
		check(`dynamic segment "${name}" (${JSON.stringify(filter)}) has exactly the ${expected.size} participants its filter selects`,
			missing.length === 0 && extra.length === 0, `missing ${missing.length}, extra ${extra.length}`);
	}

	const chain = (await db.query(`
		WITH ev AS (
			SELECT e.study_participant_id AS sp, e.id, e.payload ->> 'status' AS st, e.payload ->> 'priorStatus' AS pr,
			       lag(e.payload ->> 'status') OVER w AS prev, row_number() OVER w AS rn
			FROM participants.event e
			WHERE e.project_id = $1 AND e.event_type = 'participant.status_changed'
			WINDOW w AS (PARTITION BY e.study_participant_id ORDER BY e.id))
		SELECT
			(SELECT count(*) FROM ev WHERE (rn = 1 AND (pr IS NOT NULL OR st <> 'NOT_STARTED'))
			                             OR (rn > 1 AND pr IS DISTINCT FROM prev)) AS broken,
			(SELECT count(*) FROM participants.study_participant sp WHERE sp.project_id = $1
			   AND (sp.last_event_id IS DISTINCT FROM (SELECT max(id) FROM ev WHERE ev.sp = sp.id)
			        OR sp.status IS DISTINCT FROM (SELECT st FROM ev WHERE ev.sp = sp.id ORDER BY id DESC LIMIT 1))) AS mismatched,
			(SELECT count(*) FROM ev) AS events,
			(SELECT count(*) FROM participants.study_participant WHERE project_id = $1) AS rows`, [p])).rows[0];
	check(`every status change has exactly one event in an unbroken chain (${chain.events} events, ${chain.rows} study participants)`,
		Number(chain.broken) === 0, `${chain.broken} events break their chain`);
	check('every study participant is at its last event\'s status, and last_event_id names that event',
		Number(chain.mismatched) === 0, `${chain.mismatched} study participants differ`);

	const stored = (await db.query('SELECT id FROM participants.event WHERE project_id = $1 ORDER BY id', [p])).rows.map((r) => Number(r.id));
	for (const [i, st] of consumers.entries()) {
		const seen = new Set(st.seen);
		const twice = st.seen.length - seen.size;
		const missed = stored.filter((id) => !seen.has(id));
		const ordered = st.seen.every((id, k) => k === 0 || id > st.seen[k - 1]);
		check(`consumer ${i + 1} saw every event still stored exactly once, in id order (${stored.length} stored, ${st.seen.length} seen)`,
			twice === 0 && missed.length === 0 && ordered, `seen twice: ${twice}, missed: ${missed.slice(0, 20).join(' ')}, in order: ${ordered}`);
		await st.db.end();
	}
	await db.end();
	if (!opts.keep) {
		const admin = await connect(opts, 'postgres');
		await admin.query(`DROP DATABASE IF EXISTS ${opts.db}`);
		await admin.end();
	}
	out(`1..${7 + dynamic.length + consumers.length}`);
	out(`# soak: ${failed} check(s) failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	process.stderr.write(`soak.js: ${e.stack || e.message}\n`);
	process.exit(2);
});
