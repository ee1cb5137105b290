// test/http/api.test.js: the participants API over HTTP, against a real
// PostgREST 12 (test/dev.sh test starts it and sets PT_HTTP_URL).
//
//   cd test/http && PT_HTTP_URL=http://127.0.0.1:3000 node --test
//
// Tests run in order and share state: the admin token creates projects A and
// B, tokens confined to A (participants_web, participants_web_reader) and to B
// do the rest.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { token, sign } = require('./token.js');

const BASE = process.env.PT_HTTP_URL || 'http://127.0.0.1:3000';

// The API: every documented function, STABLE (GET and POST) or VOLATILE (POST)
const READERS = ['get_participant', 'query_participants', 'custom_fields', 'get_segment',
	'list_segments', 'segment_history', 'participant_segments', 'get_study',
	'study_participants', 'status_history', 'eligible_participants', 'events_since', 'event_channel',
	'list_webhooks', 'webhook_deliveries', 'get_project', 'list_studies',
	'participant_consents', 'contact_rules', 'contact_history', 'list_incentives', 'incentive_totals',
	'get_opted_out', 'get_import', 'import_rows', 'erasures', 'audit_log'];
const WRITERS = ['upsert_participant', 'upsert_participants', 'enroll_participant',
	'withdraw_participant', 'delete_participant', 'set_opted_out', 'define_custom_field',
	'drop_custom_field', 'create_segment', 'update_segment', 'delete_segment',
	'add_segment_members', 'remove_segment_members', 'create_study', 'update_study',
	'add_study_participants', 'set_participant_status', 'create_webhook', 'update_webhook',
	'rotate_webhook_secret', 'replay_webhook', 'delete_webhook', 'update_project',
	'define_consent', 'record_consent', 'withdraw_consent', 'set_contact_rules', 'record_incentive',
	'update_incentive', 'opt_out_people', 'delete_people', 'set_segment_members',
	'import_participants', 'erase_participant', 'forget_erasure', 'apply_retention'];
// functions of no one project: every token role may call them, for its own projects
const GLOBAL = ['list_projects'];
const ALL = [...READERS, ...WRITERS, ...GLOBAL, 'create_project'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA = 'ab'.repeat(32);			// a consent text's SHA-256, as define_consent takes it
const YEAR = new Date().getUTCFullYear();	// incentive_totals' year in the per-function calls
const DAY = 86400000;

// textArray(list): a text[] argument, sent as a JSON array over POST and as
// PostgreSQL's array literal over GET (a query parameter is the argument's text)
class TextArray {
	constructor(list) { this.list = list; }
	toJSON() { return this.list; }
	toString() { return `{${this.list.map((x) => `"${x.replace(/["\\]/g, '\\$&')}"`).join(',')}}`; }
}
const textArray = (list) => new TextArray(list);

// call(fn, args, {tok, method}): {status, body} of /rpc/fn
async function call(fn, args = {}, { tok, method = 'POST' } = {}) {
	const headers = {};
	if (tok) headers.Authorization = `Bearer ${tok}`;
	let res;
	if (method === 'GET') {
		const qs = new URLSearchParams();
		for (const [k, v] of Object.entries(args))
			qs.set(k, typeof v === 'object' && !(v instanceof TextArray) ? JSON.stringify(v) : String(v));
		res = await fetch(`${BASE}/rpc/${fn}?${qs}`, { headers });
	} else {
		headers['Content-Type'] = 'application/json';
		res = await fetch(`${BASE}/rpc/${fn}`, { method, headers, body: JSON.stringify(args) });
	}
	return { status: res.status, body: await parse(res) };
}

// postCsv(csv, {tok, headers}): {status, body} of a CSV file POSTed to
// /rpc/import_participants as the request body (Content-Type: text/csv)
async function postCsv(csv, { tok, headers = {} } = {}) {
	const h = { 'Content-Type': 'text/csv', Prefer: 'params=single-object', ...headers };
	if (tok) h.Authorization = `Bearer ${tok}`;
	const res = await fetch(`${BASE}/rpc/import_participants`, { method: 'POST', headers: h, body: csv });
	return { status: res.status, body: await parse(res) };
}

async function get(path, tok) {
	const res = await fetch(`${BASE}${path}`, { headers: tok ? { Authorization: `Bearer ${tok}` } : {} });
	return { status: res.status, body: await parse(res) };
}

async function parse(res) {
	const text = await res.text();
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}

// ok(r): assert a 200 and return the body
function ok(r) {
	assert.equal(r.status, 200, `expected 200, got ${r.status}: ${JSON.stringify(r.body)}`);
	return r.body;
}

// fails(r, status, code): assert PostgREST's error body for our error
function fails(r, status, code) {
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
	assert.equal(r.body.code, code);
	for (const key of ['message', 'details', 'hint'])
		assert.ok(key in r.body, `error body has "${key}"`);
	assert.ok(r.body.message.length > 0);
	return r.body;
}

const S = {};				// shared state: projects, ids, tokens
const admin = token('participants_admin', []);

// args of a call of each function against project p (ids from S[p])
function argsFor(fn, p) {
	const o = S[p];
	const base = { project_id: o.id };
	switch (fn) {
		case 'upsert_participant': return { ...base, participant: { participantIdentifier: 'X-1', demographics: { email: 'x1@example.com' } } };
		case 'upsert_participants': return { ...base, participants: [{ participantIdentifier: 'X-2' }] };
		case 'get_participant':
		case 'enroll_participant':
		case 'withdraw_participant':
		case 'delete_participant':
		case 'participant_segments': return { ...base, participant: 'P-1' };
		case 'set_opted_out': return { ...base, participant: 'P-1', opted_out: true };
		case 'define_custom_field': return { ...base, name: 'Extra', type: 'text' };
		case 'drop_custom_field': return { ...base, name: 'Smoker' };
		case 'custom_fields':
		case 'list_segments':
		case 'event_channel':
		case 'events_since': return base;
		case 'query_participants': return { ...base, query: 'p-', page_size: 10 };
		case 'create_segment': return { ...base, name: 'Another' };
		case 'update_segment': return { ...base, segment_id: o.segment, description: 'changed' };
		case 'delete_segment':
		case 'get_segment':
		case 'segment_history': return { ...base, segment_id: o.segment };
		case 'add_segment_members':
		case 'remove_segment_members': return { ...base, segment_id: o.segment, participants: ['P-1'] };
		case 'create_study': return { ...base, name: 'Another study' };
		case 'update_study': return { ...base, study_id: o.study, name: 'Renamed' };
		case 'get_study':
		case 'study_participants':
		case 'eligible_participants': return { ...base, study_id: o.study };
		case 'add_study_participants': return { ...base, study_id: o.study, participants: ['P-1'] };
		case 'set_participant_status': return { ...base, study_id: o.study, participant: 'P-1', status: 'INVITE_SENT' };
		case 'status_history': return { ...base, study_id: o.study, participant: 'P-1' };
		case 'list_projects': return {};
		case 'list_webhooks':
		case 'get_project':
		case 'list_studies': return base;
		case 'update_project': return { ...base, settings: { linkIdentifiers: true } };
		case 'create_webhook': return { ...base, url: 'https://192.0.2.50/other' };
		case 'update_webhook': return { ...base, webhook_id: o.webhook, description: 'changed' };
		case 'rotate_webhook_secret':
		case 'delete_webhook':
		case 'webhook_deliveries': return { ...base, webhook_id: o.webhook };
		case 'replay_webhook': return { ...base, webhook_id: o.webhook, after_event_id: 0 };
		case 'define_consent': return { ...base, name: 'other', scopes: textArray(['contact']) };
		case 'record_consent': return { ...base, participant: 'P-1', name: 'main' };
		case 'withdraw_consent': return { ...base, participant: 'P-1', name: 'main', scopes: textArray(['contact']) };
		case 'participant_consents':
		case 'contact_history': return { ...base, participant: 'P-1' };
		case 'set_contact_rules': return { ...base, rules: [] };
		case 'contact_rules': return base;
		case 'record_incentive': return { ...base, participant: 'P-1', study_id: o.study, amount: 10, currency: 'USD' };
		case 'update_incentive': return { ...base, incentive_id: o.incentive, status: 'cancelled' };
		case 'list_incentives': return { ...base, participant: 'P-1' };
		case 'incentive_totals': return { ...base, year: YEAR };
		case 'get_opted_out': return { ...base, participant: 'P-1' };
		case 'opt_out_people': return { ...base, people: ['p1@example.com'], opted_out: false };
		case 'delete_people': return { ...base, people: ['nobody@example.com'] };
		case 'set_segment_members': return { ...base, segment_id: o.segment, participants: ['P-1'] };
		case 'import_participants': return { ...base, data: 'participantIdentifier,email\nX-3,x3@example.com\n' };
		case 'get_import': return { ...base, import_id: o.import };
		case 'import_rows': return { ...base, import_id: o.import, failed_only: false };
		case 'erase_participant': return { ...base, participant: 'P-1' };
		case 'forget_erasure': return { ...base, erasure_id: o.erasure };
		case 'erasures':
		case 'apply_retention':
		case 'audit_log': return base;
		default: throw new Error(`no args for ${fn}`);
	}
}

// a snapshot of everything a token for p can read, to prove nothing changed
async function snapshot(p, tok) {
	const o = S[p];
	const out = {};
	for (const fn of READERS)
		out[fn] = (await call(fn, argsFor(fn, p), { tok })).body;
	out.events = (await call('events_since', { project_id: o.id, max_events: 1000 }, { tok })).body;
	return out;
}

// ---------------------------------------------------------------- setup

test('admin token creates projects A and B (create_project)', async () => {
	for (const p of ['A', 'B']) {
		const id = ok(await call('create_project', { name: `HTTP project ${p}`, settings: { participantIdentifierPrefix: `${p}-` } }, { tok: admin }));
		assert.match(id, /^[0-9a-f-]{36}$/);
		S[p] = { id };
	}
	S.A.web = token('participants_web', [S.A.id]);
	S.A.reader = token('participants_web_reader', [S.A.id]);
	S.B.web = token('participants_web', [S.B.id]);
});

test('project B gets a participant, a segment and a study (token for B)', async () => {
	const tok = S.B.web;
	ok(await call('upsert_participant', { project_id: S.B.id, participant: { participantIdentifier: 'P-1', demographics: { email: 'b1@example.com' } } }, { tok }));
	ok(await call('define_custom_field', { project_id: S.B.id, name: 'Smoker', type: 'integer' }, { tok }));
	S.B.segment = ok(await call('create_segment', { project_id: S.B.id, name: 'Group' }, { tok })).segmentID;
	ok(await call('add_segment_members', { project_id: S.B.id, segment_id: S.B.segment, participants: ['P-1'] }, { tok }));
	S.B.study = ok(await call('create_study', { project_id: S.B.id, name: 'Study' }, { tok })).studyID;
	ok(await call('add_study_participants', { project_id: S.B.id, study_id: S.B.study, participants: ['P-1'] }, { tok }));
	ok(await call('set_participant_status', { project_id: S.B.id, study_id: S.B.study, participant: 'P-1', status: 'INVITE_SENT' }, { tok }));
	// a paused webhook (to a documentation address delivery refuses)
	S.B.webhook = ok(await call('create_webhook', { project_id: S.B.id, url: 'https://192.0.2.50/b' }, { tok })).webhookID;
	ok(await call('update_webhook', { project_id: S.B.id, webhook_id: S.B.webhook, active: false }, { tok }));
	// governance: a consent P-1 holds, a contact rule, a pending incentive
	ok(await call('define_consent', { project_id: S.B.id, name: 'main', scopes: ['contact'] }, { tok }));
	ok(await call('record_consent', { project_id: S.B.id, participant: 'P-1', name: 'main' }, { tok }));
	ok(await call('set_contact_rules', { project_id: S.B.id, rules: [{ maxContacts: 2, windowDays: 7 }] }, { tok }));
	S.B.incentive = ok(await call('record_incentive', { project_id: S.B.id, participant: 'P-1', study_id: S.B.study, amount: 15, currency: 'EUR', status: 'pending' }, { tok })).incentiveID;
	// lifecycle: an import (P-2, P-3) and the erasure of P-3
	S.B.import = ok(await call('import_participants', { project_id: S.B.id, data: 'participantIdentifier,email\nP-2,b2@example.com\nP-3,b3@example.com\n' }, { tok })).importID;
	S.B.erasure = ok(await call('erase_participant', { project_id: S.B.id, participant: 'P-3' }, { tok })).erasureID;
	S.B.before = await snapshot('B', tok);
});

