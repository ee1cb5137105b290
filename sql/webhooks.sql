-- webhooks: the functions' checks and objects, the same rules for raw SQL
-- (the webhook_guard trigger), secrets no role but the owner reads.
-- Delivery itself is tested against a receiver by test/webhooks.sh.
-- The URLs here are on TEST-NET-1 (192.0.2.0/24), which delivery refuses.
INSERT INTO t SELECT 'hooks', participants.create_project('Webhook study');
SELECT participants.upsert_participants(pid('hooks'), '[{"participantIdentifier": "H-1"}, {"participantIdentifier": "H-2"}]') ->> 'totalAdded' AS added;
-- three events before the first webhook
SELECT participants.set_opted_out(pid('hooks'), 'H-1', true) IS NOT NULL AS e1;
SELECT participants.set_opted_out(pid('hooks'), 'H-1', false) IS NOT NULL AS e2;
SELECT participants.set_opted_out(pid('hooks'), 'H-2', true) IS NOT NULL AS e3;

-- create: the object, with the secret this once; delivery starts after the
-- project's last event
CREATE TABLE hook AS SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.10/hooks/a', ARRAY['person.opted_out'], 'CRM') AS w;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(w) k) AS keys,
       w ->> 'secret' ~ '^whsec_[A-Za-z0-9+/]{32}$' AS secret_format,
       length(decode(substr(w ->> 'secret', 7), 'base64')) AS secret_bytes,
       w -> 'eventTypes' AS event_types, w ->> 'description' AS description,
       w -> 'active' AS active, w -> 'failing' AS failing, w -> 'lastDeliveredEventID' AS starts_after
FROM hook;
INSERT INTO t SELECT 'hook_a', (w ->> 'webhookID')::uuid FROM hook;
-- the secret is stored, and nowhere in what the other functions return
SELECT s.secret = (SELECT w ->> 'secret' FROM hook) AS stored
FROM participants.webhook_secret s WHERE s.webhook_id = pid('hook_a');
SELECT participants.list_webhooks(pid('hooks'))::text LIKE '%whsec_%' AS listed_secret,
       jsonb_array_length(participants.list_webhooks(pid('hooks'))) AS webhooks;
-- null and empty event types: every type (stored as null)
SELECT participants.create_webhook(pid('hooks'), 'http://192.0.2.11:8080/b?x=1') -> 'eventTypes' AS null_types;
SELECT participants.create_webhook(pid('hooks'), 'http://192.0.2.12/c', '{}') -> 'eventTypes' AS empty_types;

-- bad input: 22023 naming the argument, nothing written
SELECT count(*) AS before FROM participants.webhook \gset
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'ftp://192.0.2.10/x')$$) AS ftp;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), '/relative/path')$$) AS relative;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'example.org/hook')$$) AS no_scheme;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://exa mple.org/')$$) AS space;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://')$$) AS no_host;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.10/' || repeat('x', 2100))$$) AS too_long;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), NULL)$$) AS null_url;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.10/', ARRAY['person.opted_out', 'person.deleted'])$$) AS unknown_type;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.10/', ARRAY[NULL]::text[])$$) AS null_type;
SELECT err($$SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.10/', NULL, repeat('d', 1001))$$) AS long_description;
SELECT serr($$SELECT participants.create_webhook('00000000-0000-0000-0000-000000000001', 'https://192.0.2.10/')$$) AS no_project;
SELECT count(*) = :before AS nothing_written FROM participants.webhook;
-- every known type is accepted
SELECT participants.create_webhook(pid('hooks'), 'https://192.0.2.13/all',
	ARRAY['participant.status_changed', 'person.opted_out', 'consent.changed', 'person_import.api.finished', 'person.erased']) -> 'eventTypes' AS all_types;

-- update: only what is given; bad input refused
SELECT w - 'createdDate' - 'webhookID' AS updated
FROM (SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), url => 'https://192.0.2.20/new', description => 'Scheduler') AS w) x;
SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), event_types => '{}') -> 'eventTypes' AS every_type_again;
SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), event_types => ARRAY['participant.status_changed']) -> 'eventTypes' AS status_only;
SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), active => false) -> 'active' AS paused;
SELECT err($$SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), url => 'gopher://x')$$) AS bad_url;
SELECT err($$SELECT participants.update_webhook(pid('hooks'), pid('hook_a'), event_types => ARRAY['nope'])$$) AS bad_type;
SELECT serr($$SELECT participants.update_webhook(pid('hooks'), '00000000-0000-0000-0000-000000000002', active => true)$$) AS no_webhook;
SELECT serr($$SELECT participants.update_webhook(pid('main'), pid('hook_a'), active => true)$$) AS other_project;
SELECT url, event_types, active FROM participants.webhook WHERE id = pid('hook_a');

-- rotate: a new secret, shown once, stored
CREATE TABLE rotated AS SELECT participants.rotate_webhook_secret(pid('hooks'), pid('hook_a')) AS w;
SELECT w ->> 'secret' <> (SELECT w ->> 'secret' FROM hook) AS new_secret,
       w ->> 'secret' = (SELECT secret FROM participants.webhook_secret WHERE webhook_id = pid('hook_a')) AS stored
FROM rotated;
SELECT serr($$SELECT participants.rotate_webhook_secret(pid('hooks'), '00000000-0000-0000-0000-000000000002')$$) AS no_webhook;

