#!/usr/bin/env node
// test/fuzz/fuzz.js: a fuzzer for the participants extension's SQL API.
//
//   cd test/fuzz && npm ci
//   node test/fuzz/fuzz.js --host SOCKETDIR --port PORT --count N [--seed S] [--log SERVERLOG]
//                          [--findings FILE] [--user ROLE] [--db pt_fuzzNAME] [--keep]
//                          [--replay K] [--verbose] [--selftest] [--no-prelude]
//
// It creates a fresh database (pt_fuzz by default; dropped first if it exists, dropped again
// at the end unless --keep), installs the extension, builds a small fixed dataset through the
// API, then sends N generated calls (seeded PRNG: the same seed gives the same calls) to
// upsert_participant, upsert_participants, query_participants, create_segment,
// update_segment, add_segment_members, remove_segment_members, create_study, update_study,
// add_study_participants, set_participant_status, set_opted_out, define_custom_field and
// get_participant. Every call runs in BEGIN ... ROLLBACK, so the data stays the same.
// About 6% of the calls run after a "prelude" of other calls in the same transaction (an odd
// value stored in a custom field, then a search sorted or filtered by it, a definition of the
// field, a dynamic segment on it...): stored values reach code that only reads them
// (--no-prelude runs those calls alone).
//
// Inputs mix valid bodies with malformed JSON text, wrong JSON types at every key, unknown
// and read-only keys, huge strings (up to 1 MB), deep nesting (up to 20000 levels), unicode
// edge cases, \u0000 and lone-surrogate escapes, out-of-range numbers (1e400, 2^63, 1e131072),
// impossible dates, extreme page numbers and sizes, invalid uuids inside JSON and as text
// participant references, very long identifiers and SQL-injection-looking strings. Arguments
// of SQL types other than text and jsonb (uuid, uuid[], integer, boolean) are always valid
// values of their type (or NULL): a bad uuid there would fail in the cast, before the function.
//
// A JSON argument is first given to PostgreSQL's jsonb input alone (SELECT $1::jsonb); a body
// it rejects is counted as "rejected by jsonb input" and never reaches the function.
//
// Checks (each failure is a finding, written as a JSON line to --findings):
//   1. the backend never crashes (lost connection, "terminating connection"; with --log, the
//      server log written during the run has no "terminated by signal" / "was terminated");
//   2. every error raised by a function has one of the documented SQLSTATEs (doc/errors.md)
//      (22023 22007 22008 23505 PT404 PT409 42501);
//   3. the tables are unchanged after rejected calls (fingerprint of every participants.*
//      table and of the names of the schema's indexes: after every rejected call for the
//      first 2000 calls, then every 100th call, and at the end; sequences are left out, they
//      are not transactional).
// The exit status is 1 when there is any finding, 2 on a usage or setup error.
//
// --replay K regenerates call K (0-based) of a run with the same --seed (the generator does not
// depend on the answers, so the calls before K are generated and skipped), runs only that call
// (with its prelude) against a fresh dataset and prints its arguments, a psql statement and the
// full error. The ids of the dataset differ from run to run; everything else is the same.
// --keep keeps the database; --selftest makes calls 5-7 a lost connection, an error outside
// the documented SQLSTATEs and a committed change, to check the checks (exit status 1 expected).
'use strict';

const fs = require('fs');
const { Client } = require('pg');

// ---------------------------------------------------------------------------------------
// Options

function usage(msg) {
	if (msg) process.stderr.write(`fuzz.js: ${msg}\n`);
	process.stderr.write('usage: node fuzz.js --host SOCKETDIR --port PORT --count N [--seed S] ' +
		'[--log SERVERLOG] [--findings FILE] [--user ROLE] [--db pt_fuzzNAME] [--keep] ' +
		'[--replay K] [--verbose] [--selftest] [--no-prelude]\n');
	process.exit(2);
}

function parseArgs(argv) {
	const o = {
		host: process.env.PGHOST || '/var/run/postgresql',
		port: Number(process.env.PGPORT || 5432),
		user: process.env.PGUSER || 'postgres',
		count: 1000,
		seed: null,
		log: null,
		findings: '/tmp/fuzz-findings.jsonl',
		db: 'pt_fuzz',
		keep: false,
		replay: null,
		verbose: false,
		selftest: false,             // calls 5-7 provoke each kind of finding, to test the fuzzer itself
		noPrelude: false,            // every call alone in its transaction (the other calls stay the same)
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const val = () => {
			if (i + 1 >= argv.length) usage(`${a} needs a value`);
			return argv[++i];
		};
		switch (a) {
		case '--host': o.host = val(); break;
		case '--port': o.port = Number(val()); break;
		case '--user': o.user = val(); break;
		case '--count': o.count = Number(val()); break;
		case '--seed': o.seed = val(); break;
		case '--log': o.log = val(); break;
		case '--findings': o.findings = val(); break;
		case '--db': o.db = val(); break;
		case '--keep': o.keep = true; break;
		case '--replay': o.replay = Number(val()); break;
		case '--verbose': o.verbose = true; break;
		case '--selftest': o.selftest = true; break;
		case '--no-prelude': o.noPrelude = true; break;
		case '-h': case '--help': usage(); break;
		default: usage(`unknown option ${a}`);
		}
	}
	if (!Number.isInteger(o.count) || o.count < 0) usage('--count must be a non-negative integer');
	if (!Number.isInteger(o.port)) usage('--port must be an integer');
	if (o.replay !== null && (!Number.isInteger(o.replay) || o.replay < 0)) usage('--replay must be a call index');
	if (!/^pt_fuzz[a-z0-9_]*$/.test(o.db)) usage('--db must be named pt_fuzz*');
	if (o.seed === null) o.seed = String(Date.now() % 1000000007);
	return o;
}

// ---------------------------------------------------------------------------------------
// Seeded PRNG (sfc32, seeded through a string hash)

function makeRng(seedText) {
	let h = 1779033703 ^ seedText.length;
	for (let i = 0; i < seedText.length; i++) {
		h = Math.imul(h ^ seedText.charCodeAt(i), 3432918353);
		h = (h << 13) | (h >>> 19);
	}
	const mix = () => {
		h = Math.imul(h ^ (h >>> 16), 2246822507);
		h = Math.imul(h ^ (h >>> 13), 3266489909);
		return (h ^= h >>> 16) >>> 0;
	};
	let a = mix(), b = mix(), c = mix(), d = mix();
	const next = () => {
		a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
		let t = (a + b) | 0;
		a = b ^ (b >>> 9);
		b = (c + (c << 3)) | 0;
		c = (c << 21) | (c >>> 11);
		d = (d + 1) | 0;
		t = (t + d) | 0;
		c = (c + t) | 0;
		return (t >>> 0) / 4294967296;
	};
	for (let i = 0; i < 16; i++) next();
	const rng = {
		next,
		int: (n) => Math.floor(next() * n),                 // 0 .. n-1
		range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
		chance: (p) => next() < p,
		pick: (arr) => arr[Math.floor(next() * arr.length)],
		// weighted([[w, fn|value], ...])
		weighted(list) {
			let total = 0;
			for (const [w] of list) total += w;
			let r = next() * total;
			for (const [w, v] of list) {
				if ((r -= w) < 0) return typeof v === 'function' ? v() : v;
			}
			const v = list[list.length - 1][1];
			return typeof v === 'function' ? v() : v;
		},
		hex: (n) => {
			let s = '';
			for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(next() * 16)];
			return s;
		},
	};
	rng.uuid = () => `${rng.hex(8)}-${rng.hex(4)}-4${rng.hex(3)}-${'89ab'[rng.int(4)]}${rng.hex(3)}-${rng.hex(12)}`;
	return rng;
}

// ---------------------------------------------------------------------------------------
// JSON text with pieces that JavaScript cannot express (1e400, "\u0000", deep nesting)

class Raw {
	constructor(text) { this.raw = text; }
}

function ser(v) {
	if (v instanceof Raw) return v.raw;
	if (v === null || v === undefined) return 'null';
	if (Array.isArray(v)) return '[' + v.map(ser).join(',') + ']';
	switch (typeof v) {
	case 'string': return JSON.stringify(v);
	case 'number': return Number.isFinite(v) ? String(v) : 'null';
	case 'boolean': return v ? 'true' : 'false';
	case 'object':
		return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + ser(v[k])).join(',') + '}';
	default: return 'null';
	}
}