// ------------------------------------------------ every function, happy path

const happy = [
	['define_custom_field', (p) => ({ project_id: p, name: 'Smoker', type: 'integer' }),
		(b) => assert.deepEqual([b.name, b.type], ['Smoker', 'integer'])],
	['custom_fields', (p) => ({ project_id: p }),
		(b) => assert.deepEqual(b.map((f) => f.name), ['Smoker'])],
	['upsert_participant', (p) => ({ project_id: p, participant: { participantIdentifier: 'P-1', demographics: { email: 'p1@example.com', lastName: 'Smith', dateOfBirth: '1980-05-17' }, customFields: { Smoker: '1' } } }),
		(b) => { assert.equal(b.actionTaken, 'add'); assert.equal(b.result.customFields.Smoker, 1); }],
	['upsert_participants', (p) => ({ project_id: p, participants: [{ participantIdentifier: 'P-2', demographics: { email: 'p2@example.com' } }, { participantIdentifier: 'P-3' }] }),
		(b) => assert.deepEqual([b.totalAdded, b.totalUpdated], [2, 0])],
	['get_participant', (p) => ({ project_id: p, participant: 'P-1' }),
		(b) => assert.equal(b.demographics.lastName, 'Smith')],
	['query_participants', (p) => ({ project_id: p, query: 'smith', page_size: 10 }),
		(b) => { assert.equal(b.totalParticipants, 1); assert.equal(b.participants[0].participantIdentifier, 'P-1'); }],
	['enroll_participant', (p) => ({ project_id: p, participant: 'P-1' }),
		(b) => { assert.equal(b.actionTaken, 'update'); assert.equal(b.result.enrolled, true); }],
	['create_segment', (p) => ({ project_id: p, name: 'Group', description: 'called first' }),
		(b) => { assert.equal(b.kind, 'static'); S.A.segment = b.segmentID; }],
	['add_segment_members', (p) => ({ project_id: p, segment_id: S.A.segment, participants: ['P-1', 'P-2'] }),
		(b) => assert.ok(b)],
	['remove_segment_members', (p) => ({ project_id: p, segment_id: S.A.segment, participants: ['P-2'] }),
		(b) => assert.ok(b)],
	['get_segment', (p) => ({ project_id: p, segment_id: S.A.segment }),
		(b) => assert.equal(b.participantCount, 1)],
	['list_segments', (p) => ({ project_id: p }),
		(b) => assert.ok(JSON.stringify(b).includes(S.A.segment))],
	['update_segment', (p) => ({ project_id: p, segment_id: S.A.segment, description: 'call these first' }),
		(b) => assert.equal(b.description, 'call these first')],
	['segment_history', (p) => ({ project_id: p, segment_id: S.A.segment }),
		(b) => assert.deepEqual(b.map((m) => m.removeDate === null).sort(), [false, true])],
	['participant_segments', (p) => ({ project_id: p, participant: 'P-1' }),
		(b) => assert.ok(JSON.stringify(b).includes(S.A.segment))],
	['create_study', (p) => ({ project_id: p, name: 'Sleep', allowlist: [S.A.segment] }),
		(b) => { assert.deepEqual(b.allowlist, [S.A.segment]); S.A.study = b.studyID; }],
	['update_study', (p) => ({ project_id: p, study_id: S.A.study, name: 'Sleep study' }),
		(b) => assert.equal(b.studyName, 'Sleep study')],
	['get_study', (p) => ({ project_id: p, study_id: S.A.study }),
		(b) => assert.equal(b.studyName, 'Sleep study')],
	['add_study_participants', (p) => ({ project_id: p, study_id: S.A.study, participants: ['P-1', 'P-2'] }),
		(b) => { assert.equal(b.added, 1); assert.deepEqual(b.skipped, [{ participant: 'P-2', reason: 'not_eligible' }]); }],
	['set_participant_status', (p) => ({ project_id: p, study_id: S.A.study, participant: 'P-1', status: 'INVITE_SENT' }),
		(b) => { assert.equal(b.eventType, 'participant.status_changed'); assert.equal(b.priorStatus, 'NOT_STARTED'); }],
	['study_participants', (p) => ({ project_id: p, study_id: S.A.study }),
		(b) => { assert.equal(b.totalParticipants, 1); assert.equal(b.participants[0].status, 'INVITE_SENT'); }],
	['status_history', (p) => ({ project_id: p, study_id: S.A.study, participant: 'P-1' }),
		(b) => assert.deepEqual(b.map((e) => e.status), ['NOT_STARTED', 'INVITE_SENT'])],
	['eligible_participants', (p) => ({ project_id: p, study_id: S.A.study }),
		(b) => assert.equal(b.totalParticipants, 1)],
	['events_since', (p) => ({ project_id: p }),
		(b) => assert.equal(b.length, 2)],
	['event_channel', (p) => ({ project_id: p }),
		(b) => assert.match(b, /^participants_events_[0-9a-f]{32}$/)],
	['set_opted_out', (p) => ({ project_id: p, participant: 'P-3', opted_out: true }),
		(b) => assert.equal(b.actionTaken, 'update')],
	['withdraw_participant', (p) => ({ project_id: p, participant: 'P-2' }),
		(b) => assert.ok(b.result.withdrawDate)],
	['drop_custom_field', (p) => ({ project_id: p, name: 'Smoker' }),
		(b) => assert.equal(b.name, 'Smoker')],
	['delete_segment', async (p) => ({ project_id: p, segment_id: ok(await call('create_segment', { project_id: p, name: 'Temporary' }, { tok: S.A.web })).segmentID }),
		(b) => assert.ok(b)],
	['delete_participant', (p) => ({ project_id: p, participant: 'P-3' }),
		(b) => assert.equal(b.actionTaken, 'delete')],
	// webhooks (to a documentation address delivery refuses; paused at once)
	['create_webhook', (p) => ({ project_id: p, url: 'https://192.0.2.50/a', event_types: ['participant.status_changed'] }),
		(b) => { assert.match(b.secret, /^whsec_[A-Za-z0-9+/]{32}$/); assert.deepEqual(b.eventTypes, ['participant.status_changed']); S.A.webhook = b.webhookID; }],
	['update_webhook', (p) => ({ project_id: p, webhook_id: S.A.webhook, active: false, description: 'scheduler' }),
		(b) => { assert.equal(b.active, false); assert.equal(b.description, 'scheduler'); assert.equal(b.secret, undefined); }],
	['list_webhooks', (p) => ({ project_id: p }),
		(b) => { assert.deepEqual(b.map((w) => w.webhookID), [S.A.webhook]); assert.ok(!JSON.stringify(b).includes('whsec_')); }],
	['rotate_webhook_secret', (p) => ({ project_id: p, webhook_id: S.A.webhook }),
		(b) => assert.match(b.secret, /^whsec_/)],
	['webhook_deliveries', (p) => ({ project_id: p, webhook_id: S.A.webhook }),
		(b) => assert.deepEqual(b, { pageNumber: 0, pageSize: 20, totalDeliveries: 0, deliveries: [] })],
	['replay_webhook', (p) => ({ project_id: p, webhook_id: S.A.webhook, after_event_id: 0 }),
		(b) => assert.equal(b.lastDeliveredEventID, 0)],
	['delete_webhook', async (p) => ({ project_id: p, webhook_id: ok(await call('create_webhook', { project_id: p, url: 'https://192.0.2.51/x' }, { tok: S.A.web })).webhookID }),
		(b) => assert.equal(b.url, 'https://192.0.2.51/x')],
	// projects, completed
	['get_project', (p) => ({ project_id: p }),
		(b) => { assert.equal(b.projectID, S.A.id); assert.deepEqual(b.settings, { participantIdentifierPrefix: 'A-' }); }],
	['update_project', (p) => ({ project_id: p, settings: { strictCustomFields: false, retention: { eventDays: 365 } } }),
		(b) => assert.deepEqual(b.settings, { participantIdentifierPrefix: 'A-', strictCustomFields: false, retention: { eventDays: 365 } })],
	['list_studies', (p) => ({ project_id: p }),
		(b) => { assert.equal(b.totalStudies, 1); assert.equal(b.studies[0].studyName, 'Sleep study'); }],
	['list_projects', () => ({}),
		(b) => assert.deepEqual(b.map((x) => x.projectID), [S.A.id])],
	// governance (0.5.0): consent (version 1 first, then the version the call makes)
	['define_consent', async (p) => {
		assert.equal(ok(await call('define_consent', { project_id: p, name: 'main', scopes: ['contact'] }, { tok: S.A.web })).version, 1);
		return { project_id: p, name: 'main', scopes: ['contact', 'data_sharing'], text_sha256: SHA, description: 'Main consent, second version' };
	}, (b) => {
		assert.match(b.consentID, UUID);
		assert.deepEqual([b.name, b.version, b.scopes, b.textSha256, b.description], ['main', 2, ['contact', 'data_sharing'], SHA, 'Main consent, second version']);
	}],
	['record_consent', (p) => ({ project_id: p, participant: 'p1@example.com', by: 'email', name: 'main', method: 'web_form', evidence: { ip: '192.0.2.9' } }),
		(b) => {
			assert.deepEqual([b.name, b.version, b.latestVersion, b.scopes], ['main', 2, 2, ['contact', 'data_sharing']]);
			assert.deepEqual(b.history.map((h) => [h.action, h.version, h.method]), [['grant', 2, 'web_form']]);
		}],
	['withdraw_consent', (p) => ({ project_id: p, participant: 'P-1', name: 'main', scopes: ['data_sharing'], reason: 'no sharing' }),
		(b) => {
			assert.deepEqual([b.version, b.scopes], [2, ['contact']]);
			assert.deepEqual(b.history.map((h) => [h.action, h.scopes, h.reason]), [['grant', ['contact', 'data_sharing'], null], ['withdraw', ['data_sharing'], 'no sharing']]);
		}],
	['participant_consents', (p) => ({ project_id: p, participant: 'P-1' }),
		(b) => {
			assert.deepEqual(b.map((c) => [c.name, c.version, c.latestVersion, c.scopes]), [['main', 2, 2, ['contact']]]);
			assert.deepEqual(b[0].history.map((h) => h.action), ['grant', 'withdraw']);
		}],
	// contact rules: P-1 was contacted in the study above (INVITE_SENT)
	['set_contact_rules', (p) => ({ project_id: p, rules: [{ maxContacts: 1, windowDays: 30 }, { cooldownDaysAfterCompletion: 14 }] }),
		(b) => assert.deepEqual(b, [{ maxContacts: 1, windowDays: 30 }, { cooldownDaysAfterCompletion: 14 }])],
	['contact_rules', (p) => ({ project_id: p }),
		(b) => assert.deepEqual(b, [{ maxContacts: 1, windowDays: 30 }, { cooldownDaysAfterCompletion: 14 }])],
	['contact_history', async (p) => {
		S.A.p1 = ok(await call('get_participant', { project_id: p, participant: 'P-1' }, { tok: S.A.web })).id;
		return { project_id: p, participant: S.A.p1, by: 'id' };
	}, (b) => {
		assert.deepEqual(b.contacts.map((c) => [c.studyID, c.status]), [[S.A.study, 'INVITE_SENT']]);
		assert.deepEqual(b.blockedBy, { maxContacts: 1, windowDays: 30 });
		assert.equal(Date.parse(b.nextContactDate) - Date.parse(b.contacts[0].date), 30 * DAY);
	}],
	// incentives: one pending, then sent
	['record_incentive', (p) => ({ project_id: p, participant: 'P-1', study_id: S.A.study, amount: 25, currency: 'USD', status: 'pending', external_id: 'pay-A-1', note: 'gift card' }),
		(b) => {
			assert.match(b.incentiveID, UUID);
			assert.deepEqual([b.personId, b.studyID, b.amount, b.currency, b.status, b.externalID, b.note], [S.A.p1, S.A.study, 25, 'USD', 'pending', 'pay-A-1', 'gift card']);
			S.A.incentive = b.incentiveID;
			S.A.incentiveUpdated = b.updatedDate;
			S.A.incentiveYear = new Date(b.createdDate).getUTCFullYear();
		}],
	['update_incentive', (p) => ({ project_id: p, incentive_id: S.A.incentive, status: 'sent' }),
		(b) => {
			assert.deepEqual([b.incentiveID, b.status, b.amount], [S.A.incentive, 'sent', 25]);
			assert.notEqual(b.updatedDate, S.A.incentiveUpdated);
			assert.ok(Date.parse(b.updatedDate) >= Date.parse(S.A.incentiveUpdated));
		}],
	['list_incentives', (p) => ({ project_id: p, participant: 'P-1' }),
		(b) => {
			assert.equal(b.totalIncentives, 1);
			assert.deepEqual(b.incentives.map((i) => [i.incentiveID, i.status]), [[S.A.incentive, 'sent']]);
		}],
	['incentive_totals', (p) => ({ project_id: p, year: S.A.incentiveYear }),
		(b) => assert.deepEqual(b, [{ personId: S.A.p1, currency: 'USD', total: 25 }])],
	// people by email
	['get_opted_out', (p) => ({ project_id: p, participant: 'P1@EXAMPLE.COM', by: 'email' }),
		(b) => { assert.deepEqual([b.personId, b.optedOut], [S.A.p1, false]); assert.ok(Date.parse(b.updatedAt)); }],
	['opt_out_people', async (p) => {
		ok(await call('upsert_participant', { project_id: p, participant: { participantIdentifier: 'P-9', demographics: { email: 'p9@example.com' } } }, { tok: S.A.web }));
		return { project_id: p, people: ['P9@example.com', 'nobody@example.com'] };
	}, async (b) => {
		assert.deepEqual(b, { updated: 1, unchanged: 0, notFound: ['nobody@example.com'] });
		assert.equal(ok(await call('get_opted_out', { project_id: S.A.id, participant: 'P-9' }, { tok: S.A.web })).optedOut, true);
	}],
	['delete_people', async (p) => {
		ok(await call('upsert_participant', { project_id: p, participant: { participantIdentifier: 'P-8', demographics: { email: 'p8@example.com' } } }, { tok: S.A.web }));
		return { project_id: p, people: ['nobody@example.com', 'p8@example.com'] };
	}, async (b) => {
		assert.deepEqual(b, { deleted: 1, notFound: ['nobody@example.com'] });
		fails(await call('get_participant', { project_id: S.A.id, participant: 'P-8' }, { tok: S.A.web }), 404, 'PT404');
	}],
	['set_segment_members', async (p) => {
		const seg = ok(await call('create_segment', { project_id: p, name: 'Exactly these' }, { tok: S.A.web })).segmentID;
		ok(await call('add_segment_members', { project_id: p, segment_id: seg, participants: ['P-9'] }, { tok: S.A.web }));
		return { project_id: p, segment_id: seg, participants: ['p1@example.com'], by: 'email' };
	}, (b) => assert.deepEqual(b, { added: 1, removed: 1, unchanged: 0 })],
	// data lifecycle (0.6.0): a CSV import adds P-7 and updates P-9; P-7 is then erased
	['import_participants', (p) => ({ project_id: p, data: 'participantIdentifier,email,lastName\nP-7,p7@example.com,Import\nP-9,,Jones\n' }),
		async (b) => {
			assert.match(b.importID, UUID);
			assert.deepEqual([b.status, b.format, b.counts, b.errors], ['completed', 'csv', { rows: 2, added: 1, updated: 1, unchanged: 0, failed: 0 }, []]);
			assert.deepEqual([b.options.format, b.options.onError, b.options.allowUpdate, b.options.dryRun], ['csv', 'abort', true, false]);
			assert.ok(Date.parse(b.finishedDate) >= Date.parse(b.createdDate), `${b.createdDate} .. ${b.finishedDate}`);
			S.A.import = b.importID;
			S.A.importResult = b;
			const p7 = ok(await call('get_participant', { project_id: S.A.id, participant: 'P-7' }, { tok: S.A.web }));
			assert.deepEqual(p7.demographics, { email: 'p7@example.com', lastName: 'Import' });
			const p9 = ok(await call('get_participant', { project_id: S.A.id, participant: 'P-9' }, { tok: S.A.web }));
			assert.deepEqual(p9.demographics, { email: 'p9@example.com', lastName: 'Jones' });
			[S.A.p7, S.A.p9] = [p7.id, p9.id];
		}],
	['get_import', (p) => ({ project_id: p, import_id: S.A.import }),
		(b) => assert.deepEqual(b, S.A.importResult)],
	['import_rows', (p) => ({ project_id: p, import_id: S.A.import, failed_only: false }),
		(b) => {
			assert.deepEqual([b.pageNumber, b.pageSize, b.totalRows], [0, 20, 2]);
			assert.deepEqual(b.rows.map((r) => [r.row, r.actionTaken, r.personId, r.errors]), [[1, 'add', S.A.p7, []], [2, 'update', S.A.p9, []]]);
		}],
	['erase_participant', (p) => ({ project_id: p, participant: 'P7@Example.com', by: 'email', reason: 'asked to be forgotten' }),
		async (b) => {
			assert.match(b.erasureID, UUID);
			assert.deepEqual([b.personId, b.reason], [S.A.p7, 'asked to be forgotten']);
			assert.ok(Date.parse(b.erasedDate) >= Date.parse(S.A.importResult.finishedDate));
			assert.deepEqual(b.removed, { participant: 1, memberships: 0, studyStatuses: 0, events: 0, consents: 0, incentives: 0, deliveries: 0, auditValues: 1 });
			S.A.erasure = b.erasureID;
			S.A.receipt = b;
			fails(await call('get_participant', { project_id: S.A.id, participant: 'P-7' }, { tok: S.A.web }), 404, 'PT404');
			// the import's report of the row that named P-7 went with it
			const rows = ok(await call('import_rows', { project_id: S.A.id, import_id: S.A.import, failed_only: false }, { tok: S.A.web }));
			assert.deepEqual([rows.totalRows, rows.rows.map((r) => r.personId)], [1, [S.A.p9]]);
		}],
	['erasures', (p) => ({ project_id: p }),
		(b) => assert.deepEqual(b, { pageNumber: 0, pageSize: 20, totalErasures: 1, erasures: [S.A.receipt] })],
	['forget_erasure', (p) => ({ project_id: p, erasure_id: S.A.erasure }),
		(b) => assert.deepEqual(b, S.A.receipt)],
	['audit_log', (p) => ({ project_id: p, participant: 'P-9' }),
		(b) => {
			assert.deepEqual([b.pageNumber, b.pageSize, b.totalEntries], [0, 20, 5]);
			assert.deepEqual(b.entries.map((e) => e.action), ['update', 'membershipRemove', 'membershipAdd', 'optOut', 'add']);
			assert.deepEqual(b.entries[0].changedKeys, ['demographics.lastName']);
			assert.deepEqual(b.entries.at(-1).changedKeys, ['demographics.email', 'participantIdentifier']);
			assert.match(b.entries[1].changedKeys[0], /^segments\./);
			for (const e of b.entries) {
				assert.match(e.auditID, UUID);
				assert.deepEqual([e.personId, e.actor, e.reason], [S.A.p9, { role: 'participants_web', jwtSub: null }, null]);
			}
			const dates = b.entries.map((e) => Date.parse(e.date));
			assert.deepEqual(dates, [...dates].sort((x, y) => y - x), 'newest first');
			// keys, never values
			assert.ok(!/Jones|p9@example/.test(JSON.stringify(b)), JSON.stringify(b));
		}],
	['apply_retention', (p) => ({ project_id: p }),
		(b) => assert.deepEqual(b, { participantsErased: 0, eventsDeleted: 0, deliveriesDeleted: 0, auditDeleted: 0 })],
];

