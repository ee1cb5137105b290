#!/usr/bin/env node
// test/http/token.js: mint an HS256 JWT for PostgREST with the secret of
// test/http/postgrest.conf (local development and tests only).
//
//   node test/http/token.js ROLE [PROJECT_ID ...]
//
// ROLE is participants_web, participants_web_reader or participants_admin;
// the project ids go into the project_ids claim. The token expires in a day.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function secret() {
	const conf = fs.readFileSync(path.join(__dirname, 'postgrest.conf'), 'utf8');
	const m = conf.match(/^jwt-secret\s*=\s*"([^"]+)"/m);
	if (!m) throw new Error('no jwt-secret in postgrest.conf');
	return m[1];
}

function b64url(data) {
	return Buffer.from(data).toString('base64url');
}

// sign(claims[, key]): the compact JWS of claims
function sign(claims, key = secret()) {
	const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
	const body = b64url(JSON.stringify(claims));
	const mac = crypto.createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
	return `${head}.${body}.${mac}`;
}

// token(role, projectIds): a day-long token for role confined to projectIds
function token(role, projectIds = [], extra = {}) {
	const now = Math.floor(Date.now() / 1000);
	return sign({ role, project_ids: projectIds, iat: now, exp: now + 86400, ...extra });
}

module.exports = { sign, token, secret };

if (require.main === module) {
	const [role, ...projects] = process.argv.slice(2);
	if (!role) {
		console.error('usage: node test/http/token.js ROLE [PROJECT_ID ...]');
		process.exit(2);
	}
	console.log(token(role, projects));
}