// set a key on an object even when it is "__proto__"
function setKey(obj, key, value) {
	Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------
// The API contract (doc/)

const DOCUMENTED_SQLSTATES = new Set(['22023', '22007', '22008', '23505', 'PT404', 'PT409', '42501']);
const JSONB_INPUT_SQLSTATES = new Set(['22P02', '22P05', '54001', '22003', '22021', '54000']);

const DEMO_KEYS = ['email', 'firstName', 'middleName', 'lastName', 'dateOfBirth', 'preferredLanguage',
	'gender', 'street1', 'street2', 'city', 'state', 'postalCode', 'mobilePhone', 'utcOffset'];
const TOP_KEYS = ['id', 'participantIdentifier', 'secondaryIdentifier', 'invitationStatus',
	'demographics', 'customFields', 'excludeFromExport', 'institutionCode'];
const READONLY_KEYS = ['enrolled', 'enrollmentDate', 'withdrawDate', 'insertedDate', 'linkIdentifier',
	'addedToSegmentDate'];
const INVITATION = ['pending', 'declined', 'cancelled', 'approved', 'notInvited'];
const STATUSES = ['NOT_STARTED', 'INVITE_SENT', 'NOT_ELIGIBLE', 'SCREENER_STARTED', 'SCREENER_COMPLETED',
	'SCREENER_QUALIFIED', 'SCREENER_DISQUALIFIED', 'INTERVIEW_INVITE_SENT', 'INTERVIEW_SCHEDULED',
	'INTERVIEW_COMPLETED', 'INTERVIEW_CANCELLED', 'INTERVIEW_NO_SHOWED', 'SURVEY_STARTED',
	'SURVEY_COMPLETED', 'INCENTIVE_SENT', 'INCENTIVE_CLAIMED', 'UNMODERATED_TEST_INVITE_SENT',
	'UNMODERATED_TEST_STARTED', 'UNMODERATED_TEST_COMPLETED', 'COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT'];
const CF_TYPES = ['text', 'number', 'integer', 'boolean', 'date', 'timestamp'];
// declared in the dataset
const CUSTOM_FIELDS = [
	{ name: 'Smoker', type: 'integer' },
	{ name: 'Weight', type: 'number', sortable: true },
	{ name: 'Active', type: 'boolean' },
	{ name: 'VisitDate', type: 'date' },
	{ name: 'SeenAt', type: 'timestamp' },
	{ name: 'Note', type: 'text' },
	{ name: 'Score', type: 'integer', sortable: true },
];
// held by participants, not declared
const UNDECLARED = ['Medication1', 'SurgeryDate', 'Free', 'SecondaryIdentifier'];
// declared only by calls of the run (then rolled back): a small pool, so that later calls use
// the same names and would meet anything a rolled-back definition left in a backend's caches
const TRANSIENT = ['Fz1', 'Fz2', 'Fz3'];
const DEMO_FILTER_KEYS = ['Email', 'FirstName', 'MiddleName', 'LastName', 'DOB', 'DateOfBirth',
	'MobilePhone', 'Gender', 'City', 'State', 'PostalCode', 'PreferredLanguage'];
const FILTER_KEYS = ['query', 'custom_fields', 'demographic_fields', 'invitation_status', 'enrolled',
	'withdrawn'];
const SORT_BASE = ['InsertedDate', 'EnrollmentDate', 'ParticipantIdentifier', 'SecondaryIdentifier',
	'InvitationStatus'];

// ---------------------------------------------------------------------------------------
// Pools of awkward values

const HUGE = {
	ascii: 'x'.repeat(1 << 20),
	twoByte: '\u00e9'.repeat(1 << 19),
	emoji: '\u{1F600}'.repeat(1 << 18),
	mixed: 'a\u0301\u200b\u202e\u05e9\u{1D518} '.repeat(1 << 17),
};

const UNICODE = [
	'\u{1F600}', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', 'e\u0301', 'Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357',
	'\u202Eevil\u202C', '\u05e9\u05dc\u05d5\u05dd', '\u0645\u0631\u062d\u0628\u0627', 'a\u200bb', '\u200b',
	'\uFEFF', '\u{1D518}\u{1D52B}\u{1D526}', '\u{10FFFF}', '\uFFFE', '\uFFFF', 'Ä', 'A\u0308', 'ß', 'İ', 'ı',
	'\u2028\u2029', '\u00a0', '\u3000', '\u0130stanbul', 'O\u0027Brien', '\ud800', '\udc00', 'x\ud83dy',
	'\u0000', 'a\u0000b', '\u0001', '\u001f', '\u007f', '\u0085', '\t', '\n', '\r\n', '\\', '"', '\'',
];

const INJECTION = [
	"'; DROP TABLE participants.participant; --", "\" OR 1=1 --", "Robert'); DROP TABLE students;--",
	"%' OR '1'='1", '%', '_', '%%', '\\%', '$$', '$1', "E'\\x00'", "'||pg_sleep(10)||'",
	'1; SELECT pg_terminate_backend(pg_backend_pid())', '") ; --', '${jndi:ldap://x}', '<script>alert(1)</script>',
	"' UNION SELECT * FROM pg_authid --", 'NULL', 'null', 'undefined', 'true', '0', '-1', '{}', '[]',
	'CustomField.Smoker; DROP TABLE x', "Smoker' --", '"Smoker"', 'Smoker\\', '*', '?', ':1',
];

const DATES = [
	'2021-02-30', '0000-01-01', '99999-01-01', '2021-13-01', '2021-00-10', '2021-01-00', '2021-01-32',
	'2020-02-29', '2019-02-29', '1900-02-29', '2000-02-29', '1970-01-01', '1969-12-31', '0001-01-01',
	'9999-12-31', '10000-01-01', '-0001-01-01', '4714-11-24 BC', '4713-01-01 BC', '294277-01-01',
	'5874897-12-31', '5874898-01-01', 'infinity', '-infinity', 'epoch', 'now', 'today', 'tomorrow',
	'yesterday', 'allballs', '2021-1-1', '21-01-01', '2021/01/01', '01/02/2021', '20210101', '2021-01-01T00:00:00Z',
	'2021-01-01 ', ' 2021-01-01', '2021-01-01\n', 'J2451187', '2021-W01-1', '2021-001', '2999-01-01',
	'2100-01-01', '1800-01-01', '2021-02-28', '2024-02-29', '2023-02-29', 'Feb 30 2021', '2021-02-30T00:00:00',
];

const TIMESTAMPS = [
	'2020-01-02T03:04:05Z', '2020-01-02T03:04:05.123456+00:00', '2020-01-02 03:04:05', '2020-01-02T24:00:00',
	'2020-01-02T25:00:00', '2020-01-02T23:59:60', '2020-01-02T23:60:00', '2020-01-02T03:04:05+99:00',
	'2020-01-02T03:04:05+14:01', '2020-01-02T03:04:05-15:00', '2020-01-02T03:04:05 America/New_York',
	'2020-01-02T03:04:05 Mars/Olympus', '2020-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '99999-01-01T00:00:00Z',
	'294277-01-01T00:00:00Z', '4714-11-23T00:00:00Z BC', 'infinity', '-infinity', 'epoch', 'now',
	'2020-01-02T03:04:05.1234567890123Z', '2020-01-02', '2020-01-02T', 'T03:04:05', '2020-01-02T03:04:05ZZ',
	'1e10', '', ' ',
];

const NUMBERS = [
	'0', '-0', '1', '-1', '1.5', '0.1', '-0.0', '2147483647', '2147483648', '-2147483648', '-2147483649',
	'9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
	'-9223372036854775809', '18446744073709551616', '1e308', '1.7976931348623157e308', '1e309', '-1e309',
	'1e400', '-1e400', '1e-400', '-1e-400', '1E+2', '1e-5', '5e-324', '2.5e-324', '1.0', '100.000',
	'123456789012345678901234567890123456789', '-123456789012345678901234567890.123456789',
	'3.14159265358979323846264338327950288419716939937510582097494459',
	'1' + '0'.repeat(1000), '0.' + '0'.repeat(1000) + '1', '1e131071', '1e-16383', '1e147000', '9'.repeat(5000),
	'1e-1000', '12e1', '0e0', '-0e-0', '1e+0', '1e131072', '-1e131072', '1e-16384', '1e-16383', '0.0e999999',
];

// ---------------------------------------------------------------------------------------
// The generator

class Gen {
	constructor(rng, ctx) {
		this.rng = rng;
		this.ctx = ctx;
		this.strict = false;          // while true, generate only well-formed, valid arguments
	}

	// ---- strings -------------------------------------------------------------------
	hugeString() {
		const r = this.rng;
		const src = r.pick([HUGE.ascii, HUGE.twoByte, HUGE.emoji, HUGE.mixed]);
		const len = r.weighted([[3, () => r.range(256, 4096)], [2, () => r.range(4097, 100000)],
			[1, () => r.range(100001, src.length)]]);
		let s = src.slice(0, len);
		// never end inside a surrogate pair by accident: that is what the unicode pool is for
		if (/[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
		return s;
	}

	longString() {
		const r = this.rng;
		const n = r.pick([63, 64, 100, 200, 201, 254, 255, 256, 257, 999, 1000, 1001, 2000, 2712, 3000, 8192]);
		const unit = r.pick(['a', 'x', '\u00e9', '\u{1F600}', 'Z']);
		let s = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
		if (/[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
		return s;
	}

	// a string for any text slot; nul: may contain a NUL character (only inside JSON)
	weirdString(nul = true) {
		const r = this.rng;
		let s = r.weighted([
			[6, () => r.pick(UNICODE)],
			[4, () => r.pick(UNICODE) + 'abc' + r.pick(UNICODE)],
			[5, () => r.pick(INJECTION)],
			[4, () => r.pick(['', ' ', '   ', '\t', '\n', ' \t\r\n ', '\u00a0'])],
			[4, () => this.longString()],
			[1, () => this.hugeString()],
			[4, () => r.pick(DATES)],
			[2, () => r.pick(TIMESTAMPS)],
			[3, () => r.pick(NUMBERS)],
			[3, () => r.pick(['not-a-uuid', '00000000-0000-0000-0000-000000000000', r.uuid().toUpperCase(),
				r.uuid().replace(/-/g, ''), `{${r.uuid()}}`, r.uuid() + 'x', r.uuid().slice(0, 35),
				'gggggggg-gggg-gggg-gggg-gggggggggggg', ' ' + r.uuid()])],
			[2, () => r.pick(['true', 'false', 'null', 'NaN', 'Infinity', '-Infinity', '0x10', '1_000'])],
			[3, () => r.pick(['a@b.co', 'A1@EXAMPLE.COM', 'p001@example.com', 'x@y', '@x.com', 'a..b@x.com',
				'"q"@x.com', 'a b@x.com', 'a@b@c.com', 'a@' + 'b'.repeat(250) + '.com', 'a,b@x.com'])],
			[2, () => r.pick(['+1 615 555 0100', '615-555-0101', '(615) 555-0102', '++1615', '12345', '+' + '1'.repeat(16),
				'phone', '+1 (615) 555.0103 ext 4', '0000000', '+-1'])],
			[2, () => r.pick(STATUSES).toLowerCase()],
		]);
		if (!nul) s = s.replace(/\u0000/g, '');
		return s;
	}

	// a text argument of a SQL function: never contains NUL (PostgreSQL text cannot)
	textArg() { return this.weirdString(false); }

	// a string with escapes written as JSON text
	rawEscapedString() {
		const r = this.rng;
		return new Raw(r.pick([
			'"\\u0000"', '"a\\u0000b"', '"\\ud800"', '"\\udc00"', '"x\\ud800y"', '"\\ud800\\ud800"',
			'"\\udbff\\udfff"', '"\\ud83d\\ude00"', '"\\u00e9"', '"\\/"', '"\\u200b"', '"\\uFEFF"',
			'"\\u0001"', '"\\u001f"', '"\\u007f"', '"\\b\\f\\n\\r\\t"', '"\\u202e"', '"\\u0041\\u0301"',
			'"\\\\u0000"', '"\\uD800\\u0000"', '"\\u0000\\u0000\\u0000"',
		]));
	}

	weirdNumber() { return new Raw(this.rng.pick(NUMBERS)); }

	deep(depth) {
		const r = this.rng;
		const d = depth || r.weighted([[4, () => r.range(2, 64)], [4, () => r.range(65, 1000)],
			[3, () => r.range(1001, 5000)], [1, () => r.range(5001, 20000)]]);
		const inner = r.pick(['1', '"x"', 'null', '{}', '[]', 'true']);
		switch (r.int(3)) {
		case 0: return new Raw('['.repeat(d) + inner + ']'.repeat(d));
		case 1: return new Raw('{"a":'.repeat(d) + inner + '}'.repeat(d));
		default: {
			let s = inner;
			for (let i = 0; i < Math.min(d, 5000); i++) s = (i % 2 ? `{"k${i % 7}":${s}}` : `[${s}]`);
			return new Raw(s);
		}
		}
	}

	// any JSON value, of any type
	weirdValue(level = 0) {
		const r = this.rng;
		return r.weighted([
			[5, () => this.weirdString()],
			[4, () => this.weirdNumber()],
			[2, () => r.pick([true, false])],
			[3, null],
			[2, () => this.rawEscapedString()],
			[level < 3 ? 2 : 0, () => this.smallArray(level + 1)],
			[level < 3 ? 2 : 0, () => this.smallObject(level + 1)],
			[0.4, () => this.deep()],
			[0.3, () => this.hugeString()],
		]);
	}

	smallArray(level) {
		const n = this.rng.weighted([[3, 0], [5, () => this.rng.range(1, 4)], [1, () => this.rng.range(5, 50)]]);
		const a = [];
		for (let i = 0; i < n; i++) a.push(this.weirdValue(level));
		return a;
	}

	smallObject(level) {
		const n = this.rng.weighted([[3, 0], [5, () => this.rng.range(1, 4)]]);
		const o = {};
		for (let i = 0; i < n; i++) setKey(o, this.weirdKey(), this.weirdValue(level));
		return o;
	}

	weirdKey() {
		const r = this.rng;
		return r.weighted([
			[3, () => r.pick(['foo', 'Email', 'EMAIL', 'email ', ' email', 'first_name', 'participantidentifier',
				'ID', 'Id', '', ' ', '__proto__', 'constructor', 'toString', 'null', '0', 'demographics.email',
				'customFields', 'actionTaken', 'result', 'participants', 'filter', 'code', 'actions'])],
			[2, () => r.pick(READONLY_KEYS)],
			[2, () => r.pick(TOP_KEYS.concat(DEMO_KEYS, FILTER_KEYS))],
			[2, () => this.weirdString()],
		]);
	}

	// a value of another JSON type than v
	typeSwap(v) {
		const r = this.rng;
		const kind = (x) => (x === null ? 'null' : Array.isArray(x) ? 'array' : x instanceof Raw ? 'raw' : typeof x);
		const k = kind(v);
		const options = [
			['string', () => r.pick(['1', 'true', 'null', '', 'x', '[]', '{}', '2021-01-01', r.uuid()])],
			['number', () => r.weighted([[3, () => r.pick([0, 1, -1, 42, 1.5])], [2, () => this.weirdNumber()]])],
			['boolean', () => r.pick([true, false])],
			['null', () => null],
			['array', () => r.pick([[], [v === undefined ? 1 : v], ['a', 'b'], [null], [[]], [{}]])],
			['object', () => r.pick([{}, { value: v === undefined ? 1 : v }, { a: 1 }, { '': null }])],
		].filter(([name]) => name !== k);
		return r.pick(options)[1]();
	}

	// ---- tree mutation -------------------------------------------------------------
	// every [container, key] slot of a value tree (objects and arrays; Raw is opaque)
	slots(v, out = [], depth = 0) {
		if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Raw) return out;
		if (Array.isArray(v)) {
			for (let i = 0; i < v.length && i < 50; i++) {
				out.push([v, i]);
				this.slots(v[i], out, depth + 1);
			}
		} else {
			for (const k of Object.keys(v)) {
				out.push([v, k]);
				this.slots(v[k], out, depth + 1);
			}
		}
		return out;
	}

	objects(v, out = [], depth = 0) {
		if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Raw) return out;
		if (!Array.isArray(v)) out.push(v);
		for (const k of Object.keys(v)) this.objects(v[k], out, depth + 1);
		return out;
	}

	// one mutation of a value tree; returns the (possibly new) root
	mutateOnce(root, extraKeys = []) {
		const r = this.rng;
		const slots = this.slots(root);
		const what = r.weighted([
			[slots.length ? 8 : 0, 'swap'],
			[slots.length ? 3 : 0, 'weird'],
			[slots.length ? 2 : 0, 'delete'],
			[slots.length ? 2 : 0, 'wrap'],
			[4, 'addkey'],
			[1, 'root'],
			[0.5, 'deep'],
			[0.3, 'huge'],
		]);
		switch (what) {
		case 'swap': { const [c, k] = r.pick(slots); c[k] = this.typeSwap(c[k]); return root; }
		case 'weird': { const [c, k] = r.pick(slots); c[k] = this.weirdValue(1); return root; }
		case 'delete': {
			const [c, k] = r.pick(slots);
			if (Array.isArray(c)) c.splice(k, 1); else delete c[k];
			return root;
		}
		case 'wrap': {
			const [c, k] = r.pick(slots);
			c[k] = r.chance(0.5) ? [c[k]] : { value: c[k] };
			return root;
		}
		case 'addkey': {
			const objs = this.objects(root);
			if (!objs.length) return this.typeSwap(root);
			const o = r.pick(objs);
			const key = r.chance(0.3) && extraKeys.length ? r.pick(extraKeys) : this.weirdKey();
			setKey(o, key, this.weirdValue(1));
			return root;
		}
		case 'root': return r.chance(0.5) ? this.typeSwap(root) : r.pick([[root], [root, root], { participant: root }]);
		case 'deep': {
			if (!slots.length) return this.deep();
			const [c, k] = r.pick(slots); c[k] = this.deep(); return root;
		}
		default: {
			if (!slots.length) return this.hugeString();
			const [c, k] = r.pick(slots); c[k] = this.hugeString(); return root;
		}
		}
	}

	mutate(root, extraKeys) {
		const n = this.rng.weighted([[6, 1], [2, 2], [1, () => this.rng.range(3, 6)]]);
		for (let i = 0; i < n; i++) root = this.mutateOnce(root, extraKeys);
		return root;
	}

	// ---- malformed JSON text -------------------------------------------------------
	malform(text) {
		const r = this.rng;
		const at = () => r.int(text.length + 1);
		const find = (chars) => {
			const idx = [];
			for (let i = 0; i < text.length && idx.length < 200; i++) if (chars.includes(text[i])) idx.push(i);
			return idx.length ? r.pick(idx) : -1;
		};
		switch (r.int(16)) {
		case 0: return text.slice(0, Math.max(0, at() - 1));                          // truncated
		case 1: { const i = find('}]'); return i < 0 ? text + ',' : text.slice(0, i) + ',' + text.slice(i); }
		case 2: return text.replace(/"/g, '\'');                                        // single quotes
		case 3: { const i = find(':'); const w = r.pick(['undefined', 'NaN', 'Infinity', '-Infinity', 'True', 'nul', 'foo', 'None', 'nil', '0x1F', '.5', '+1', '01', '1.', '-', 'tru']);
			if (i < 0) return w;
			const rest = text.slice(i + 1).replace(/^\s*("(?:[^"\\]|\\.)*"|-?[0-9.eE+-]+|true|false|null)/, '');
			return text.slice(0, i + 1) + w + rest; }
		case 4: { const i = at(); return text.slice(0, i) + text.slice(i + 1); }      // a character less
		case 5: { const i = at(); return text.slice(0, i) + r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', '\'']) + text.slice(i); }
		case 6: return text + r.pick(['x', '}', ']', ' {}', ',', '\u0000', ' // c', '\n\n"x"']);
		case 7: return r.pick(['/* c */', '// c\n', '\uFEFF', '\u0000', 'json:']) + text;
		case 8: { const i = find('"'); return i < 0 ? text : text.slice(0, i + 1) + r.pick(['\u0001', '\n', '\t', '\u0000', '\u001f']) + text.slice(i + 1); }
		case 9: { const i = find('"'); return i < 0 ? text : text.slice(0, i + 1) + r.pick(['\\x41', '\\u12', '\\uZZZZ', '\\a', '\\', '\\U0001F600', '\\\'']) + text.slice(i + 1); }
		case 10: return r.pick(['', ' ', '\n', '\t\r\n ', 'null ', 'nul', '{', '}', '[', '{]', '[}', '{"a"}', '{"a":}', '{,}', '[,]', '{"a":1,,"b":2}', '{"a" 1}', '{a:1}', '{\'a\':1}', '"unterminated', '[1,2', '{"a":[1,2}', '1 2', '"a" "b"', 'tru', 'True', 'NULL', '{"a":1}{"b":2}']);
		case 11: { const i = find(','); return i < 0 ? text : text.slice(0, i) + ',,' + text.slice(i + 1); }
		case 12: { const i = find(','); return i < 0 ? text : text.slice(0, i) + text.slice(i + 1); }  // missing comma
		case 13: { const i = find(':'); return i < 0 ? text : text.slice(0, i) + '=' + text.slice(i + 1); }
		case 14: return text.replace(/"([A-Za-z_]+)":/, '$1:');                         // bare key
		default: return text.slice(0, Math.max(0, at() - 1)) + r.pick(['"', '\\', '{', '[']);
		}
	}

	// serialize a generated JSON argument: valid text, or (with probability pm) malformed
	json(v, pm = 0.08) {
		const text = ser(v);
		return this.rng.chance(pm) ? this.malform(text) : text;
	}

	// ---- references into the dataset -----------------------------------------------
	projectArg() {
		const r = this.rng, c = this.ctx;
		if (this.strict) return c.p;
		return r.weighted([[88, c.p], [5, c.p2], [4, () => r.uuid()], [3, null]]);
	}

	person() { return this.rng.pick(this.ctx.people); }

	participantRef(qbi) {
		const r = this.rng;
		if (this.strict) return qbi === true ? this.person().id : this.person().ident;
		if (qbi === true) {
			return r.weighted([
				[10, () => this.person().id],
				[1, () => this.person().id.toUpperCase()],
				[1, () => '{' + this.person().id + '}'],
				[1, () => this.person().id.replace(/-/g, '')],
				[2, () => r.uuid()],
				[1, () => this.ctx.p2Person.id],
				[2, () => this.person().ident],
				[3, () => this.textArg()],
			]);
		}
		return r.weighted([
			[10, () => this.person().ident],
			[1, () => this.person().ident.toLowerCase()],
			[1, () => ' ' + this.person().ident],
			[1, () => this.person().id],
			[1, () => this.ctx.p2Person.ident],
			[2, () => 'NOPE-' + r.int(1000)],
			[3, () => this.textArg()],
		]);
	}

	maybeNull(v, p = 0.04) { return !this.strict && this.rng.chance(p) ? null : v; }

	qbi() { return this.rng.weighted([[10, false], [5, true], [this.strict ? 0 : 1, null]]); }

	segmentId() {
		const r = this.rng, c = this.ctx;
		if (this.strict) return r.pick([c.segStatic, c.segStatic2, c.segDynamic]);
		return r.weighted([[6, c.segStatic], [3, c.segStatic2], [4, c.segDynamic], [1, c.segP2], [2, () => r.uuid()],
			[1, null]]);
	}

	studyId() {
		const r = this.rng, c = this.ctx;
		if (this.strict) return r.pick([c.study, c.study, c.study2]);
		return r.weighted([[10, c.study], [3, c.study2], [1, c.studyP2], [2, () => r.uuid()], [1, null]]);
	}

	// a JSON value naming a segment inside JSON (any string)
	segmentRefJson() {
		const r = this.rng, c = this.ctx;
		return r.weighted([[6, c.segStatic], [4, c.segStatic2], [3, c.segDynamic], [1, c.segP2], [2, () => r.uuid()],
			[1, () => c.segStatic.toUpperCase()], [2, () => this.weirdString()], [1, () => this.typeSwap('x')]]);
	}

	// a uuid[] argument: only well-formed uuids and NULLs (anything else fails in the cast, before the function)
	uuidList(allowNull) {
		const r = this.rng, c = this.ctx;
		if (this.strict) return r.pick([allowNull ? null : [], [], [c.segStatic], [c.segStatic2], [c.segDynamic]]);
		const one = () => r.weighted([[5, c.segStatic], [4, c.segStatic2], [4, c.segDynamic], [1, c.segP2],
			[2, () => r.uuid()], [1, null]]);
		return r.weighted([
			[allowNull ? 4 : 1, null],
			[4, () => []],
			[8, () => [one()]],
			[4, () => [one(), one()]],
			[2, () => { const x = one(); return [x, x]; }],
			[1, () => { const a = []; const n = r.range(3, 200); for (let i = 0; i < n; i++) a.push(one()); return a; }],
		]);
	}

	// ---- valid values --------------------------------------------------------------
	validDate(past = true) {
		const r = this.rng;
		const y = past ? r.range(1900, 2010) : r.range(1900, 2100);
		const m = r.range(1, 12), d = r.range(1, 28);
		return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
	}

	newEmail() { return `u${this.rng.int(1e9)}@example.com`; }

	phone() {
		const r = this.rng;
		const n = String(r.range(0, 9999)).padStart(4, '0');
		return r.pick([`+1 615 555 ${n}`, `(615) 555-${n}`, `615.555.${n}`, `+4420 7946 ${n}`, `615555${n}`]);
	}

	demoValue(key) {
		const r = this.rng;
		if (this.strict) {
			switch (key) {
			case 'email': return this.newEmail();
			case 'mobilePhone': return r.chance(0.8) ? this.phone() : null;
			case 'dateOfBirth': return this.validDate();
			case 'gender': return r.pick(['M', 'F', 'O', null]);
			case 'utcOffset': return r.pick(['-04:00:00', '+05:30:00', '14:00:00', '+00:00:00', '-12:00:00']);
			case 'preferredLanguage': return r.pick(['en', 'es', 'fr-CA', '']);
			default: return r.pick(['Smith', 'Jones', 'Nashville', 'TN', '37203', 'Main St', 'Ann', 'José', '李', 'O\'Brien', null, '']);
			}
		}
		switch (key) {
		case 'email': return r.weighted([[6, () => this.newEmail()], [2, () => this.person().email],
			[1, () => this.person().email.toUpperCase()], [1, () => r.pick(['a@b', 'bad', ''])]]);
		case 'mobilePhone': return r.weighted([[4, () => this.phone()], [1, () => this.person().phone], [1, null]]);
		case 'dateOfBirth': return r.weighted([[8, () => this.validDate()], [2, () => r.pick(DATES)]]);
		case 'gender': return r.pick(['M', 'F', 'O', null, 'm', 'X', '']);
		case 'utcOffset': return r.pick(['-04:00:00', '+05:30:00', '14:00:00', '+00:00:00', '-12:00:00', '+15:00:00',
			'-04:00', '4', '']);
		case 'preferredLanguage': return r.pick(['en', 'es', 'fr-CA', 'zh-Hans', '\u{1F600}', '']);
		default:
			return r.weighted([[8, () => r.pick(['Smith', 'Jones', 'Nashville', 'TN', '37203', 'Main St', 'Ann',
				'José', 'Øystein', '李', 'O\'Brien', 'Smi'])], [2, () => this.weirdString()], [1, null]]);
		}
	}

	cfValue(type) {
		const r = this.rng;
		if (this.strict) {
			switch (type) {
			case 'integer': return r.chance(0.7) ? r.range(-100, 100) : String(r.range(0, 9));
			case 'number': return r.chance(0.7) ? r.range(0, 2000) / 10 : String(r.range(0, 99));
			case 'boolean': return r.pick([true, false, 'true', 'false']);
			case 'date': return this.validDate(false);
			case 'timestamp': return `${this.validDate(false)}T0${r.range(0, 9)}:00:00Z`;
			default: return r.pick(['x', 'Lisinopril', 'yes', '42', '']);
			}
		}
		switch (type) {
		case 'integer': return r.weighted([[5, () => r.range(-100, 100)], [2, () => String(r.range(0, 9))],
			[1, () => this.weirdNumber()], [1, () => r.pick(NUMBERS)], [1, () => r.pick(['1.5', 'x', '', true, 1.5])]]);
		case 'number': return r.weighted([[5, () => r.range(0, 2000) / 10], [2, () => String(r.range(0, 99))],
			[1, () => this.weirdNumber()], [1, () => r.pick(NUMBERS)], [1, () => r.pick(['NaN', 'Infinity', '1e400', 'x', false])]]);
		case 'boolean': return r.weighted([[5, () => r.pick([true, false])], [2, () => r.pick(['true', 'false', '1', '0'])],
			[1, () => r.pick(['yes', 't', 2, 'TRUE', ''])]]);
		case 'date': return r.weighted([[5, () => this.validDate(false)], [2, () => r.pick(DATES)]]);
		case 'timestamp': return r.weighted([[5, () => `${this.validDate(false)}T0${r.range(0, 9)}:00:00Z`],
			[2, () => r.pick(TIMESTAMPS)]]);
		default: return r.weighted([[5, () => r.pick(['x', 'Lisinopril', 'yes', '42', ''])], [2, () => this.weirdString()]]);
		}
	}

	customFields(full) {
		const r = this.rng;
		const o = {};
		for (const f of CUSTOM_FIELDS) if (full || r.chance(0.25)) o[f.name] = this.cfValue(f.type);
		for (const k of UNDECLARED) if (full || r.chance(0.15)) o[k] = r.weighted([[3, 'x'], [2, () => r.range(0, 9)], [1, true], [1, null]]);
		if (r.chance(0.1)) o[r.pick(TRANSIENT)] = r.pick(['x', 1, '2020-01-01', true, 1.5]);
		if (!this.strict && r.chance(0.1)) setKey(o, r.pick(['smoker', 'SMOKER', 'New_Field', 'x', 'a b', '1abc', '']), this.cfValue('text'));
		return o;
	}

	// a participant body, valid or nearly; full: every key
	participant(full = false) {
		const r = this.rng;
		const o = {};
		const sel = r.int(10);
		if (sel < 3) o.participantIdentifier = this.person().ident;
		else if (sel < 5) o.participantIdentifier = `N-${r.int(1e6)}`;
		else if (sel < 6) o.id = this.person().id;
		else if (sel < 7) o.id = r.uuid();
		else if (sel < 8 && full) { o.id = this.person().id; o.participantIdentifier = this.person().ident; }
		if (!this.strict && r.chance(0.03)) o.participantIdentifier = this.longString();
		if (full || r.chance(0.2)) o.secondaryIdentifier = r.pick(['S-1', 'S-2', this.person().ident, '', null]);
		if (full || r.chance(0.2)) o.invitationStatus = r.pick(INVITATION.concat(this.strict ? [null] : [null, 'Pending', 'unknown']));
		if (full || r.chance(0.15)) o.excludeFromExport = r.pick([true, false]);
		if (full || r.chance(0.15)) o.institutionCode = r.pick(['INST-1', '', null, 'x'.repeat(this.strict ? 254 : 255)]);
		if (full || sel >= 6 || r.chance(0.6)) {
			const d = {};
			for (const k of DEMO_KEYS) if (full || r.chance(0.2)) d[k] = this.demoValue(k);
			if (sel >= 7 && !('email' in d) && r.chance(0.9)) d.email = this.newEmail();
			o.demographics = d;
		}
		if (full || r.chance(0.4)) o.customFields = this.customFields(full);
		return o;
	}

	participantBody() {
		const r = this.rng;
		const mode = this.strict ? 'valid' : r.weighted([[25, 'valid'], [40, 'mutated'], [15, 'full-mutated'], [5, 'readonly'], [15, 'malformed']]);
		let v;
		switch (mode) {
		case 'valid': return this.json(this.participant(r.chance(0.2)), 0);
		case 'mutated': v = this.mutate(this.participant(), READONLY_KEYS); break;
		case 'full-mutated': v = this.mutate(this.participant(true), READONLY_KEYS); break;
		case 'readonly': v = this.participant(); setKey(v, r.pick(READONLY_KEYS), this.weirdValue(2)); break;
		default: return this.malform(ser(this.participant(r.chance(0.3))));
		}
		return this.json(v, 0.03);
	}

	participantsBody() {
		const r = this.rng;
		const n = r.weighted([[2, 0], [10, () => r.range(1, 5)], [2, () => r.range(6, 30)], [0.3, () => r.range(200, 1500)]]);
		const list = [];
		const bad = !this.strict && r.chance(0.6) ? r.int(Math.max(n, 1)) : -1;
		for (let i = 0; i < n; i++) {
			let p = this.participant(r.chance(0.1));
			if (i === bad) p = this.mutate(p, READONLY_KEYS);
			list.push(p);
		}
		let v = r.chance(0.3) ? { participants: list } : list;
		if (this.strict) return this.json(v, 0);
		if (r.chance(0.15)) v = this.mutate(v, ['participants', 'allow_update']);
		return this.json(v, 0.08);
	}

	// filters (query_participants and dynamic segments)
	customFilter() {
		const r = this.rng;
		const o = {};
		const n = r.range(0, 3);
		for (let i = 0; i < n; i++) {
			const f = r.chance(0.7) ? r.pick(CUSTOM_FIELDS) : { name: r.pick(UNDECLARED.concat(TRANSIENT, ['Nope', 'smoker'])), type: 'text' };
			setKey(o, f.name, r.weighted([[6, () => this.cfValue(f.type)], [1, null], [this.strict ? 0 : 1, () => this.weirdValue(2)],
				[this.strict ? 0 : 1, () => r.pick(NUMBERS)]]));
		}
		return o;
	}

	demographicFilter() {
		const r = this.rng;
		const o = {};
		const n = r.range(0, 3);
		for (let i = 0; i < n; i++) {
			const k = r.weighted([[8, () => r.pick(DEMO_FILTER_KEYS)], [1, () => r.pick(DEMO_FILTER_KEYS).toLowerCase()],
				[this.strict ? 0 : 1, () => r.pick(DEMO_KEYS.concat(['Foo', 'Street1', '']))]]);
			let v;
			switch (k.toLowerCase()) {
			case 'email': v = r.pick([this.person().email, this.person().email.toUpperCase(), 'none@example.com']); break;
			case 'dob': case 'dateofbirth': v = r.pick([this.validDate(), '1970-01-01', this.strict ? '1959-05-15' : r.pick(DATES)]); break;
			case 'mobilephone': v = r.pick([this.person().phone || '615-555-0101', this.phone()]); break;
			case 'gender': v = r.pick(this.strict ? ['M', 'F', 'O'] : ['M', 'F', 'O', 'm', 'X']); break;
			default: v = r.pick(['Smith', 'smith', 'Nashville', '', 'TN', 'Ann']);
			}
			setKey(o, k, r.weighted([[8, v], [this.strict ? 0 : 1, null], [this.strict ? 0 : 1, () => this.weirdValue(2)]]));
		}
		return o;
	}

	segmentFilter() {
		const r = this.rng;
		const o = {};
		if (r.chance(0.3)) o.query = r.pick(['smi', 'a', '', 'P01', '%', '_']);
		if (r.chance(0.4)) o.custom_fields = this.customFilter();
		if (r.chance(0.4)) o.demographic_fields = this.demographicFilter();
		if (r.chance(0.2)) o.invitation_status = r.pick(INVITATION.concat(this.strict ? [null] : [null, 'x']));
		if (r.chance(0.2)) o.enrolled = r.pick([true, false]);
		if (r.chance(0.3)) o.withdrawn = r.pick([true, false]);
		return o;
	}

	filterArg(kind) {
		const r = this.rng;
		const base = kind === 'custom' ? this.customFilter() : kind === 'demo' ? this.demographicFilter() : this.segmentFilter();
		if (this.strict) return this.json(base, 0);
		return r.weighted([
			[10, () => this.json(base, 0)],
			[8, () => this.json(this.mutate(base, kind === 'segment' ? FILTER_KEYS : []), 0.03)],
			[2, () => this.malform(ser(base))],
		]);
	}

	participantList(qbi) {
		const r = this.rng;
		const n = r.weighted([[2, 0], [10, () => r.range(1, 4)], [2, () => r.range(5, 40)], [0.3, () => r.range(500, 3000)]]);
		const list = [];
		for (let i = 0; i < n; i++) {
			list.push(r.weighted([[20, () => (qbi === true ? this.person().id : this.person().ident)],
				[2, () => this.participantRef(qbi)], [this.strict ? 0 : 1, () => this.weirdValue(2)]]));
		}
		if (this.strict) return this.json(list, 0);
		return r.weighted([
			[10, () => this.json(list, 0)],
			[6, () => this.json(this.mutate(list), 0.03)],
			[2, () => this.json(r.pick([{ participants: list }, list.length ? list[0] : 'P001', {}, 1, null, true]), 0)],
			[2, () => this.malform(ser(list))],
		]);
	}

	completionCodes() {
		const r = this.rng, c = this.ctx;
		const n = r.weighted([[2, 0], [8, () => r.range(1, 3)], [1, () => r.range(4, 30)]]);
		const codes = [];
		if (this.strict) {
			for (let i = 0; i < n; i++) {
				const actions = [];
				if (r.chance(0.7)) actions.push({ action: 'ADD_TO_SEGMENT', segmentID: c.segStatic2 });
				if (r.chance(0.5)) actions.push({ action: r.pick(['ADD_TO_SEGMENT', 'REMOVE_FROM_SEGMENT']), segmentID: c.segStatic });
				codes.push({ code: r.pick(['DONE', 'C1', 'X']) + i, actions });
			}
			return this.json(codes, 0);
		}
		for (let i = 0; i < n; i++) {
			const actions = [];
			const m = r.weighted([[2, 0], [6, 1], [3, 2], [1, () => r.range(3, 10)]]);
			for (let j = 0; j < m; j++) {
				actions.push({
					action: r.weighted([[8, () => r.pick(['ADD_TO_SEGMENT', 'REMOVE_FROM_SEGMENT'])],
						[1, () => r.pick(['add_to_segment', 'DELETE', '', 'ADD_TO_SEGMENT '])]]),
					segmentID: r.weighted([[6, c.segStatic2], [3, c.segStatic], [1, () => this.segmentRefJson()]]),
				});
			}
			codes.push({ code: r.weighted([[8, () => r.pick(['DONE', 'C1', 'C2', 'ABC123', `K${i}`])], [1, () => this.weirdString()]]), actions });
		}
		return r.weighted([
			[8, () => this.json(codes, 0)],
			[8, () => this.json(this.mutate(codes, ['code', 'actions', 'action', 'segmentID']), 0.03)],
			[1, () => this.json(r.pick([{}, { code: 'DONE' }, 'DONE', 1, null, { codes }]), 0)],
			[2, () => this.malform(ser(codes))],
		]);
	}

	sortBy() {
		const r = this.rng;
		if (this.strict) {
			return r.weighted([[5, () => r.pick(SORT_BASE)], [4, () => 'CustomField.' + r.pick(CUSTOM_FIELDS.map((f) => f.name).concat(UNDECLARED))],
				[3, () => 'DemographicField.' + r.pick(DEMO_KEYS)]]);
		}
		return r.weighted([
			[5, () => r.pick(SORT_BASE)],
			[2, () => r.pick(SORT_BASE).toLowerCase()],
			[4, () => 'CustomField.' + r.pick(CUSTOM_FIELDS).name],
			[1, () => 'CustomField.' + r.pick(TRANSIENT)],
			[1, () => 'customfield.' + r.pick(CUSTOM_FIELDS).name.toUpperCase()],
			[2, () => 'CustomField.' + r.pick(UNDECLARED.concat(['Nope', '', ' ', 'Smoker.x', 'a"b', 'Free\'--']))],
			[3, () => 'DemographicField.' + r.pick(DEMO_KEYS.concat(['LastName', 'DOB', 'Foo', '']))],
			[1, null],
			[2, () => r.pick(['', 'Bogus', 'CustomField', 'DemographicField', 'CustomField.' + 'a'.repeat(300),
				'InsertedDate DESC', 'id', '1', 'InsertedDate;DROP'])],
			[1, () => this.textArg()],
		]);
	}

	pageNumber() {
		const r = this.rng;
		if (this.strict) return r.weighted([[5, 0], [2, () => r.range(1, 5)]]);
		return r.weighted([[10, 0], [3, () => r.range(1, 5)], [1, -1], [1, 2147483647], [1, -2147483648],
			[1, 1000000], [1, null], [1, 2147483646]]);
	}

	pageSize() {
		const r = this.rng;
		if (this.strict) return r.weighted([[5, 20], [2, () => r.range(1, 1000)]]);
		return r.weighted([[8, 20], [2, 1], [2, 1000], [1, 1001], [1, 0], [1, -1], [1, 2147483647], [1, -2147483648],
			[1, null], [2, () => r.range(2, 100)]]);
	}

	textOr(valid) {
		const r = this.rng;
		if (this.strict) return valid;
		return r.weighted([[7, valid], [3, () => this.textArg()], [1, null]]);
	}

	segmentName() {
		const r = this.rng;
		if (this.strict) return `Seg ${r.int(100000)}`;
		return r.weighted([[6, () => `Seg ${r.int(100000)}`], [2, () => r.pick(['Static', 'static', 'STATIC2', 'Dynamic', 'Dynamic '])],
			[3, () => this.textArg()], [1, null], [1, () => 'n'.repeat(r.pick([200, 201]))]]);
	}

	// ---- calls after other calls in the same transaction ------------------------------
	// A stored value meets the code that reads it only after a write: the call runs after a
	// prelude (calls that should succeed) in the same transaction, e.g. an odd value stored in
	// a custom field, then a search sorted or filtered by that field.
	oddScalar() {
		const r = this.rng;
		return r.weighted([
			[5, () => r.pick(NUMBERS)],
			[3, () => r.pick(DATES)],
			[2, () => r.pick(TIMESTAMPS)],
			[2, () => this.weirdString(false).replace(/[\ud800-\udfff]/g, '')],
			[2, () => Number(r.pick(NUMBERS))],
			[1, () => r.pick([true, false, 0, -0.0, 1e308, 2 ** 63, -(2 ** 63), 0.1 + 0.2])],
		]);
	}

	callWithPrelude() {
		const r = this.rng, c = this.ctx;
		const field = r.pick(TRANSIENT.concat(['Free', 'Medication1', 'SurgeryDate']));
		const who = this.person().ident;
		const store = (f, v, ident = who) => ({ fn: 'upsert_participant', args: [c.p, JSON.stringify({ participantIdentifier: ident, customFields: { [f]: v } })], json: [1] });
		const value = this.oddScalar();
		const type = r.pick(CF_TYPES);
		const dynamicOn = (f, v) => ({ fn: 'create_segment', args: [c.p, `Pre ${r.int(1000)}`, null, JSON.stringify({ custom_fields: { [f]: v } })], json: [3] });
		const query = (extra) => ({ fn: 'query_participants', args: [c.p, extra.query || null, extra.segment || null, extra.cf || null, null,
			extra.sort || 'InsertedDate', r.pick([true, false]), 0, r.pick([1, 20, 1000])], json: [3, 4] });
		return r.weighted([
			// an odd value stored, then sorted by, filtered on, searched, declared, or segmented on
			[4, () => ({ ...query({ sort: 'CustomField.' + field }), prelude: [store(field, value)] })],
			[2, () => ({ ...query({ sort: 'CustomField.' + field }), prelude: [store(field, value), store(field, this.oddScalar(), this.person().ident)] })],
			[2, () => ({ ...query({ cf: JSON.stringify({ [field]: r.chance(0.5) ? value : this.oddScalar() }) }), prelude: [store(field, value)] })],
			[1, () => ({ ...query({ query: typeof value === 'string' ? value.slice(0, 50) : String(value), segment: r.pick([null, c.segStatic]) }), prelude: [store(field, value)] })],
			[3, () => ({ fn: 'define_custom_field', args: [c.p, field, type, r.pick(['{}', '{"sortable": true}'])], json: [3], prelude: [store(field, value)] })],
			[2, () => ({ ...dynamicOn(field, this.oddScalar()), prelude: [store(field, value)] })],
			[2, () => ({ ...store(field, value), prelude: [dynamicOn(field, this.oddScalar())] })],
			// a field declared (maybe sortable), then odd values written and sorted by
			[2, () => ({ ...store(field, value), prelude: [{ fn: 'define_custom_field', args: [c.p, field, type, r.pick(['{}', '{"sortable": true}'])], json: [3] }] })],
			[2, () => ({ ...query({ sort: 'CustomField.' + field }), prelude: [{ fn: 'define_custom_field', args: [c.p, field, type, '{"sortable": true}'], json: [3] }, store(field, value)] })],
			// a participant changed, then the study and segment functions on it
			[1, () => ({ fn: 'add_study_participants', args: [c.p, c.study2, JSON.stringify([who]), false], json: [2],
				prelude: [{ fn: 'add_segment_members', args: [c.p, c.segStatic, JSON.stringify([who]), false], json: [2] }] })],
			[1, () => ({ fn: 'set_participant_status', args: [c.p, c.study, who, r.pick(STATUSES), false, r.pick([null, 'DONE', 'C1'])], json: [],
				prelude: [{ fn: 'set_opted_out', args: [c.p, who, r.pick([true, false]), false], json: [] }] })],
			[1, () => ({ fn: 'set_participant_status', args: [c.p, c.study, who, r.pick(STATUSES), false, r.pick(['DONE', 'C1'])], json: [],
				prelude: [{ fn: 'update_study', args: [c.p, c.study, null, null, null, this.completionCodes()], json: [5] }] })],
		]);
	}

	// ---- one call ------------------------------------------------------------------
	// {fn, args, json: [indices of JSON arguments]}
	call() {
		const r = this.rng;
		this.strict = r.chance(0.25);
		if (r.chance(0.06)) {
			const c = this.callWithPrelude();
			if (!this.noPrelude) return c;
			delete c.prelude;
			return c;
		}
		const fn = r.weighted([
			[14, 'upsert_participant'], [8, 'upsert_participants'], [14, 'query_participants'],
			[6, 'create_segment'], [6, 'update_segment'], [6, 'add_segment_members'],
			[5, 'remove_segment_members'], [6, 'create_study'], [6, 'update_study'],
			[6, 'add_study_participants'], [7, 'set_participant_status'], [5, 'set_opted_out'],
			[5, 'define_custom_field'], [6, 'get_participant'],
		]);
		switch (fn) {
		case 'upsert_participant':
			return { fn, args: [this.projectArg(), this.maybeNull(this.participantBody(), 0.02)], json: [1] };
		case 'upsert_participants':
			return { fn, args: [this.projectArg(), this.maybeNull(this.participantsBody(), 0.02),
				r.weighted([[6, true], [3, false], [1, null]])], json: [1] };
		case 'query_participants':
			return { fn, args: [
				this.projectArg(),
				r.weighted([[6, null], [6, () => r.pick(['smi', 'SMITH', 'p0', 'example.com', '1970', '615', 'a', '', ' '])],
					[4, () => this.textArg()]]),
				r.weighted([[10, null], [4, () => this.segmentId()]]),
				r.weighted([[6, null], [6, () => this.filterArg('custom')]]),
				r.weighted([[6, null], [6, () => this.filterArg('demo')]]),
				this.sortBy(),
				r.weighted([[5, true], [4, false], [1, null]]),
				this.pageNumber(),
				this.pageSize(),
			], json: [3, 4] };
		case 'create_segment':
			return { fn, args: [this.projectArg(), this.segmentName(), this.textOr('a description'),
				r.weighted([[4, null], [8, () => this.filterArg('segment')]])], json: [3] };
		case 'update_segment':
			return { fn, args: [this.projectArg(), this.segmentId(), r.weighted([[4, null], [4, () => this.segmentName()]]),
				r.weighted([[4, null], [2, ''], [2, () => this.textArg()]]),
				r.weighted([[5, null], [8, () => this.filterArg('segment')]])], json: [4] };
		case 'add_segment_members':
		case 'remove_segment_members': {
			const q = this.qbi();
			return { fn, args: [this.projectArg(), this.segmentId(), this.maybeNull(this.participantList(q), 0.03), q], json: [2] };
		}
		case 'create_study':
			return { fn, args: [this.projectArg(), this.textOr(`Study ${r.int(1000)}`), this.uuidList(true), this.uuidList(true),
				r.weighted([[2, null], [10, () => this.completionCodes()]])], json: [4] };
		case 'update_study':
			return { fn, args: [this.projectArg(), this.studyId(), r.weighted([[4, null], [4, () => this.textOr('Renamed')]]),
				this.uuidList(true), this.uuidList(true), r.weighted([[4, null], [8, () => this.completionCodes()]])], json: [5] };
		case 'add_study_participants': {
			const q = this.qbi();
			return { fn, args: [this.projectArg(), this.studyId(), this.maybeNull(this.participantList(q), 0.03), q], json: [2] };
		}
		case 'set_participant_status': {
			const q = this.qbi();
			const S = this.strict ? 0 : 1;
			const status = r.weighted([[12, () => r.pick(STATUSES)], [S, () => r.pick(STATUSES).toLowerCase()],
				[S, () => r.pick(['', 'UNKNOWN', 'NOT_STARTED ', 'OPTED OUT'])], [S, () => this.textArg()], [S, null]]);
			const code = r.weighted([[10, null], [4, 'DONE'], [2, 'C1'], [2 * S, 'NOPE'], [S, ''], [S, () => this.textArg()]]);
			return { fn, args: [this.projectArg(), this.studyId(), this.maybeNull(this.participantRef(q)), status, q, code], json: [] };
		}
		case 'set_opted_out': {
			const q = this.qbi();
			return { fn, args: [this.projectArg(), this.maybeNull(this.participantRef(q)), r.weighted([[5, true], [4, false], [this.strict ? 0 : 1, null]]), q], json: [] };
		}
		case 'define_custom_field': {
			if (this.strict) {
				const f = r.pick(CUSTOM_FIELDS);
				return { fn, args: [this.projectArg(), r.chance(0.7) ? r.pick([`F${r.int(100000)}`, r.pick(TRANSIENT)]) : f.name, r.chance(0.7) ? r.pick(CF_TYPES) : f.type,
					this.json(r.pick([{}, { description: 'd' }, { sortable: true }, { sortable: false, description: '' }]), 0)], json: [3] };
			}
			const name = r.weighted([
				[3, () => `F${r.int(100000)}`],
				[3, () => r.pick(TRANSIENT)],
				[3, () => r.pick(CUSTOM_FIELDS).name],
				[1, () => r.pick(CUSTOM_FIELDS).name.toLowerCase()],
				[3, () => r.pick(UNDECLARED)],
				[2, () => r.pick(['1abc', 'a-b', 'a b', '', '_x', 'x'.repeat(63), 'x'.repeat(64), 'É', 'a\u200b',
					'Smoker;DROP', 'select', 'participant_identifier', 'id'])],
				[2, () => this.textArg()],
				[1, null],
			]);
			const type = r.weighted([[10, () => r.pick(CF_TYPES)], [1, () => r.pick(CF_TYPES).toUpperCase()],
				[2, () => r.pick(['int', 'varchar', 'json', 'float', 'bool', 'timestamptz', '', ' text', 'date[]'])],
				[1, () => this.textArg()], [1, null]]);
			const opts = r.weighted([
				[4, '{}'],
				[3, () => this.json({ description: r.pick(['d', '', 'x'.repeat(2000)]) }, 0)],
				[2, () => this.json({ sortable: r.pick([true, false]) }, 0)],
				[6, () => this.json(this.mutate({ description: 'd', sortable: r.pick([true, false]) }, ['description', 'sortable']), 0.03)],
				[1, () => this.malform('{"description": "d", "sortable": true}')],
				[1, null],
			]);
			return { fn, args: [this.projectArg(), name, type, opts], json: [3] };
		}
		default: { // get_participant
			const q = this.qbi();
			return { fn: 'get_participant', args: [this.projectArg(), this.maybeNull(this.participantRef(q)), q], json: [] };
		}
		}
	}
}

// SQL of each function: every argument explicit and typed
const SIGNATURES = {
	upsert_participant: ['uuid', 'jsonb'],
	upsert_participants: ['uuid', 'jsonb', 'boolean'],
	query_participants: ['uuid', 'text', 'uuid', 'jsonb', 'jsonb', 'text', 'boolean', 'integer', 'integer'],
	create_segment: ['uuid', 'text', 'text', 'jsonb'],
	update_segment: ['uuid', 'uuid', 'text', 'text', 'jsonb'],
	add_segment_members: ['uuid', 'uuid', 'jsonb', 'boolean'],
	remove_segment_members: ['uuid', 'uuid', 'jsonb', 'boolean'],
	create_study: ['uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb'],
	update_study: ['uuid', 'uuid', 'text', 'uuid[]', 'uuid[]', 'jsonb'],
	add_study_participants: ['uuid', 'uuid', 'jsonb', 'boolean'],
	set_participant_status: ['uuid', 'uuid', 'text', 'text', 'boolean', 'text'],
	set_opted_out: ['uuid', 'text', 'boolean', 'boolean'],
	define_custom_field: ['uuid', 'text', 'text', 'jsonb'],
	get_participant: ['uuid', 'text', 'boolean'],
};
const FUNCTIONS = Object.keys(SIGNATURES);

const SELFTEST = {
	// a lost connection (the backend ends itself: FATAL 57P01)
	selftest_crash: 'SELECT length(pg_terminate_backend(pg_backend_pid())::text)',
	// an error outside the documented SQLSTATEs (22012)
	selftest_sqlstate: 'SELECT length((1 / (length($1::text) - 4))::text)',
	// a change that survives the rollback (written and committed by another connection)
	selftest_write: 'SELECT length(participants.get_participant($1::uuid, $2::text)::text)',
};

function callSql(fn) {
	if (SELFTEST[fn]) return SELFTEST[fn];
	const args = SIGNATURES[fn].map((t, i) => `$${i + 1}::${t}`).join(', ');
	// the result is fetched as text and measured, not parsed
	return `SELECT length(participants.${fn}(${args})::text)`;
}

// ---------------------------------------------------------------------------------------
// Database helpers

function isConnectionError(err) {
	if (!err) return false;
	if (!err.severity) return true;                                 // client-side: socket gone
	if (err.severity === 'FATAL' || err.severity === 'PANIC') return true;
	return /^(57P0[123]|08)/.test(err.code || '');
}

function trunc(s, n = 500) {
	if (s === null || s === undefined) return s;
	s = String(s);
	return s.length > n ? s.slice(0, n) + `…[${s.length} chars]` : s;
}

function sqlLiteral(v, type) {
	if (v === null || v === undefined) return `NULL::${type}`;
	if (Array.isArray(v)) return `ARRAY[${v.map((x) => (x === null ? 'NULL' : `'${x}'`)).join(', ')}]::${type}`;
	if (typeof v === 'boolean' || typeof v === 'number') return `${v}::${type}`;
	let tag = 'fz';
	while (String(v).includes(`$${tag}$`)) tag += 'z';
	return `$${tag}$${v}$${tag}$::${type}`;
}

// a psql statement reproducing a call (arguments truncated when long)
function reproSql(call, limit = 500) {
	if (call.prelude) {
		return ['BEGIN;'].concat(call.prelude.map((c) => reproSql(c, limit)), [reproSql({ ...call, prelude: null }, limit), 'ROLLBACK;']).join(' ');
	}
	const lits = call.args.map((v, i) => {
		const t = (SIGNATURES[call.fn] || [])[i] || 'text';
		if (typeof v === 'string' && v.length > limit) return `/* ${v.length} chars, truncated */ ${sqlLiteral(v.slice(0, limit), t)}`;
		if (Array.isArray(v) && v.length > 20) return `/* ${v.length} elements */ ${sqlLiteral(v.slice(0, 20), t)}`;
		return sqlLiteral(v, t);
	});
	return `SELECT participants.${call.fn}(${lits.join(', ')});`;
}

async function connect(opts, database) {
	const client = new Client({ host: opts.host, port: opts.port, user: opts.user, database,
		application_name: 'participants-fuzz', query_timeout: 300000 });
	client.on('error', () => {});                                   // handled where the query fails
	await client.connect();
	return client;
}

async function connectRetry(opts, database, seconds = 120) {
	const until = Date.now() + seconds * 1000;
	let last;
	while (Date.now() < until) {
		try {
			return await connect(opts, database);
		} catch (e) {
			last = e;
			await new Promise((res) => setTimeout(res, 500));
		}
	}
	throw last;
}

async function createDatabase(opts) {
	const admin = await connect(opts, 'postgres');
	try {
		await admin.query(`DROP DATABASE IF EXISTS ${opts.db} WITH (FORCE)`);
		await admin.query(`CREATE DATABASE ${opts.db}`);
	} finally {
		await admin.end();
	}
}

async function dropDatabase(opts) {
	const admin = await connectRetry(opts, 'postgres', 30);
	try {
		await admin.query(`DROP DATABASE IF EXISTS ${opts.db} WITH (FORCE)`);
	} finally {
		await admin.end();
	}
}

// the dataset, built through the API; returns the ids the generator refers to
async function setup(db) {
	await db.query('SET client_min_messages = warning');
	await db.query('CREATE EXTENSION participants CASCADE');
	const one = async (sql, params) => (await db.query(sql, params)).rows[0].v;
	const ctx = {};
	ctx.p = await one(`SELECT participants.create_project('Fuzz main', '{"participantIdentifierPrefix": "FZ-"}') AS v`);
	ctx.p2 = await one(`SELECT participants.create_project('Fuzz other', '{"strictCustomFields": true, "linkIdentifiers": false}') AS v`);
	for (const f of CUSTOM_FIELDS) {
		await db.query('SELECT participants.define_custom_field($1, $2, $3, $4)',
			[ctx.p, f.name, f.type, JSON.stringify(f.sortable ? { sortable: true, description: 'sortable' } : {})]);
	}
	await db.query(`SELECT participants.define_custom_field($1, 'Smoker', 'integer')`, [ctx.p2]);

	const lastNames = ['Smith', 'Jones', 'García', 'Müller', '李', 'O\'Brien', 'Smithson', 'Nguyen', 'Øster', 'Kowalski'];
	const people = [];
	for (let i = 1; i <= 20; i++) {
		const n = String(i).padStart(3, '0');
		const body = {
			demographics: {
				email: `p${n}@example.com`,
				firstName: i % 3 ? 'Ann' : 'José',
				lastName: lastNames[i % lastNames.length],
				city: i % 2 ? 'Nashville' : 'Memphis',
				state: 'TN',
				gender: ['M', 'F', 'O'][i % 3],
			},
			customFields: { Smoker: i % 2, Weight: 50 + i * 1.5, Active: i % 4 === 0, Note: `note ${i}`, Free: i % 5 ? 'y' : 3 },
		};
		if (i !== 20) body.participantIdentifier = `P${n}`;           // P020 gets a generated identifier
		if (i % 2) body.demographics.mobilePhone = `+1 615 555 ${String(100 + i).padStart(4, '0')}`;
		if (i % 3 === 0) body.demographics.dateOfBirth = `19${50 + i}-0${1 + (i % 9)}-15`;
		if (i % 4 === 0) body.customFields.VisitDate = `2020-0${1 + (i % 9)}-01`;
		if (i % 5 === 0) body.customFields.SeenAt = `2021-03-0${1 + (i % 9)}T10:00:00Z`;
		if (i % 6 === 0) body.customFields.Score = i * 10;
		if (i % 7 === 0) body.secondaryIdentifier = `S-${i}`;
		if (i % 4 === 1) body.invitationStatus = INVITATION[i % INVITATION.length];
		const res = await one('SELECT participants.upsert_participant($1, $2) AS v', [ctx.p, JSON.stringify(body)]);
		const r = res.result;
		people.push({ id: r.id, ident: r.participantIdentifier, email: r.demographics.email, phone: r.demographics.mobilePhone || null });
	}
	ctx.people = people;
	ctx.enrolled = people[1].ident;                                   // P002
	ctx.withdrawn = people[2].ident;                                  // P003
	ctx.optedOut = people[3].ident;                                   // P004
	await db.query('SELECT participants.enroll_participant($1, $2)', [ctx.p, ctx.enrolled]);
	await db.query('SELECT participants.enroll_participant($1, $2)', [ctx.p, people[5].ident]);
	await db.query('SELECT participants.withdraw_participant($1, $2)', [ctx.p, ctx.withdrawn]);

	const p2 = await one('SELECT participants.upsert_participant($1, $2) AS v',
		[ctx.p2, JSON.stringify({ participantIdentifier: 'P001', demographics: { email: 'p001@example.com' } })]);
	ctx.p2Person = { id: p2.result.id, ident: 'P001' };

	const seg = async (p, name, desc, filter) =>
		(await one('SELECT participants.create_segment($1, $2, $3, $4) AS v', [p, name, desc, filter && JSON.stringify(filter)])).segmentID;
	ctx.segStatic = await seg(ctx.p, 'Static', 'hand-picked', null);
	ctx.segStatic2 = await seg(ctx.p, 'Static2', null, null);
	ctx.segDynamic = await seg(ctx.p, 'Dynamic', 'smokers in Nashville',
		{ custom_fields: { Smoker: 1 }, demographic_fields: { City: 'Nashville' }, withdrawn: false });
	ctx.segP2 = await seg(ctx.p2, 'Other static', null, null);
	await db.query('SELECT participants.add_segment_members($1, $2, $3)',
		[ctx.p, ctx.segStatic, JSON.stringify(people.slice(0, 12).map((x) => x.ident))]);
	await db.query('SELECT participants.add_segment_members($1, $2, $3)',
		[ctx.p, ctx.segStatic2, JSON.stringify([people[6].ident, people[7].ident])]);

	const codes = [
		{ code: 'DONE', actions: [{ action: 'ADD_TO_SEGMENT', segmentID: ctx.segStatic2 }] },
		{ code: 'C1', actions: [{ action: 'REMOVE_FROM_SEGMENT', segmentID: ctx.segStatic },
			{ action: 'ADD_TO_SEGMENT', segmentID: ctx.segStatic2 }] },
	];
	ctx.study = (await one('SELECT participants.create_study($1, $2, $3::uuid[], $4::uuid[], $5) AS v',
		[ctx.p, 'Main study', [], [], JSON.stringify(codes)])).studyID;
	ctx.study2 = (await one('SELECT participants.create_study($1, $2, $3::uuid[], $4::uuid[], $5) AS v',
		[ctx.p, 'Allowlisted study', [ctx.segStatic], [ctx.segDynamic], '[]'])).studyID;
	ctx.studyP2 = (await one('SELECT participants.create_study($1, $2) AS v', [ctx.p2, 'Other study'])).studyID;

	const idents = people.map((x) => x.ident);
	await db.query('SELECT participants.add_study_participants($1, $2, $3)', [ctx.p, ctx.study, JSON.stringify(idents)]);
	await db.query('SELECT participants.add_study_participants($1, $2, $3)', [ctx.p, ctx.study2, JSON.stringify(idents.slice(0, 8))]);
	const moves = [
		[people[0].ident, ['INVITE_SENT', 'SCREENER_STARTED', 'SCREENER_COMPLETED', 'SCREENER_QUALIFIED']],
		[people[4].ident, ['INVITE_SENT', 'SURVEY_STARTED', 'SURVEY_COMPLETED']],
		[people[7].ident, ['INTERVIEW_INVITE_SENT', 'INTERVIEW_SCHEDULED', 'INTERVIEW_COMPLETED', 'COMPLETED_STUDY']],
		[people[9].ident, ['CANCELLED']],
		[people[10].ident, ['UNMODERATED_TEST_INVITE_SENT', 'UNMODERATED_TEST_STARTED']],
	];
	for (const [ident, statuses] of moves) {
		for (const s of statuses) {
			await db.query('SELECT participants.set_participant_status($1, $2, $3, $4)', [ctx.p, ctx.study, ident, s]);
		}
	}
	await db.query(`SELECT participants.set_participant_status($1, $2, $3, 'SURVEY_STARTED', false, NULL)`, [ctx.p, ctx.study, people[11].ident])
		.catch(() => {});                                             // NOT_STARTED -> SURVEY_STARTED is not in the default graph
	await db.query('SELECT participants.set_opted_out($1, $2, true)', [ctx.p, ctx.optedOut]);
	await db.query('ANALYZE');
	return ctx;
}

// the fingerprint of the data: one md5 per table of the schema, and one of the names of its indexes
async function fingerprintSql(db) {
	const { rows } = await db.query(`
		SELECT c.relname FROM pg_class c
		 WHERE c.relnamespace = 'participants'::regnamespace AND c.relkind IN ('r', 'p')
		 ORDER BY c.relname`);
	// project_counter's counters are drawn like a sequence's values (a rolled-back
	// call may have drawn numbers, as nextval would): only its other columns count
	const cols = (relname) => relname === 'project_counter' ? '(t.project_id, t.event_channel)' : 't';
	const parts = rows.map(({ relname }) =>
		`'${relname}', (SELECT coalesce(md5(string_agg(${cols(relname)}::text, ',' ORDER BY ${cols(relname)}::text)), '-') FROM participants.${relname} t)`);
	parts.push(`'(indexes)', (SELECT md5(string_agg(relname, ',' ORDER BY relname)) FROM pg_class WHERE relnamespace = 'participants'::regnamespace AND relkind = 'i')`);
	return `SELECT json_build_object(${parts.join(', ')})::text AS fp`;
}

// ---------------------------------------------------------------------------------------
// The run

async function main() {
	const opts = parseArgs(process.argv.slice(2));
	const t0 = Date.now();
	const out = (s) => process.stdout.write(s + '\n');

	let logStart = null;
	if (opts.log) {
		try { logStart = fs.statSync(opts.log).size; } catch (e) { usage(`cannot read --log ${opts.log}: ${e.message}`); }
	}

	out(`# fuzz: seed ${opts.seed}, ${opts.replay !== null ? `replay of call ${opts.replay}` : `${opts.count} calls`}, database ${opts.db} on ${opts.host}:${opts.port}`);
	await createDatabase(opts);
	let db = await connect(opts, opts.db);
	let ctx;
	try {
		ctx = await setup(db);
	} catch (e) {
		process.stderr.write(`fuzz.js: setting up the dataset failed: ${e.message}\n${e.detail || ''}\n${e.where || ''}\n`);
		await db.end().catch(() => {});
		if (!opts.keep) await dropDatabase(opts).catch(() => {});
		process.exit(2);
	}
	const fpSql = await fingerprintSql(db);
	const pids = new Set();
	const session = async (client) => {
		await client.query("SET statement_timeout = '120s'");
		await client.query('SET client_min_messages = warning');
		pids.add((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
	};
	await session(db);
	const baseline = JSON.parse((await db.query(fpSql)).rows[0].fp);
	// Every call runs in its own transaction, always rolled back. To save a round trip per
	// call, the next transaction is opened with the rollback of the previous one
	// ("ROLLBACK; BEGIN" in one simple query); the jsonb input check and the fingerprint
	// run at the start of that next transaction, before the call.
	await db.query('BEGIN');

	const rng = makeRng(String(opts.seed));
	const gen = new Gen(rng, ctx);
	gen.noPrelude = opts.noPrelude;

	const stats = {
		calls: Object.fromEntries(FUNCTIONS.map((f) => [f, 0])),
		success: 0,
		jsonbRejected: {},
		rejected: {},                 // SQLSTATE -> count
		rejectedByFn: {},             // fn -> {SQLSTATE: count}
		crashes: 0,
		badSqlstate: 0,
		fingerprintMismatch: 0,
		fingerprintChecks: 0,
		ms: {},                       // fn -> milliseconds in the call and its ROLLBACK
		preludes: 0,                  // calls run after other calls in the same transaction
		preludeFailed: 0,             // ... whose earlier calls did not succeed (the call was not run)
		preludeFailedBy: {},          // SQLSTATE -> count, for those
	};
	const findings = [];
	const findingsFile = opts.replay === null ? opts.findings : null;
	if (findingsFile) fs.writeFileSync(findingsFile, '');
	const record = (f) => {
		f.seed = opts.seed;
		findings.push(f);
		if (findingsFile) fs.appendFileSync(findingsFile, JSON.stringify(f) + '\n');
		if (opts.verbose || opts.replay !== null) out(`# finding: ${JSON.stringify(f)}`);
	};
	const describe = (index, call) => ({
		call: index,
		function: call.fn,
		prelude: call.prelude ? call.prelude.map((c) => ({ function: c.fn, args: c.args.map((v) => (typeof v === 'string' ? trunc(v) : v)) })) : undefined,
		args: call.args.map((v) => (typeof v === 'string' ? trunc(v) : Array.isArray(v) ? trunc(JSON.stringify(v)) : v)),
		argLengths: call.args.map((v) => (typeof v === 'string' ? v.length : null)),
		repro: reproSql(call),
		replay: `node test/fuzz/fuzz.js --host ${opts.host} --port ${opts.port} --seed ${opts.seed}${opts.selftest ? " --selftest" : ""} --replay ${index}`,
	});

	const reconnect = async () => {
		await db.end().catch(() => {});
		db = await connectRetry(opts, opts.db);
		await session(db);
		await db.query('BEGIN');
	};

	let lastCheck = -1;
	const checkFingerprint = async (index, why) => {
		stats.fingerprintChecks++;
		const fp = JSON.parse((await db.query({ name: 'fp', text: fpSql })).rows[0].fp);
		const changed = Object.keys({ ...baseline, ...fp }).filter((k) => baseline[k] !== fp[k]);
		if (changed.length) {
			stats.fingerprintMismatch++;
			record({ kind: 'tables-changed', after: why, calls: [lastCheck + 1, index], tables: changed });
			Object.assign(baseline, fp);                               // report each change once
		}
		lastCheck = index;
	};

	// run one function call of a transaction; returns 'ok', 'input' (rejected by jsonb input:
	// the transaction was restarted), 'rejected' (by the function: the transaction is aborted)
	// or 'crash' (reconnected, in a new transaction)
	const step = async (i, call, c, replaying) => {
		const isPrelude = c !== call;
		const count = (what, code) => {
			if (isPrelude) stats.preludeFailedBy[code] = (stats.preludeFailedBy[code] || 0) + 1;
			else if (what === 'input') stats.jsonbRejected[code] = (stats.jsonbRejected[code] || 0) + 1;
			else {
				stats.rejected[code] = (stats.rejected[code] || 0) + 1;
				const byFn = stats.rejectedByFn[c.fn] || (stats.rejectedByFn[c.fn] = {});
				byFn[code] = (byFn[code] || 0) + 1;
			}
		};
		const jsonArgs = c.json.map((k) => c.args[k]).filter((v) => v !== null);
		if (jsonArgs.length) {
			try {
				await db.query({ name: `chk${jsonArgs.length}`, text: 'SELECT ' + jsonArgs.map((_, k) => `$${k + 1}::jsonb IS NULL`).join(', '), values: jsonArgs });
			} catch (e) {
				if (isConnectionError(e)) {
					stats.crashes++;
					record({ kind: 'crash', during: 'jsonb input', message: e.message, sqlstate: e.code || null, ...describe(i, call) });
					await reconnect();
					return 'crash';
				}
				count('input', e.code);
				if (!JSONB_INPUT_SQLSTATES.has(e.code)) {
					stats.badSqlstate++;
					record({ kind: 'jsonb-input-sqlstate', sqlstate: e.code, message: e.message, ...describe(i, call) });
				}
				if (replaying) out(`# ${c.fn}: rejected by jsonb input: ${e.code} ${e.message}${e.detail ? ' / ' + e.detail : ''}`);
				return (await restart(i, call)) ? 'input' : 'crash';
			}
		}
		try {
			const res = await db.query({ name: c.fn, text: callSql(c.fn), values: c.args });
			if (replaying) out(`# ${c.fn}: success, a result of ${res.rows[0].length} characters`);
			return 'ok';
		} catch (e) {
			if (isConnectionError(e)) {
				stats.crashes++;
				record({ kind: 'crash', message: e.message, sqlstate: e.code || null, ...describe(i, call), ...(isPrelude ? { function: c.fn, inPreludeOf: call.fn } : {}) });
				await reconnect();
				return 'crash';
			}
			count('rejected', e.code);
			if (e.code === '57014') {
				stats.badSqlstate++;
				record({ kind: 'timeout', sqlstate: e.code, message: e.message, ...describe(i, call), ...(isPrelude ? { function: c.fn, inPreludeOf: call.fn } : {}) });
			} else if (!DOCUMENTED_SQLSTATES.has(e.code)) {
				stats.badSqlstate++;
				record({ kind: 'sqlstate', sqlstate: e.code, message: e.message, detail: e.detail || null,
					hint: e.hint || null, where: trunc(e.where, 300) || null, ...describe(i, call), ...(isPrelude ? { function: c.fn, inPreludeOf: call.fn } : {}) });
			}
			if (opts.verbose && !replaying) out(`# ${i} ${c.fn} ${e.code} ${trunc(e.message, 200)}`);
			if (replaying) {
				out(`# ${c.fn}: rejected: ${e.code} ${e.message}`);
				if (e.detail) out(`#   DETAIL: ${trunc(e.detail, 2000)}`);
				if (e.hint) out(`#   HINT: ${e.hint}`);
				if (e.where) out(`#   CONTEXT: ${trunc(e.where, 2000)}`);
			}
			return e.code;
		}
	};

	// end the transaction (always a rollback) and open the next one; false after a crash
	const restart = async (i, call) => {
		try {
			await db.query('ROLLBACK; BEGIN');
			return true;
		} catch (e) {
			stats.crashes++;
			record({ kind: 'crash', during: 'rollback', message: e.message, sqlstate: e.code || null, ...describe(i, call) });
			await reconnect();
			return false;
		}
	};

	const total = opts.replay !== null ? opts.replay + 1 : opts.count;
	const tick = Math.max(1, Math.floor(total / 10));
	let started = Date.now();

	for (let i = 0; i < total; i++) {
		let call = gen.call();
		if (opts.replay !== null && i < opts.replay) continue;
		if (opts.selftest && i >= 5 && i <= 7) {
			call = [{ fn: 'selftest_crash', args: [], json: [] }, { fn: 'selftest_sqlstate', args: ['abcd'], json: [] },
				{ fn: 'selftest_write', args: [ctx.p, 'NOPE-selftest'], json: [] }][i - 5];
			if (i === 7) {
				const other = await connect(opts, opts.db);
				await other.query('SELECT participants.create_segment($1, $2)', [ctx.p, 'selftest']);
				await other.end();
			}
		}
		const replaying = opts.replay !== null;
		stats.calls[call.fn] = (stats.calls[call.fn] || 0) + 1;
		if (replaying) {
			out(`# call ${i}: ${call.fn}${call.prelude ? `, after ${call.prelude.map((c) => c.fn).join(', ')} in the same transaction` : ''}`);
			for (const c of (call.prelude || []).concat([call])) {
				out(`# ${c.fn}(`);
				c.args.forEach((v, k) => out(`#   $${k + 1} ${(SIGNATURES[c.fn] || [])[k] || '?'} (${typeof v === 'string' ? v.length + ' chars' : Array.isArray(v) ? v.length + ' elements' : String(v)}): ${trunc(typeof v === 'string' ? v : JSON.stringify(v), 2000)}`));
			}
			out(`# psql: ${reproSql(call, 4000)}`);
		}

		const tCall = process.hrtime.bigint();
		let outcome = 'ok';
		// 1. the calls of a prelude (same transaction), stopping at the first that does not succeed
		if (call.prelude) {
			stats.preludes++;
			for (const c of call.prelude) {
				outcome = await step(i, call, c, replaying);
				if (outcome !== 'ok') break;
			}
			if (outcome !== 'ok') stats.preludeFailed++;
		}
		// 2. the call: its JSON arguments through jsonb input alone, then the function
		if (outcome === 'ok') {
			outcome = await step(i, call, call, replaying);
			if (outcome === 'ok') stats.success++;
		}
		const rejected = outcome !== 'ok' && outcome !== 'input';
		// the transaction always ends in a rollback
		if (outcome !== 'input' && outcome !== 'crash') await restart(i, call);
		stats.ms[call.fn] = (stats.ms[call.fn] || 0) + Number(process.hrtime.bigint() - tCall) / 1e6;

		// 3. the data did not change
		if ((rejected && i < 2000) || i % 100 === 99 || replaying) {
			try {
				await checkFingerprint(i, rejected ? `rejected ${call.fn}` : 'periodic');
			} catch (e) {
				stats.crashes++;
				record({ kind: 'crash', during: 'fingerprint', message: e.message, sqlstate: e.code || null, ...describe(i, call) });
				await reconnect();
			}
		}

		if (!replaying && (i + 1) % tick === 0) {
			const el = (Date.now() - started) / 1000;
			out(`# ${Math.round(((i + 1) / total) * 100)}% ${i + 1}/${total} calls, ${Math.round((i + 1) / el)} calls/s, ` +
				`${stats.success} succeeded, ${findings.length} findings`);
		}
	}
	if (opts.replay === null) await checkFingerprint(total - 1, 'end');
	await db.query('ROLLBACK').catch(() => {});
	const elapsed = (Date.now() - t0) / 1000;
	const callSeconds = (Date.now() - started) / 1000;
	await db.end().catch(() => {});

	// 4. the server log written during the run
	const logHits = [];
	if (opts.log) {
		await new Promise((res) => setTimeout(res, 300));            // the postmaster writes after the backend dies
		let text = '';
		try {
			const size = fs.statSync(opts.log).size;
			const from = size >= logStart ? logStart : 0;
			const fd = fs.openSync(opts.log, 'r');
			const buf = Buffer.alloc(size - from);
			fs.readSync(fd, buf, 0, buf.length, from);
			fs.closeSync(fd);
			text = buf.toString('utf8');
		} catch (e) {
			out(`# could not read the server log: ${e.message}`);
		}
		const lines = text.split('\n');
		lines.forEach((line, k) => {
			if (/terminated by signal|was terminated/.test(line)) {
				const m = /PID (\d+)/.exec(line);
				const ours = m ? pids.has(Number(m[1])) : null;
				const next = lines.slice(k + 1, k + 3).filter((l) => /Failed process was running/.test(l)).map((l) => trunc(l, 500));
				logHits.push({ line: trunc(line, 500), ours, failedStatement: next[0] || null });
			}
		});
		for (const h of logHits) {
			stats.crashes++;
			record({ kind: 'server-log', line: h.line, backendOfThisRun: h.ours, failedStatement: h.failedStatement });
		}
	}

	if (!opts.keep) await dropDatabase(opts).catch((e) => out(`# could not drop ${opts.db}: ${e.message}`));

	// ---- summary ----
	const callsDone = Object.values(stats.calls).reduce((a, b) => a + b, 0);
	const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
	out('#');
	out(`# summary (seed ${opts.seed})`);
	out('# calls per function:');
	for (const f of Object.keys(stats.calls)) {
		const byFn = stats.rejectedByFn[f] || {};
		const detail = Object.keys(byFn).sort().map((k) => `${k}:${byFn[k]}`).join(' ');
		out(`#   ${f.padEnd(24)} ${String(stats.calls[f]).padStart(7)}${opts.verbose ? ` ${((stats.ms[f] || 0) / 1000).toFixed(1).padStart(6)} s` : ''}${detail ? '   rejected ' + detail : ''}`);
	}
	out(`# succeeded:                ${stats.success}`);
	out(`# with a prelude:           ${stats.preludes} calls ran after other calls in their transaction (${stats.preludeFailed} not run: the prelude failed${stats.preludeFailed ? ': ' + Object.keys(stats.preludeFailedBy).sort().map((k) => `${k}: ${stats.preludeFailedBy[k]}`).join(', ') : ''})`);
	out(`# rejected by jsonb input:  ${sum(stats.jsonbRejected)}  (${Object.keys(stats.jsonbRejected).sort().map((k) => `${k}: ${stats.jsonbRejected[k]}`).join(', ') || '-'})`);
	out(`# rejected by the function: ${sum(stats.rejected)}  (${Object.keys(stats.rejected).sort().map((k) => `${k}: ${stats.rejected[k]}`).join(', ') || '-'})`);
	out(`# fingerprint checks:       ${stats.fingerprintChecks}`);
	if (opts.log) out(`# server log:               ${logHits.length} crash lines since the start of the run`);
	out(`# findings:                 ${findings.length}${findingsFile ? ` (written to ${findingsFile})` : ''}`);
	// the findings, grouped by kind, function, SQLSTATE and message; the shortest input of each
	// group is shown (all of them are in the findings file)
	const show = (t) => String(t).replace(/[\u0000-\u001f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
	const groups = new Map();
	for (const f of findings) {
		const key = [f.kind, f.function, f.inPreludeOf ? 'prelude' : f.prelude ? 'after' : '', f.sqlstate, f.message || f.line || (f.tables || []).join()].join('|');
		const g = groups.get(key);
		if (!g) groups.set(key, { f, n: 1 });
		else {
			g.n++;
			if (f.repro && g.f.repro && f.repro.length < g.f.repro.length) g.f = f;
		}
	}
	let shown = 0;
	for (const { f, n } of groups.values()) {
		if (shown >= 50) {
			out(`#  ... ${groups.size - shown} more groups in the findings file`);
			break;
		}
		shown++;
		out(`#  [${shown}] ${n} × ${f.kind}${f.function ? ' in ' + f.function : ''}${f.inPreludeOf ? ` (before ${f.inPreludeOf}, same transaction)` : f.prelude ? ' (after other calls, same transaction)' : ''}` +
			`${f.sqlstate ? ' ' + f.sqlstate : ''}: ${show(trunc(f.message || f.line || (f.tables || []).join(', '), 300))}`);
		if (f.where) out(`#      context: ${show(trunc(f.where, 200))}`);
		if (f.repro) out(`#      ${show(trunc(f.repro, 700))}`);
		if (f.replay) out(`#      replay: ${f.replay}`);
	}
	out(`# elapsed: ${elapsed.toFixed(1)} s (calls ${callSeconds.toFixed(1)} s, ${Math.round(callsDone / Math.max(callSeconds, 0.001))} calls/s)`);

	// ---- TAP ----
	out('1..3');
	out(`${stats.crashes ? 'not ok' : 'ok'} - fuzz: ${callsDone} calls, no backend crash${stats.crashes ? ` (${stats.crashes} crash findings)` : ''}`);
	out(`${stats.badSqlstate ? 'not ok' : 'ok'} - fuzz: every rejection has a documented SQLSTATE${stats.badSqlstate ? ` (${stats.badSqlstate} did not)` : ''}`);
	out(`${stats.fingerprintMismatch ? 'not ok' : 'ok'} - fuzz: tables unchanged after rejected calls${stats.fingerprintMismatch ? ` (${stats.fingerprintMismatch} changes)` : ''}`);
	process.exitCode = findings.length ? 1 : 0;
}

if (require.main !== module) {
	module.exports = { makeRng, Gen, ser, SIGNATURES };
} else main().catch((e) => {
	process.stderr.write(`fuzz.js: ${e.stack || e.message}\n`);
	process.exit(2);
});