for (const [fn, args, check] of happy) {
	test(`POST /rpc/${fn} answers 200 with its result`, async () => {
		await check(ok(await call(fn, await args(S.A.id), { tok: S.A.web })));
	});
}

test('every API function had a happy path over HTTP', () => {
	const covered = new Set(['create_project', ...happy.map(([fn]) => fn)]);
	assert.deepEqual([...ALL].filter((fn) => !covered.has(fn)), []);
});

// ---------------------------------------------------------- GET and POST

for (const fn of READERS) {
	test(`GET /rpc/${fn} answers as POST does`, async () => {
		const args = argsFor(fn, 'A');
		const viaGet = ok(await call(fn, args, { tok: S.A.web, method: 'GET' }));
		const viaPost = ok(await call(fn, args, { tok: S.A.web }));
		assert.deepEqual(viaGet, viaPost);
	});
}

test('GET /rpc/query_participants takes JSON filters as query parameters', async () => {
	const b = ok(await call('query_participants', { project_id: S.A.id, demographic_fields: { LastName: 'smith' }, custom_fields: {} }, { tok: S.A.web, method: 'GET' }));
	assert.deepEqual(b.participants.map((x) => x.participantIdentifier), ['P-1']);
});

for (const fn of WRITERS) {
	test(`GET /rpc/${fn} (a writer) answers 405 and writes nothing`, async () => {
		const before = await snapshot('A', S.A.web);
		const r = await call(fn, argsFor(fn, 'A'), { tok: S.A.web, method: 'GET' });
		assert.equal(r.status, 405, JSON.stringify(r.body));
		assert.deepEqual(await snapshot('A', S.A.web), before);
	});
}

// -------------------------------------------------------------- errors