-- deliveries: an empty page, paging checked
SELECT participants.webhook_deliveries(pid('hooks'), pid('hook_a')) AS deliveries;
SELECT err($$SELECT participants.webhook_deliveries(pid('hooks'), pid('hook_a'), page_size => 0)$$) AS page_size;
SELECT err($$SELECT participants.webhook_deliveries(pid('hooks'), pid('hook_a'), page_number => -1)$$) AS page_number;
SELECT serr($$SELECT participants.webhook_deliveries(pid('hooks'), '00000000-0000-0000-0000-000000000002')$$) AS no_webhook;

-- replay (the webhook is paused: nothing is sent): from any kept event, not beyond the last
SELECT participants.replay_webhook(pid('hooks'), pid('hook_a'), 1) -> 'lastDeliveredEventID' AS replay_from;
SELECT err($$SELECT participants.replay_webhook(pid('hooks'), pid('hook_a'), -1)$$) AS negative;
SELECT err($$SELECT participants.replay_webhook(pid('hooks'), pid('hook_a'), 4)$$) AS beyond_last;
SELECT err($$SELECT participants.replay_webhook(pid('hooks'), pid('hook_a'), NULL)$$) AS null_id;

-- raw SQL: the same rules, a secret made by the database, the start after the last event
SELECT err($$INSERT INTO participants.webhook (project_id, url) VALUES (pid('hooks'), 'ftp://192.0.2.10/')$$) AS raw_bad_url;
SELECT err($$INSERT INTO participants.webhook (project_id, url, event_types) VALUES (pid('hooks'), 'https://192.0.2.10/', '{person.moved}')$$) AS raw_bad_type;
INSERT INTO participants.webhook (project_id, url, event_types, active) VALUES (pid('hooks'), 'https://192.0.2.30/raw', '{}', false)
RETURNING event_types, last_delivered_event_id AS starts_after, failing;
SELECT s.secret ~ '^whsec_' AS raw_secret_made FROM participants.webhook w
JOIN participants.webhook_secret s ON s.project_id = w.project_id AND s.webhook_id = w.id WHERE w.url = 'https://192.0.2.30/raw';
SELECT err($$UPDATE participants.webhook SET url = 'not a url' WHERE url = 'https://192.0.2.30/raw'$$) AS raw_update_url;
SELECT err($$UPDATE participants.webhook SET event_types = '{person.erased, x}' WHERE url = 'https://192.0.2.30/raw'$$) AS raw_update_type;
UPDATE participants.webhook SET description = 'raw' WHERE url = 'https://192.0.2.30/raw' RETURNING url, description;

-- the secret table: no role but the owner, whatever it is granted
CREATE ROLE regress_hooks_reader LOGIN;
CREATE ROLE regress_hooks_raw LOGIN;
SELECT participants.grant_access('regress_hooks_reader', 'reader') -> 'tables' ? 'webhook_secret' AS reader_granted_secret;
SELECT participants.grant_access('regress_hooks_raw', 'raw') -> 'tables' ? 'webhook_secret' AS raw_granted_secret;
SET ROLE regress_hooks_reader;
SELECT count(*) AS reader_sees_webhooks FROM participants.webhook;
SELECT err('SELECT * FROM participants.webhook_secret') AS reader_secret;
SELECT err($$SELECT participants.rotate_webhook_secret(pid('hooks'), pid('hook_a'))$$) AS reader_rotate;
RESET ROLE;
SET ROLE regress_hooks_raw;
SELECT err('SELECT * FROM participants.webhook_secret') AS raw_secret;
SELECT err($$INSERT INTO participants.webhook_delivery VALUES (pid('hooks'), pid('hook_a'), 1, 1, 'person.opted_out', 1, now(), 200, NULL, 1)$$) AS raw_fake_delivery;
RESET ROLE;
DROP OWNED BY regress_hooks_reader, regress_hooks_raw;
DROP ROLE regress_hooks_reader, regress_hooks_raw;

-- delete: the object as it was; its secret and records go with it
SELECT w ->> 'url' AS deleted_url, w ? 'secret' AS shows_secret
FROM (SELECT participants.delete_webhook(pid('hooks'), pid('hook_a')) AS w) x;
SELECT count(*) AS secret_left FROM participants.webhook_secret WHERE webhook_id = pid('hook_a');
SELECT serr($$SELECT participants.delete_webhook(pid('hooks'), pid('hook_a'))$$) AS deleted_twice;

-- the superuser setting of hosts delivery may reach: host names, addresses and CIDR ranges
SET participants.webhook_allowed_hosts = 'scheduler.internal.example.org, 10.20.0.0/16, 127.0.0.1, ::1, fd00::/8';
SHOW participants.webhook_allowed_hosts;
SELECT err($$SET participants.webhook_allowed_hosts = 'hooks.example.org, 10.0.0.0/33'$$) AS bad_prefix;
SELECT err($$SET participants.webhook_allowed_hosts = 'http://hooks.example.org/'$$) AS a_url;
RESET participants.webhook_allowed_hosts;
CREATE ROLE regress_hooks_user LOGIN;
SET ROLE regress_hooks_user;
SELECT err($$SET participants.webhook_allowed_hosts = '10.0.0.0/8'$$) AS not_superuser;
RESET ROLE;
DROP ROLE regress_hooks_user;