test('22023 answers 400 (page_size out of range)', async () => {
	const b = fails(await call('query_participants', { project_id: S.A.id, page_size: 0 }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /page_size/);
});

test('22023 answers 400 (unknown key, named)', async () => {
	const b = fails(await call('upsert_participant', { project_id: S.A.id, participant: { participantIdentifier: 'P-9', demographics: { shoeSize: 9 } } }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /demographics\.shoeSize/);
});

test('list_projects lists exactly the projects of the token', async () => {
	const both = token('participants_web', [S.A.id, S.B.id]);
	assert.deepEqual(ok(await call('list_projects', {}, { tok: both })).map((p) => p.projectID).sort(), [S.A.id, S.B.id].sort());
	assert.deepEqual(ok(await call('list_projects', {}, { tok: S.A.reader, method: 'GET' })).map((p) => p.projectID), [S.A.id]);
	const none = sign({ role: 'participants_web', exp: Math.floor(Date.now() / 1000) + 600 });
	assert.deepEqual(ok(await call('list_projects', {}, { tok: none })), []);
});

test('22023 answers 400 (an unknown project setting, named)', async () => {
	const b = fails(await call('update_project', { project_id: S.A.id, settings: { colour: 'red' } }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /settings\.colour/);
});

test('22023 answers 400 (an unknown event type of a webhook, named)', async () => {
	const b = fails(await call('create_webhook', { project_id: S.A.id, url: 'https://192.0.2.50/c', event_types: ['person.moved'] }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /event_types\[0\]/);
});

test('22023 answers 400 (a webhook URL that is not http or https)', async () => {
	const b = fails(await call('create_webhook', { project_id: S.A.id, url: 'file:///etc/passwd' }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /"url"/);
});

test('PT404 answers 404 (webhook not found)', async () => {
	fails(await call('webhook_deliveries', { project_id: S.A.id, webhook_id: '00000000-0000-0000-0000-000000000000' }, { tok: S.A.web }), 404, 'PT404');
});

test('22007 answers 400 (a date in the wrong form)', async () => {
	const b = fails(await call('upsert_participant', { project_id: S.A.id, participant: { participantIdentifier: 'P-9', demographics: { dateOfBirth: '17/05/1980' } } }, { tok: S.A.web }), 400, '22007');
	assert.match(b.message, /dateOfBirth/);
});

test('22008 answers 400 (an impossible date)', async () => {
	fails(await call('upsert_participant', { project_id: S.A.id, participant: { participantIdentifier: 'P-9', demographics: { dateOfBirth: '2021-02-30' } } }, { tok: S.A.web }), 400, '22008');
});

test('PT404 answers 404 (participant not found)', async () => {
	const b = fails(await call('get_participant', { project_id: S.A.id, participant: 'NOBODY' }, { tok: S.A.web }), 404, 'PT404');
	assert.match(b.message, /NOBODY/);
});

test('PT404 answers 404 (study not found)', async () => {
	fails(await call('get_study', { project_id: S.A.id, study_id: '00000000-0000-0000-0000-000000000000' }, { tok: S.A.web }), 404, 'PT404');
});

test('23505 answers 409 with a hint (email taken)', async () => {
	const b = fails(await call('upsert_participant', { project_id: S.A.id, participant: { demographics: { email: 'P1@example.com' } } }, { tok: S.A.web }), 409, '23505');
	assert.ok(b.hint, 'a hint says how to fix it');
});

test('23505 answers 409 (segment name taken)', async () => {
	fails(await call('create_segment', { project_id: S.A.id, name: 'group' }, { tok: S.A.web }), 409, '23505');
});

test('PT409 answers 409 (email of an enrolled participant)', async () => {
	const b = fails(await call('upsert_participant', { project_id: S.A.id, participant: { participantIdentifier: 'P-1', demographics: { email: 'new@example.com' } } }, { tok: S.A.web }), 409, 'PT409');
	assert.match(b.message, /demographics\.email/);
});

test('PT409 answers 409 with the allowed statuses in the hint (transition)', async () => {
	const b = fails(await call('set_participant_status', { project_id: S.A.id, study_id: S.A.study, participant: 'P-1', status: 'INCENTIVE_CLAIMED' }, { tok: S.A.web }), 409, 'PT409');
	assert.match(b.message, /INVITE_SENT/);
	assert.match(b.hint, /CANCELLED/);
});

test('42501 answers 403 (a token for A asks about B)', async () => {
	const b = fails(await call('get_participant', { project_id: S.B.id, participant: 'P-1' }, { tok: S.A.web }), 403, '42501');
	assert.match(b.message, new RegExp(S.B.id));
});

test('a confined token cannot add or drop sort indexes on the shared table (403), and nothing changes', async () => {
	const before = ok(await call('custom_fields', { project_id: S.A.id }, { tok: S.A.web }));
	const b = fails(await call('define_custom_field', { project_id: S.A.id, name: 'Ranked', type: 'integer', options: { sortable: true } }, { tok: S.A.web }), 403, '42501');
	assert.match(b.message, /sortable/);
	assert.deepEqual(ok(await call('custom_fields', { project_id: S.A.id }, { tok: S.A.web })), before);
	// an operator (the admin token: not confined) may; the confined token then cannot undo it
	const d = ok(await call('define_custom_field', { project_id: S.A.id, name: 'Ranked', type: 'integer', options: { sortable: true } }, { tok: admin }));
	assert.equal(d.options.sortable, true);
	fails(await call('define_custom_field', { project_id: S.A.id, name: 'Ranked', type: 'integer', options: {} }, { tok: S.A.web }), 403, '42501');
	fails(await call('drop_custom_field', { project_id: S.A.id, name: 'Ranked' }, { tok: S.A.web }), 403, '42501');
	ok(await call('drop_custom_field', { project_id: S.A.id, name: 'Ranked' }, { tok: admin }));
	assert.deepEqual(ok(await call('custom_fields', { project_id: S.A.id }, { tok: S.A.web })), before);
});

test('a failed call writes nothing (bulk call with a bad element)', async () => {
	const before = await snapshot('A', S.A.web);
	fails(await call('upsert_participants', { project_id: S.A.id, participants: [{ participantIdentifier: 'N-1' }, { participantIdentifier: 'N-2', demographics: { email: 'bad' } }] }, { tok: S.A.web }), 400, '22023');
	assert.deepEqual(await snapshot('A', S.A.web), before);
});

// ------------------------------------------------------- governance (0.5.0)

// statuses(study, participant): the participant's statuses in a study of A, oldest first
async function statuses(study_id, participant) {
	return ok(await call('status_history', { project_id: S.A.id, study_id, participant }, { tok: S.A.web })).map((e) => e.status);
}

// eligible(study, more): the participantIdentifiers eligible_participants lists for a study of A
async function eligible(study_id, more = {}) {
	return ok(await call('eligible_participants', { project_id: S.A.id, study_id, ...more }, { tok: S.A.web })).participants.map((x) => x.participantIdentifier);
}

test('22023 answers 400 (a scope the consent version does not have, named), and nothing changes', async () => {
	const before = ok(await call('participant_consents', { project_id: S.A.id, participant: 'P-1' }, { tok: S.A.web }));
	const b = fails(await call('record_consent', { project_id: S.A.id, participant: 'P-1', name: 'main', scopes: ['contact', 'flying'] }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /"flying"/);
	fails(await call('withdraw_consent', { project_id: S.A.id, participant: 'P-1', name: 'main', scopes: ['flying'] }, { tok: S.A.web }), 400, '22023');
	assert.deepEqual(ok(await call('participant_consents', { project_id: S.A.id, participant: 'P-1' }, { tok: S.A.web })), before);
});

test('22023 answers 400 (a consent without scopes, a scope with a space, a bad text_sha256)', async () => {
	assert.match(fails(await call('define_consent', { project_id: S.A.id, name: 'empty', scopes: [] }, { tok: S.A.web }), 400, '22023').message, /scopes/);
	assert.match(fails(await call('define_consent', { project_id: S.A.id, name: 'spaced', scopes: ['data sharing'] }, { tok: S.A.web }), 400, '22023').message, /data sharing/);
	fails(await call('define_consent', { project_id: S.A.id, name: 'hashed', scopes: ['contact'], text_sha256: 'not-a-hash' }, { tok: S.A.web }), 400, '22023');
});

test('22023 answers 400 (a "by" that is not identifier, id or email)', async () => {
	const args = { project_id: S.A.id, participant: 'P-1', by: 'name' };
	for (const fn of ['participant_consents', 'contact_history', 'list_incentives']) {
		const b = fails(await call(fn, args, { tok: S.A.web }), 400, '22023');
		assert.match(b.message, /"by"/, fn);
	}
	fails(await call('record_consent', { ...args, name: 'main' }, { tok: S.A.web }), 400, '22023');
	// the same over GET, for a reader
	fails(await call('contact_history', args, { tok: S.A.web, method: 'GET' }), 400, '22023');
});

test('22023 answers 400 (a bad currency, amount or status of an incentive), and nothing is recorded', async () => {
	const before = ok(await call('list_incentives', { project_id: S.A.id }, { tok: S.A.web }));
	const args = { project_id: S.A.id, participant: 'P-1', study_id: S.A.study, amount: 5, currency: 'USD' };
	assert.match(fails(await call('record_incentive', { ...args, currency: 'usd' }, { tok: S.A.web }), 400, '22023').message, /currency/);
	assert.match(fails(await call('record_incentive', { ...args, currency: 'DOLLARS' }, { tok: S.A.web }), 400, '22023').message, /currency/);
	assert.match(fails(await call('record_incentive', { ...args, amount: 0 }, { tok: S.A.web }), 400, '22023').message, /amount/);
	assert.match(fails(await call('record_incentive', { ...args, amount: -5 }, { tok: S.A.web }), 400, '22023').message, /amount/);
	assert.match(fails(await call('record_incentive', { ...args, status: 'lost' }, { tok: S.A.web }), 400, '22023').message, /status/);
	assert.match(fails(await call('record_incentive', { ...args, override_reason: '' }, { tok: S.A.web }), 400, '22023').message, /override_reason/);
	assert.match(fails(await call('update_incentive', { project_id: S.A.id, incentive_id: S.A.incentive, status: 'lost' }, { tok: S.A.web }), 400, '22023').message, /status/);
	assert.match(fails(await call('list_incentives', { project_id: S.A.id, status: 'lost' }, { tok: S.A.web }), 400, '22023').message, /status/);
	assert.match(fails(await call('incentive_totals', { project_id: S.A.id, year: 0 }, { tok: S.A.web }), 400, '22023').message, /year/);
	assert.deepEqual(ok(await call('list_incentives', { project_id: S.A.id }, { tok: S.A.web })), before);
});

test('22023 answers 400 (a bad contact rule, named), and the rules stay', async () => {
	const before = ok(await call('contact_rules', { project_id: S.A.id }, { tok: S.A.web }));
	const set = (rules) => call('set_contact_rules', { project_id: S.A.id, rules }, { tok: S.A.web });
	assert.match(fails(await set([{ maxContacts: 3, windowDays: 7 }, { colour: 'red' }]), 400, '22023').message, /rules\[1\].*colour/);
	assert.match(fails(await set([{ maxContacts: 3 }]), 400, '22023').message, /rules\[0\]/);
	assert.match(fails(await set([{ maxContacts: 0, windowDays: 7 }]), 400, '22023').message, /maxContacts/);
	fails(await set({ maxContacts: 3, windowDays: 7 }), 400, '22023');
	assert.deepEqual(ok(await call('contact_rules', { project_id: S.A.id }, { tok: S.A.web })), before);
});

test('PT404 answers 404 (unknown consent, version, participant or incentive)', async () => {
	const t = { tok: S.A.web };
	assert.match(fails(await call('record_consent', { project_id: S.A.id, participant: 'P-1', name: 'nope' }, t), 404, 'PT404').message, /"nope"/);
	assert.match(fails(await call('record_consent', { project_id: S.A.id, participant: 'P-1', name: 'main', version: 9 }, t), 404, 'PT404').message, /version 9/);
	assert.match(fails(await call('record_consent', { project_id: S.A.id, participant: 'NOBODY', name: 'main' }, t), 404, 'PT404').message, /NOBODY/);
	assert.match(fails(await call('participant_consents', { project_id: S.A.id, participant: 'NOBODY' }, t), 404, 'PT404').message, /NOBODY/);
	assert.match(fails(await call('participant_consents', { project_id: S.A.id, participant: 'nobody@example.com', by: 'email' }, t), 404, 'PT404').message, /nobody@example\.com/);
	fails(await call('contact_history', { project_id: S.A.id, participant: 'NOBODY' }, t), 404, 'PT404');
	// P-1 never consented to "other" (not even defined)
	fails(await call('withdraw_consent', { project_id: S.A.id, participant: 'P-1', name: 'other' }, t), 404, 'PT404');
	fails(await call('record_incentive', { project_id: S.A.id, participant: 'NOBODY', study_id: S.A.study, amount: 5, currency: 'USD' }, t), 404, 'PT404');
	fails(await call('record_incentive', { project_id: S.A.id, participant: 'P-1', study_id: '00000000-0000-0000-0000-000000000000', amount: 5, currency: 'USD' }, t), 404, 'PT404');
	fails(await call('update_incentive', { project_id: S.A.id, incentive_id: '00000000-0000-0000-0000-000000000000', status: 'sent' }, t), 404, 'PT404');
	fails(await call('list_incentives', { project_id: S.A.id, participant: 'NOBODY' }, t), 404, 'PT404');
	assert.match(fails(await call('create_study', { project_id: S.A.id, name: 'Unknown consent', required_consents: [{ name: 'nope' }] }, t), 404, 'PT404').message, /"nope"/);
});

test('PT409 answers 409 for a contact a contact rule refuses; override_reason lets it through, in the event', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'P-5', demographics: { email: 'p5@example.com' } } }, t));
	S.A.rules1 = ok(await call('create_study', { project_id, name: 'Rules one' }, t)).studyID;
	S.A.rules2 = ok(await call('create_study', { project_id, name: 'Rules two' }, t)).studyID;
	for (const study_id of [S.A.rules1, S.A.rules2])
		assert.equal(ok(await call('add_study_participants', { project_id, study_id, participants: ['P-5'] }, t)).added, 1);
	// a reason given when no rule refuses records nothing
	const first = ok(await call('set_participant_status', { project_id, study_id: S.A.rules1, participant: 'P-5', status: 'INVITE_SENT', override_reason: 'not needed' }, t));
	assert.equal(first.status, 'INVITE_SENT');
	assert.ok(!('override' in first), `no override without a refusal: ${JSON.stringify(first)}`);
	// eligible_participants leaves out whom a rule refuses now, unless contactable_only is false
	assert.deepEqual(await eligible(S.A.rules2), []);
	assert.deepEqual(await eligible(S.A.rules2, { contactable_only: false }), ['P-1', 'P-5']);
	assert.deepEqual(ok(await call('eligible_participants', { project_id, study_id: S.A.rules2, contactable_only: false }, { ...t, method: 'GET' })).participants.map((x) => x.participantIdentifier), ['P-1', 'P-5']);
	// the second contact within 30 days: refused, with the date it is allowed from
	const args = { project_id, study_id: S.A.rules2, participant: 'P-5', status: 'INVITE_SENT' };
	const refused = fails(await call('set_participant_status', args, t), 409, 'PT409');
	assert.match(refused.message, /contact rule/);
	const hist = ok(await call('contact_history', { project_id, participant: 'P-5' }, t));
	assert.deepEqual(hist.blockedBy, { maxContacts: 1, windowDays: 30 });
	assert.equal(Date.parse(hist.nextContactDate) - Date.parse(hist.contacts[0].date), 30 * DAY);
	assert.ok(refused.details.includes(hist.nextContactDate), `the detail gives ${hist.nextContactDate}: ${refused.details}`);
	assert.match(refused.hint, /override_reason/);
	assert.deepEqual(await statuses(S.A.rules2, 'P-5'), ['NOT_STARTED']);
	// an empty override_reason is no reason
	assert.match(fails(await call('set_participant_status', { ...args, override_reason: '' }, t), 400, '22023').message, /override_reason/);
	assert.deepEqual(await statuses(S.A.rules2, 'P-5'), ['NOT_STARTED']);
	// with a reason: through, and the event names the rule and the reason
	const ev = ok(await call('set_participant_status', { ...args, override_reason: 'PI approved a recall' }, t));
	assert.deepEqual([ev.eventType, ev.status, ev.priorStatus, ev.studyId], ['participant.status_changed', 'INVITE_SENT', 'NOT_STARTED', S.A.rules2]);
	assert.deepEqual(ev.override, { rule: { maxContacts: 1, windowDays: 30 }, reason: 'PI approved a recall' });
	assert.deepEqual(await statuses(S.A.rules2, 'P-5'), ['NOT_STARTED', 'INVITE_SENT']);
	const events = ok(await call('events_since', { project_id, max_events: 1000 }, t));
	assert.deepEqual(events.at(-1).payload.override, ev.override);
	const after = ok(await call('contact_history', { project_id, participant: 'p5@example.com', by: 'email' }, t));
	assert.deepEqual(after.contacts.map((c) => [c.studyID, c.status]), [[S.A.rules1, 'INVITE_SENT'], [S.A.rules2, 'INVITE_SENT']]);
	// not a contact: a move the rules do not count is not refused
	ok(await call('set_participant_status', { project_id, study_id: S.A.rules1, participant: 'P-5', status: 'SURVEY_STARTED' }, t));
});

test('an incentive moves the study status where the graph allows (sent, then claimed)', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	ok(await call('set_participant_status', { project_id, study_id: S.A.rules1, participant: 'P-5', status: 'SURVEY_COMPLETED' }, t));
	const inc = ok(await call('record_incentive', { project_id, participant: 'P-5', study_id: S.A.rules1, amount: 12.5, currency: 'EUR', status: 'pending' }, t));
	assert.deepEqual([inc.amount, inc.status], [12.5, 'pending']);
	assert.equal((await statuses(S.A.rules1, 'P-5')).at(-1), 'SURVEY_COMPLETED');
	assert.equal(ok(await call('update_incentive', { project_id, incentive_id: inc.incentiveID, status: 'sent' }, t)).status, 'sent');
	assert.equal((await statuses(S.A.rules1, 'P-5')).at(-1), 'INCENTIVE_SENT');
	assert.equal(ok(await call('update_incentive', { project_id, incentive_id: inc.incentiveID, status: 'claimed' }, t)).status, 'claimed');
	assert.equal((await statuses(S.A.rules1, 'P-5')).at(-1), 'INCENTIVE_CLAIMED');
	// the ledger goes one way
	assert.match(fails(await call('update_incentive', { project_id, incentive_id: inc.incentiveID, status: 'pending' }, t), 409, 'PT409').message, /claimed/);
	const list = ok(await call('list_incentives', { project_id, study_id: S.A.rules1, status: 'claimed' }, t));
	assert.deepEqual(list.incentives.map((i) => i.incentiveID), [inc.incentiveID]);
	const totals = ok(await call('incentive_totals', { project_id, year: S.A.incentiveYear }, { ...t, method: 'GET' }));
	assert.deepEqual(totals.find((x) => x.currency === 'EUR'), { personId: inc.personId, currency: 'EUR', total: 12.5 });
});

test('the same external_id again updates that incentive; another participant\'s is 409; claimed is final', async () => {
	const t = { tok: S.A.web };
	const again = ok(await call('record_incentive', { project_id: S.A.id, participant: 'P-1', study_id: S.A.study, amount: 25, currency: 'USD', status: 'claimed', external_id: 'pay-A-1' }, t));
	assert.deepEqual([again.incentiveID, again.status, again.note], [S.A.incentive, 'claimed', 'gift card']);
	assert.equal(ok(await call('list_incentives', { project_id: S.A.id, participant: 'P-1' }, t)).totalIncentives, 1);
	const b = fails(await call('record_incentive', { project_id: S.A.id, participant: 'P-5', study_id: S.A.rules1, amount: 25, currency: 'USD', external_id: 'pay-A-1' }, t), 409, 'PT409');
	assert.match(b.message, /pay-A-1/);
	assert.match(fails(await call('update_incentive', { project_id: S.A.id, incentive_id: S.A.incentive, status: 'cancelled' }, t), 409, 'PT409').message, /claimed/);
	const list = ok(await call('list_incentives', { project_id: S.A.id, participant: 'P-1' }, t));
	assert.deepEqual(list.incentives.map((i) => [i.incentiveID, i.status]), [[S.A.incentive, 'claimed']]);
});

test('PT409 answers 409 for an incentive over the yearly limit; override_reason records it anyway', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	const settings = ok(await call('update_project', { project_id, settings: { incentiveYearlyLimit: { amount: 100, currency: 'USD' } } }, t)).settings;
	assert.deepEqual(settings.incentiveYearlyLimit, { amount: 100, currency: 'USD' });
	const usd = async () => ok(await call('incentive_totals', { project_id, year: S.A.incentiveYear }, t)).find((x) => x.personId === S.A.p1 && x.currency === 'USD').total;
	assert.equal(await usd(), 25);
	const before = ok(await call('list_incentives', { project_id, participant: 'P-1' }, t));
	const args = { project_id, participant: 'P-1', study_id: S.A.study, amount: 80, currency: 'USD' };
	const b = fails(await call('record_incentive', args, t), 409, 'PT409');
	assert.match(b.message, /yearly limit of 100 USD/);
	assert.match(b.details, /105/);
	assert.match(b.hint, /override_reason/);
	assert.deepEqual(ok(await call('list_incentives', { project_id, participant: 'P-1' }, t)), before);
	assert.equal(await usd(), 25);
	// exactly up to the limit is allowed; another currency is not limited
	ok(await call('record_incentive', { ...args, amount: 75 }, t));
	ok(await call('record_incentive', { ...args, amount: 500, currency: 'EUR' }, t));
	assert.equal(await usd(), 100);
	fails(await call('record_incentive', { ...args, amount: 0.01 }, t), 409, 'PT409');
	const over = ok(await call('record_incentive', { ...args, override_reason: 'approved by the PI' }, t));
	assert.deepEqual([over.amount, over.currency, over.status], [80, 'USD', 'sent']);
	assert.equal(await usd(), 180);
	// a pending incentive does not count until it is sent; then the limit holds
	const pending = ok(await call('record_incentive', { ...args, amount: 10, status: 'pending' }, t));
	assert.equal(await usd(), 180);
	assert.match(fails(await call('update_incentive', { project_id, incentive_id: pending.incentiveID, status: 'sent' }, t), 409, 'PT409').message, /yearly limit/);
	assert.equal(ok(await call('list_incentives', { project_id, participant: 'P-1', status: 'pending' }, t)).totalIncentives, 1);
	assert.equal(ok(await call('update_incentive', { project_id, incentive_id: pending.incentiveID, status: 'sent', override_reason: 'approved again' }, t)).status, 'sent');
	assert.equal(await usd(), 190);
});

test('PT409 answers 409 for a contact in a study requiring a consent the participant lacks', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'P-6', demographics: { email: 'p6@example.com' } } }, t));
	// a study requiring consent from the start skips whoever lacks it
	const required = ok(await call('create_study', { project_id, name: 'Consent first', required_consents: [{ name: 'main', minVersion: 2, scopes: ['contact'] }] }, t));
	assert.deepEqual(required.requiredConsents, [{ name: 'main', minVersion: 2, scopes: ['contact'] }]);
	const added = ok(await call('add_study_participants', { project_id, study_id: required.studyID, participants: ['P-1', 'P-6'] }, t));
	assert.deepEqual([added.added, added.skipped], [1, [{ participant: 'P-6', reason: 'no_consent' }]]);
	// P-6 joins a study before it requires consent
	const study_id = ok(await call('create_study', { project_id, name: 'Consent later' }, t)).studyID;
	assert.equal(ok(await call('add_study_participants', { project_id, study_id, participants: ['P-6'] }, t)).added, 1);
	const updated = ok(await call('update_study', { project_id, study_id, required_consents: [{ name: 'main', scopes: ['contact'] }] }, t));
	assert.deepEqual(updated.requiredConsents, [{ name: 'main', minVersion: 1, scopes: ['contact'] }]);
	assert.deepEqual(await eligible(study_id, { contactable_only: false }), ['P-1']);
	const b = fails(await call('set_participant_status', { project_id, study_id, participant: 'P-6', status: 'INVITE_SENT' }, t), 409, 'PT409');
	assert.match(b.message, /consent "main"/);
	assert.match(b.hint, /record_consent/);
	// override_reason overrides contact rules, not required consents
	assert.match(fails(await call('set_participant_status', { project_id, study_id, participant: 'P-6', status: 'INVITE_SENT', override_reason: 'urgent' }, t), 409, 'PT409').message, /consent "main"/);
	assert.deepEqual(await statuses(study_id, 'P-6'), ['NOT_STARTED']);
	// a consent without the scope the study requires is not enough
	ok(await call('record_consent', { project_id, participant: 'P-6', name: 'main', scopes: ['data_sharing'] }, t));
	fails(await call('set_participant_status', { project_id, study_id, participant: 'P-6', status: 'INVITE_SENT' }, t), 409, 'PT409');
	// with it, the contact goes through
	ok(await call('record_consent', { project_id, participant: 'P-6', name: 'main', scopes: ['contact'] }, t));
	assert.deepEqual(ok(await call('participant_consents', { project_id, participant: 'P-6' }, t))[0].scopes, ['contact', 'data_sharing']);
	assert.deepEqual(await eligible(study_id, { contactable_only: false }), ['P-1', 'P-6']);
	assert.equal(ok(await call('set_participant_status', { project_id, study_id, participant: 'P-6', status: 'INVITE_SENT' }, t)).status, 'INVITE_SENT');
	// withdrawing the consent cancels the status in the study that requires it, with a consent.changed event
	const w = ok(await call('withdraw_consent', { project_id, participant: 'P-6', name: 'main', scopes: ['contact'], reason: 'asked us to stop' }, t));
	assert.deepEqual(w.scopes, ['data_sharing']);
	assert.deepEqual(await statuses(study_id, 'P-6'), ['NOT_STARTED', 'INVITE_SENT', 'CANCELLED']);
	const types = ok(await call('events_since', { project_id, max_events: 1000 }, t)).map((e) => e.payload.eventType);
	assert.ok(types.includes('consent.changed'), JSON.stringify([...new Set(types)]));
});

// ------------------------------------------------- data lifecycle (0.6.0)

// rowsOf(import_id, more): import_rows of an import of A
async function rowsOf(import_id, more = {}) {
	return ok(await call('import_rows', { project_id: S.A.id, import_id, ...more }, { tok: S.A.web }));
}

test('a CSV file POSTed as text/csv (BOM, CRLF, quoted comma, quote and line break) is imported; get_participant returns its rows', async () => {
	const csv = '\uFEFFparticipantIdentifier,Email,LASTNAME,city\r\n' +
		'C-1,c1@example.com,"Smith, Jr.","He said ""hi"""\r\n' +
		'C-2,c2@example.com,"two\nlines",Boston\r\n';
	// no X-Project-Id: the token's only project
	const b = ok(await postCsv(csv, { tok: S.A.web }));
	assert.match(b.importID, UUID);
	assert.deepEqual([b.status, b.format, b.counts, b.errors], ['completed', 'csv', { rows: 2, added: 2, updated: 0, unchanged: 0, failed: 0 }, []]);
	const c1 = ok(await call('get_participant', { project_id: S.A.id, participant: 'C-1' }, { tok: S.A.web }));
	assert.deepEqual(c1.demographics, { email: 'c1@example.com', lastName: 'Smith, Jr.', city: 'He said "hi"' });
	const c2 = ok(await call('get_participant', { project_id: S.A.id, participant: 'C-2' }, { tok: S.A.web }));
	assert.deepEqual(c2.demographics, { email: 'c2@example.com', lastName: 'two\nlines', city: 'Boston' });
	// the record is kept, and the import wrote its event
	assert.deepEqual(ok(await call('get_import', { project_id: S.A.id, import_id: b.importID }, { tok: S.A.web, method: 'GET' })), b);
	const rows = await rowsOf(b.importID, { failed_only: false });
	assert.deepEqual(rows.rows.map((r) => [r.row, r.actionTaken, r.personId]), [[1, 'add', c1.id], [2, 'add', c2.id]]);
	const last = ok(await call('events_since', { project_id: S.A.id, max_events: 1000 }, { tok: S.A.web })).at(-1).payload;
	assert.deepEqual([last.eventType, last.importID, last.status, last.counts], ['person_import.api.finished', b.importID, 'completed', b.counts]);
});

test('a CSV file POSTed with X-Project-Id and X-Import-Options {"onError":"skip"} writes the good rows and reports the bad one', async () => {
	const csv = 'participantIdentifier,email,lastName\n' +
		'S-1,s1@example.com,"a quoted\nline break"\n' +
		'S-2,not-an-email,Bad\n' +
		'S-3,s3@example.com,Good\n';
	const b = ok(await postCsv(csv, { tok: S.A.web, headers: { 'X-Project-Id': S.A.id, 'X-Import-Options': '{"onError":"skip"}' } }));
	assert.deepEqual([b.status, b.options.onError, b.counts], ['completed', 'skip', { rows: 3, added: 2, updated: 0, unchanged: 0, failed: 1 }]);
	// the row number is the data row's place, whatever line breaks a quoted field holds
	assert.equal(b.errors.length, 1);
	assert.deepEqual([b.errors[0].row, b.errors[0].key, b.errors[0].code], [2, 'email', '22023']);
	assert.match(b.errors[0].message, /email/);
	const failed = await rowsOf(b.importID);
	assert.deepEqual([failed.totalRows, failed.rows.length], [1, 1]);
	const [row] = failed.rows;
	assert.deepEqual([row.row, row.actionTaken, row.personId], [2, 'failed', null]);
	assert.equal(row.errors.length, 1);
	assert.deepEqual(Object.keys(row.errors[0]).sort(), ['code', 'key', 'message']);
	assert.deepEqual([row.errors[0].key, row.errors[0].code, row.errors[0].message], ['email', '22023', b.errors[0].message]);
	assert.deepEqual((await rowsOf(b.importID, { failed_only: false })).rows.map((r) => [r.row, r.actionTaken]), [[1, 'add'], [2, 'failed'], [3, 'add']]);
	assert.equal(ok(await call('get_participant', { project_id: S.A.id, participant: 'S-3' }, { tok: S.A.web })).demographics.lastName, 'Good');
	fails(await call('get_participant', { project_id: S.A.id, participant: 'S-2' }, { tok: S.A.web }), 404, 'PT404');
});

test('an import with a bad row and onError abort (the default) writes no participant, and keeps its report', async () => {
	const before = ok(await call('query_participants', { project_id: S.A.id, page_size: 100 }, { tok: S.A.web }));
	const b = ok(await postCsv('participantIdentifier,email\nT-1,t1@example.com\nT-2,bad\n', { tok: S.A.web }));
	assert.deepEqual([b.status, b.options.onError, b.counts.rows, b.counts.failed], ['failed', 'abort', 2, 1]);
	assert.deepEqual(b.errors.map((e) => [e.row, e.key, e.code]), [[2, 'email', '22023']]);
	assert.deepEqual((await rowsOf(b.importID, { failed_only: false })).rows.map((r) => [r.row, r.actionTaken]), [[1, 'rolledBack'], [2, 'failed']]);
	assert.deepEqual(ok(await call('get_import', { project_id: S.A.id, import_id: b.importID }, { tok: S.A.web })), b);
	assert.deepEqual(ok(await call('query_participants', { project_id: S.A.id, page_size: 100 }, { tok: S.A.web })), before);
	const last = ok(await call('events_since', { project_id: S.A.id, max_events: 1000 }, { tok: S.A.web })).at(-1).payload;
	assert.deepEqual([last.eventType, last.importID, last.status], ['person_import.api.finished', b.importID, 'failed']);
});

test('a JSON array imports through the JSON POST; rows apply in order (a later row updates an earlier one)', async () => {
	const data = JSON.stringify([
		{ participantIdentifier: 'J-1', demographics: { email: 'j1@example.com' } },
		{ participantIdentifier: 'J-1', demographics: { lastName: 'Later' } },
		{ participantIdentifier: 'J-2', customFields: {} },
	]);
	const b = ok(await call('import_participants', { project_id: S.A.id, data }, { tok: S.A.web }));
	assert.deepEqual([b.status, b.format, b.counts], ['completed', 'json', { rows: 3, added: 2, updated: 1, unchanged: 0, failed: 0 }]);
	assert.deepEqual(ok(await call('get_participant', { project_id: S.A.id, participant: 'J-1' }, { tok: S.A.web })).demographics, { email: 'j1@example.com', lastName: 'Later' });
	assert.deepEqual((await rowsOf(b.importID, { failed_only: false })).rows.map((r) => [r.row, r.actionTaken]), [[1, 'add'], [2, 'update'], [3, 'add']]);
	// the same rows again change nothing
	const again = ok(await call('import_participants', { project_id: S.A.id, data, options: { format: 'json' } }, { tok: S.A.web }));
	assert.notEqual(again.importID, b.importID);
	assert.deepEqual(again.counts, { rows: 3, added: 0, updated: 0, unchanged: 3, failed: 0 });
});

test('an import with dryRun writes nothing but its record; an idempotencyKey used again returns the earlier import', async () => {
	const dry = ok(await call('import_participants', { project_id: S.A.id, data: 'participantIdentifier\nD-1\n', options: { dryRun: true } }, { tok: S.A.web }));
	assert.deepEqual([dry.status, dry.counts.added], ['dryRun', 1]);
	fails(await call('get_participant', { project_id: S.A.id, participant: 'D-1' }, { tok: S.A.web }), 404, 'PT404');
	assert.deepEqual(ok(await call('get_import', { project_id: S.A.id, import_id: dry.importID }, { tok: S.A.web })), dry);
	const first = ok(await call('import_participants', { project_id: S.A.id, data: 'participantIdentifier\nK-1\n', options: { idempotencyKey: 'nightly-1' } }, { tok: S.A.web }));
	assert.equal(first.counts.added, 1);
	const second = ok(await postCsv('participantIdentifier\nK-2\n', { tok: S.A.web, headers: { 'X-Import-Options': '{"idempotencyKey":"nightly-1"}' } }));
	assert.deepEqual(second, first);
	fails(await call('get_participant', { project_id: S.A.id, participant: 'K-2' }, { tok: S.A.web }), 404, 'PT404');
});

test('PT404 answers 404 (get_import and import_rows of an unknown import)', async () => {
	const import_id = '00000000-0000-0000-0000-000000000000';
	assert.match(fails(await call('get_import', { project_id: S.A.id, import_id }, { tok: S.A.web }), 404, 'PT404').message, new RegExp(import_id));
	assert.match(fails(await call('import_rows', { project_id: S.A.id, import_id }, { tok: S.A.web }), 404, 'PT404').message, new RegExp(import_id));
	fails(await call('get_import', { project_id: S.A.id, import_id }, { tok: S.A.reader, method: 'GET' }), 404, 'PT404');
	// another project's import is not found in A
	fails(await call('get_import', { project_id: S.A.id, import_id: S.B.import }, { tok: S.A.web }), 404, 'PT404');
});

test('PT404 answers 404 (erase_participant of an unknown participant, forget_erasure of an unknown erasure), and nothing is erased', async () => {
	const before = ok(await call('erasures', { project_id: S.A.id }, { tok: S.A.web }));
	assert.match(fails(await call('erase_participant', { project_id: S.A.id, participant: 'NOBODY' }, { tok: S.A.web }), 404, 'PT404').message, /NOBODY/);
	assert.match(fails(await call('erase_participant', { project_id: S.A.id, participant: 'nobody@example.com', by: 'email' }, { tok: S.A.web }), 404, 'PT404').message, /nobody@example\.com/);
	fails(await call('erase_participant', { project_id: S.A.id, participant: '00000000-0000-0000-0000-000000000000', by: 'id' }, { tok: S.A.web }), 404, 'PT404');
	fails(await call('forget_erasure', { project_id: S.A.id, erasure_id: '00000000-0000-0000-0000-000000000000' }, { tok: S.A.web }), 404, 'PT404');
	fails(await call('forget_erasure', { project_id: S.A.id, erasure_id: S.B.erasure }, { tok: S.A.web }), 404, 'PT404');
	assert.match(fails(await call('audit_log', { project_id: S.A.id, participant: 'NOBODY' }, { tok: S.A.web }), 404, 'PT404').message, /NOBODY/);
	assert.deepEqual(ok(await call('erasures', { project_id: S.A.id }, { tok: S.A.web })), before);
});

test('22023 answers 400 (an unknown import option, named), and nothing is imported', async () => {
	const before = await snapshot('A', S.A.web);
	const b = fails(await call('import_participants', { project_id: S.A.id, data: 'participantIdentifier\nO-1\n', options: { colour: 'red' } }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /options\.colour/);
	assert.match(fails(await call('import_participants', { project_id: S.A.id, data: 'participantIdentifier\nO-1\n', options: { onError: 'ignore' } }, { tok: S.A.web }), 400, '22023').message, /onError/);
	assert.match(fails(await postCsv('participantIdentifier\nO-1\n', { tok: S.A.web, headers: { 'X-Import-Options': '{"colour":"red"}' } }), 400, '22023').message, /options\.colour/);
	assert.deepEqual(await snapshot('A', S.A.web), before);
});

test('22023 answers 400 (an unknown CSV column, named), the whole file refused', async () => {
	const before = await snapshot('A', S.A.web);
	const b = fails(await call('import_participants', { project_id: S.A.id, data: 'participantIdentifier,email,shoeSize\nU-1,u1@example.com,9\n' }, { tok: S.A.web }), 400, '22023');
	assert.match(b.message, /"shoeSize"/);
	assert.match(fails(await postCsv('participantIdentifier,shoeSize\nU-1,9\n', { tok: S.A.web }), 400, '22023').message, /"shoeSize"/);
	assert.deepEqual(await snapshot('A', S.A.web), before);
	fails(await call('get_participant', { project_id: S.A.id, participant: 'U-1' }, { tok: S.A.web }), 404, 'PT404');
});

test('22023 answers 400 (paging out of range of import_rows, erasures and audit_log; a bad "by" of erase_participant)', async () => {
	const t = { tok: S.A.web };
	assert.match(fails(await call('import_rows', { project_id: S.A.id, import_id: S.A.import, page_size: 0 }, t), 400, '22023').message, /page_size/);
	assert.match(fails(await call('import_rows', { project_id: S.A.id, import_id: S.A.import, page_size: 1001 }, t), 400, '22023').message, /page_size/);
	assert.match(fails(await call('erasures', { project_id: S.A.id, page_size: 0 }, t), 400, '22023').message, /page_size/);
	assert.match(fails(await call('audit_log', { project_id: S.A.id, page_number: -1 }, t), 400, '22023').message, /page_number/);
	assert.match(fails(await call('audit_log', { project_id: S.A.id, page_size: 1001 }, { tok: S.A.reader, method: 'GET' }), 400, '22023').message, /page_size/);
	assert.match(fails(await call('erase_participant', { project_id: S.A.id, participant: 'P-1', by: 'name' }, t), 400, '22023').message, /"by"/);
	ok(await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, t));
});

test('22023 answers 400 for a CSV body without X-Project-Id from a token for two projects', async () => {
	const both = token('participants_web', [S.A.id, S.B.id]);
	const b = fails(await postCsv('participantIdentifier\nH-1\n', { tok: both }), 400, '22023');
	assert.match(b.message, /X-Project-Id/);
	fails(await call('get_participant', { project_id: S.A.id, participant: 'H-1' }, { tok: S.A.web }), 404, 'PT404');
});

test('a CSV body for another project\'s X-Project-Id answers 403; the read-only token may not post one', async () => {
	fails(await postCsv('participantIdentifier\nH-2\n', { tok: S.A.web, headers: { 'X-Project-Id': S.B.id } }), 403, '42501');
	fails(await postCsv('participantIdentifier\nH-3\n', { tok: S.A.reader }), 403, '42501');
	const r = await postCsv('participantIdentifier\nH-4\n');
	assert.equal(r.status, 401, JSON.stringify(r.body));
	for (const p of ['H-2', 'H-3', 'H-4'])
		fails(await call('get_participant', { project_id: S.A.id, participant: p }, { tok: S.A.web }), 404, 'PT404');
});

test('erase_participant by email; the same email is then refused (PT409) until forget_erasure', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	const added = ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'E-1', demographics: { email: 'forget.me@example.com', mobilePhone: '+16175550123' } } }, t));
	const person = added.result.id;
	ok(await call('set_opted_out', { project_id, participant: 'E-1', opted_out: true }, t));
	const receipt = ok(await call('erase_participant', { project_id, participant: 'Forget.Me@example.com', by: 'email', reason: 'GDPR request 17' }, t));
	assert.deepEqual([receipt.personId, receipt.reason, receipt.removed.participant], [person, 'GDPR request 17', 1]);
	assert.equal(receipt.removed.auditValues, 2);
	fails(await call('get_participant', { project_id, participant: 'E-1' }, t), 404, 'PT404');
	// the person.erased event carries no personal data
	const ev = ok(await call('events_since', { project_id, max_events: 1000 }, t)).at(-1).payload;
	assert.deepEqual(ev, { eventType: 'person.erased', personId: person, erasureID: receipt.erasureID, updatedAt: ev.updatedAt });
	assert.ok(Date.parse(ev.updatedAt) >= Date.parse(added.result.insertedDate), ev.updatedAt);
	assert.ok(!JSON.stringify(ok(await call('events_since', { project_id, max_events: 1000 }, t))).includes('forget.me'));
	// the audit rows about the person keep their action and date, nothing else
	const audit = ok(await call('audit_log', { project_id, page_size: 1000 }, t));
	assert.ok(!audit.entries.some((e) => e.personId === person), 'no audit entry names the erased person');
	assert.ok(!JSON.stringify(audit).includes('forget.me'));
	// the tombstone refuses the email (in any case) and the phone, for upsert, bulk and import
	const again = { project_id, participant: { participantIdentifier: 'E-2', demographics: { email: 'FORGET.ME@example.com' } } };
	const refused = fails(await call('upsert_participant', again, t), 409, 'PT409');
	assert.match(refused.message, /demographics\.email/);
	assert.match(refused.hint, /forget_erasure/);
	assert.match(fails(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'E-3', demographics: { mobilePhone: '+16175550123' } } }, t), 409, 'PT409').message, /mobilePhone/);
	fails(await call('upsert_participants', { project_id, participants: [{ participantIdentifier: 'E-4' }, again.participant] }, t), 409, 'PT409');
	const imp = ok(await call('import_participants', { project_id, data: 'participantIdentifier,email\nE-2,forget.me@example.com\n' }, t));
	assert.deepEqual([imp.status, imp.errors.map((e) => [e.row, e.code])], ['failed', [[1, 'PT409']]]);
	for (const p of ['E-2', 'E-3', 'E-4'])
		fails(await call('get_participant', { project_id, participant: p }, t), 404, 'PT404');
	// forgotten: the receipt stays, the email may be added again
	assert.deepEqual(ok(await call('forget_erasure', { project_id, erasure_id: receipt.erasureID }, t)), receipt);
	const readded = ok(await call('upsert_participant', again, t));
	assert.deepEqual([readded.actionTaken, readded.result.demographics.email], ['add', 'FORGET.ME@example.com']);
	assert.notEqual(readded.result.id, person);
	S.A.receipt2 = receipt;
});

test('erase_participant removes every row about the participant, and its receipt counts the rows that were there', async () => {
	// a project of its own (no webhook, no contact rules)
	const project_id = ok(await call('create_project', { name: 'HTTP project C' }, { tok: admin }));
	const t = { tok: token('participants_web', [project_id]) };
	const m1 = ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'M-1', demographics: { email: 'm1@example.com' } } }, t)).result.id;
	const m2 = ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'M-2', demographics: { email: 'm2@example.com' } } }, t)).result.id;
	const segment_id = ok(await call('create_segment', { project_id, name: 'Both' }, t)).segmentID;
	ok(await call('add_segment_members', { project_id, segment_id, participants: ['M-1', 'M-2'] }, t));
	const study_id = ok(await call('create_study', { project_id, name: 'Both' }, t)).studyID;
	assert.equal(ok(await call('add_study_participants', { project_id, study_id, participants: ['M-1', 'M-2'] }, t)).added, 2);
	ok(await call('set_participant_status', { project_id, study_id, participant: 'M-1', status: 'INVITE_SENT' }, t));
	ok(await call('define_consent', { project_id, name: 'main', scopes: ['contact'] }, t));
	ok(await call('record_consent', { project_id, participant: 'M-1', name: 'main' }, t));
	ok(await call('record_incentive', { project_id, participant: 'M-1', study_id, amount: 5, currency: 'USD', status: 'pending' }, t));
	ok(await call('set_opted_out', { project_id, participant: 'M-1', opted_out: true }, t));
	// what there is about M-1 before
	const eventsOf = (list, id) => list.filter((e) => e.payload.personId === id);
	const before = ok(await call('events_since', { project_id, max_events: 1000 }, t));
	const m1Events = eventsOf(before, m1).length;
	assert.ok(m1Events >= 4, JSON.stringify(before.map((e) => e.payload.eventType)));
	const consents = ok(await call('participant_consents', { project_id, participant: 'M-1' }, t));
	assert.deepEqual(consents.map((c) => c.history.length), [1]);
	const audited = ok(await call('audit_log', { project_id, participant: 'M-1', page_size: 1000 }, t)).totalEntries;
	assert.ok(audited >= 5, `${audited} audit entries`);

	const receipt = ok(await call('erase_participant', { project_id, participant: m1, by: 'id' }, t));
	assert.equal(receipt.personId, m1);
	// gone: the participant, its membership, study status, consent, incentive, events and audit values
	fails(await call('get_participant', { project_id, participant: 'M-1' }, t), 404, 'PT404');
	assert.equal(ok(await call('get_segment', { project_id, segment_id }, t)).participantCount, 1);
	assert.deepEqual(ok(await call('segment_history', { project_id, segment_id }, t)).map((m) => m.participantID), [m2]);
	assert.deepEqual(ok(await call('study_participants', { project_id, study_id }, t)).participants.map((x) => x.personId), [m2]);
	assert.deepEqual(ok(await call('list_incentives', { project_id }, t)).totalIncentives, 0);
	const after = ok(await call('events_since', { project_id, max_events: 1000 }, t));
	assert.deepEqual(after.filter((e) => e.payload.eventType !== 'person.erased').map((e) => e.eventID), before.filter((e) => e.payload.personId !== m1).map((e) => e.eventID));
	const log = ok(await call('audit_log', { project_id, page_size: 1000 }, t));
	assert.ok(!log.entries.some((e) => e.personId === m1), 'no audit entry names M-1');
	assert.ok(!JSON.stringify(log).includes('m1@example'));
	// the receipt counts what was there, not what the erasure itself wrote on the way
	assert.deepEqual(receipt.removed, {
		participant: 1, memberships: 1, studyStatuses: 1, events: m1Events, consents: receipt.removed.consents,
		incentives: 1, deliveries: 0, auditValues: audited,
	});
	// one consent with one history entry: at most two rows
	assert.ok([1, 2].includes(receipt.removed.consents), `removed.consents is ${receipt.removed.consents} for 1 consent with 1 history entry`);
});

test('erasures lists the receipts, newest first, paged', async () => {
	const t = { tok: S.A.web };
	const all = ok(await call('erasures', { project_id: S.A.id }, t));
	assert.deepEqual([all.pageNumber, all.pageSize, all.totalErasures], [0, 20, 2]);
	assert.deepEqual(all.erasures, [S.A.receipt2, S.A.receipt]);
	const page = ok(await call('erasures', { project_id: S.A.id, page_number: 1, page_size: 1 }, { tok: S.A.reader, method: 'GET' }));
	assert.deepEqual([page.pageNumber, page.pageSize, page.totalErasures, page.erasures], [1, 1, 2, [S.A.receipt]]);
	// B's erasure is B's
	assert.deepEqual(ok(await call('erasures', { project_id: S.B.id }, { tok: S.B.web })).erasures.map((e) => e.erasureID), [S.B.erasure]);
});

test('audit_log shows the token\'s role and sub claim as the actor, keys not values', async () => {
	const project_id = S.A.id;
	const now = Math.floor(Date.now() / 1000);
	const withSub = sign({ role: 'participants_web', project_ids: [project_id], sub: 'crm-user-7', iat: now, exp: now + 600 });
	const since = ok(await call('get_import', { project_id, import_id: S.A.import }, { tok: S.A.web })).createdDate;
	const added = ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'Q-1', demographics: { email: 'q1@example.com', lastName: 'Quinn' } } }, { tok: withSub }));
	ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'Q-1', demographics: { lastName: 'Quincy' } } }, { tok: S.A.web }));
	ok(await call('enroll_participant', { project_id, participant: 'Q-1' }, { tok: admin }));
	const log = ok(await call('audit_log', { project_id, participant: 'Q-1' }, { tok: S.A.web }));
	assert.equal(log.totalEntries, 3);
	assert.deepEqual(log.entries.map((e) => [e.action, e.personId, e.actor]), [
		['enroll', added.result.id, { role: 'participants_admin', jwtSub: null }],
		['update', added.result.id, { role: 'participants_web', jwtSub: null }],
		['add', added.result.id, { role: 'participants_web', jwtSub: 'crm-user-7' }],
	]);
	assert.deepEqual(log.entries[1].changedKeys, ['demographics.lastName']);
	assert.deepEqual([...log.entries[2].changedKeys].sort(), ['demographics.email', 'demographics.lastName', 'participantIdentifier']);
	assert.ok(!/Quinn|Quincy|q1@example/.test(JSON.stringify(log)), JSON.stringify(log));
	// the same by email, over GET for the reader; since and paging
	assert.deepEqual(ok(await call('audit_log', { project_id, participant: 'q1@example.com', by: 'email' }, { tok: S.A.reader, method: 'GET' })), log);
	const page = ok(await call('audit_log', { project_id, participant: 'Q-1', page_number: 2, page_size: 1 }, { tok: S.A.web }));
	assert.deepEqual([page.pageNumber, page.pageSize, page.totalEntries, page.entries], [2, 1, 3, [log.entries[2]]]);
	const recent = ok(await call('audit_log', { project_id, since: log.entries[1].date }, { tok: S.A.web }));
	assert.deepEqual(recent.entries.map((e) => e.auditID), [log.entries[0].auditID, log.entries[1].auditID]);
	const whole = ok(await call('audit_log', { project_id, since, page_size: 1000 }, { tok: S.A.web }));
	assert.ok(whole.totalEntries > 3 && whole.entries.length === whole.totalEntries, JSON.stringify(whole).slice(0, 300));
	assert.deepEqual(whole.entries.slice(0, 3), log.entries);
});

test('apply_retention answers its four counts and erases no one withdrawn within withdrawnDays', async () => {
	const t = { tok: S.A.web };
	const project_id = S.A.id;
	const settings = ok(await call('update_project', { project_id, settings: { retention: { withdrawnDays: 30, eventDays: 365, deliveryDays: 30, auditDays: 365 } } }, t)).settings;
	assert.deepEqual(settings.retention, { withdrawnDays: 30, eventDays: 365, deliveryDays: 30, auditDays: 365 });
	ok(await call('upsert_participant', { project_id, participant: { participantIdentifier: 'R-1' } }, t));
	ok(await call('withdraw_participant', { project_id, participant: 'R-1' }, t));
	const before = await snapshot('A', S.A.web);
	const zero = { participantsErased: 0, eventsDeleted: 0, deliveriesDeleted: 0, auditDeleted: 0 };
	assert.deepEqual(ok(await call('apply_retention', { project_id }, t)), zero);
	// null: every project the caller may use
	assert.deepEqual(ok(await call('apply_retention', {}, t)), zero);
	assert.deepEqual(ok(await call('apply_retention', {}, { tok: admin })), zero);
	assert.deepEqual(await snapshot('A', S.A.web), before);
	assert.ok(ok(await call('get_participant', { project_id, participant: 'R-1' }, t)).withdrawDate);
});

test('the read-only token reads imports, erasures and the audit log over GET', async () => {
	for (const fn of ['get_import', 'import_rows', 'erasures', 'audit_log'])
		assert.deepEqual(ok(await call(fn, argsFor(fn, 'A'), { tok: S.A.reader, method: 'GET' })), ok(await call(fn, argsFor(fn, 'A'), { tok: S.A.web })), fn);
	fails(await call('audit_log', argsFor('audit_log', 'B'), { tok: S.A.reader, method: 'GET' }), 403, '42501');
});

// ------------------------------------------------- confinement per project

for (const fn of [...READERS, ...WRITERS]) {
	test(`a token for A gets 403 from /rpc/${fn} for project B`, async () => {
		fails(await call(fn, argsFor(fn, 'B'), { tok: S.A.web }), 403, '42501');
	});
}

test('project B is unchanged after all the calls of a token for A', async () => {
	assert.deepEqual(await snapshot('B', S.B.web), S.B.before);
});

test('a token for A and B may use both', async () => {
	const both = token('participants_web', [S.A.id, S.B.id]);
	ok(await call('get_participant', { project_id: S.B.id, participant: 'P-1' }, { tok: both }));
	ok(await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: both }));
});

test('a token without project_ids may use no project', async () => {
	const none = sign({ role: 'participants_web', exp: Math.floor(Date.now() / 1000) + 600 });
	fails(await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: none }), 403, '42501');
});

test('a confined token cannot create projects', async () => {
	fails(await call('create_project', { name: 'Nope' }, { tok: S.A.web }), 403, '42501');
});

for (const fn of WRITERS) {
	test(`the read-only token gets 403 from /rpc/${fn}`, async () => {
		const r = await call(fn, argsFor(fn, 'A'), { tok: S.A.reader });
		fails(r, 403, '42501');
	});
}

test('the read-only token reads consents, contact rules and incentives over GET', async () => {
	for (const fn of ['participant_consents', 'contact_rules', 'contact_history', 'list_incentives', 'incentive_totals'])
		assert.deepEqual(ok(await call(fn, argsFor(fn, 'A'), { tok: S.A.reader, method: 'GET' })), ok(await call(fn, argsFor(fn, 'A'), { tok: S.A.web })), fn);
	fails(await call('contact_history', argsFor('contact_history', 'B'), { tok: S.A.reader, method: 'GET' }), 403, '42501');
});

test('the read-only token reads its project', async () => {
	ok(await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: S.A.reader }));
	fails(await call('get_participant', { project_id: S.B.id, participant: 'P-1' }, { tok: S.A.reader }), 403, '42501');
});

// ------------------------------------------------------- anonymous, tokens

for (const fn of ALL) {
	test(`an anonymous request to /rpc/${fn} gets 401`, async () => {
		const r = await call(fn, fn === 'create_project' ? { name: 'Anon' } : argsFor(fn, 'A'));
		assert.equal(r.status, 401, JSON.stringify(r.body));
	});
}

test('an anonymous request sees no endpoint in the OpenAPI document', async () => {
	const r = await get('/');
	assert.ok(r.status === 401 || Object.keys(r.body.paths || {}).every((p) => p === '/'), JSON.stringify(r.body).slice(0, 300));
});

test('an expired token gets 401', async () => {
	const old = sign({ role: 'participants_web', project_ids: [S.A.id], exp: Math.floor(Date.now() / 1000) - 60 });
	const r = await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: old });
	assert.equal(r.status, 401);
});

test('a token signed with another secret gets 401', async () => {
	const forged = sign({ role: 'participants_admin', exp: Math.floor(Date.now() / 1000) + 600 }, 'not-the-secret-of-this-postgrest-instance');
	const r = await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: forged });
	assert.equal(r.status, 401);
});

test('a token for a role PostgREST may not become is refused', async () => {
	const r = await call('get_participant', { project_id: S.A.id, participant: 'P-1' }, { tok: token('postgres', [S.A.id]) });
	assert.ok(r.status === 401 || r.status === 403, `${r.status} ${JSON.stringify(r.body)}`);
});

// ----------------------------------------------------- nothing else exposed

for (const rel of ['project', 'participant', 'custom_field', 'segment', 'segment_membership', 'study',
	'study_segment', 'completion_code', 'completion_action', 'status_transition', 'study_participant',
	'event', 'project_access', 'participant_directory', 'segment_summary', 'study_funnel', 'study_summary',
	'webhook', 'webhook_secret', 'webhook_delivery', 'import', 'import_row', 'project_secret', 'erasure',
	'status_archive', 'audit']) {
	test(`/${rel} is not served`, async () => {
		const r = await get(`/${rel}`, S.A.web);
		assert.ok([401, 403, 404].includes(r.status), `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
	});
}

for (const fn of ['participant_search_text', 'custom_field_sort_number', 'custom_field_sort_date',
	'default_status_transitions', 'allowed_projects', 'participant_guard', 'cache_invalidate', 'webhook_guard',
	'lifecycle_guard', 'audit_guard', 'audit_participant']) {
	test(`internal /rpc/${fn} is not served`, async () => {
		const r = await call(fn, {}, { tok: S.A.web });
		assert.ok([401, 403, 404].includes(r.status), `${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
	});
}

// ---------------------------------------------------------------- OpenAPI

async function openapi(tok) {
	const r = await get('/', tok);
	assert.equal(r.status, 200);
	return r.body;
}

test('the OpenAPI document lists exactly the API for each token role', async () => {
	const paths = (doc) => Object.keys(doc.paths).sort();
	const rpc = (fns) => ['/', ...fns.map((fn) => `/rpc/${fn}`)].sort();
	assert.deepEqual(paths(await openapi(S.A.web)), rpc([...READERS, ...WRITERS, ...GLOBAL]));
	assert.deepEqual(paths(await openapi(S.A.reader)), rpc([...READERS, ...GLOBAL]));
	assert.deepEqual(paths(await openapi(admin)), rpc(ALL));
});

test('the OpenAPI document describes the API and every endpoint', async () => {
	const doc = await openapi(admin);
	assert.match(doc.info.description, /participants/i);
	for (const fn of ALL) {
		const path = doc.paths[`/rpc/${fn}`];
		const post = path.post;
		assert.ok(post.summary && post.summary.length > 10, `${fn} has a summary`);
		assert.match(post.description || '', /Arguments:/, `${fn} describes its arguments`);
		assert.match(post.description || '', /Errors:/, `${fn} lists its errors`);
		assert.ok('post' in path, `${fn} is served for POST`);
	}
});
