/*
 * webhook/webhooks.c
 *		Webhooks as a project's callers see them: create_webhook,
 *		update_webhook, delete_webhook, list_webhooks, rotate_webhook_secret,
 *		webhook_deliveries and replay_webhook, and the webhook_guard trigger
 *		that holds every write of the webhook table to the same rules (a
 *		valid URL, known event types, a secret made by the database).
 *
 *		The secret lives in webhook_secret, which no role but the owner of
 *		the extension's tables can read: the API functions work as that
 *		owner and show it only when they make one (create_webhook,
 *		rotate_webhook_secret).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "access/access.h"
#include "project/project.h"
#include "webhook/webhook.h"

#define WEBHOOK_JSON \
	"pg_catalog.jsonb_build_object('webhookID', w.id, 'url', w.url, " \
	"'eventTypes', pg_catalog.to_jsonb(w.event_types), 'description', w.description, " \
	"'active', w.active, 'failing', w.failing, " \
	"'lastDeliveredEventID', w.last_delivered_event_id, 'createdDate', w.created_date)"

#define MAX_DESCRIPTION_LEN 1000

static void
WebhookNotFound(pg_uuid_t *webhook_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("webhook %s not found", PtUuidText(webhook_id))));
}

/* The webhook object, with the secret when with_secret; NULL if there is none */
static Jsonb *
WebhookObject(pg_uuid_t *project_id, pg_uuid_t *webhook_id, bool with_secret, bool read_only)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	if (with_secret)
		return PtJsonbStatement(&plans[1], "SELECT " WEBHOOK_JSON
								" || pg_catalog.jsonb_build_object('secret', s.secret) "
								"FROM participants.webhook w JOIN participants.webhook_secret s "
								"ON s.project_id = w.project_id AND s.webhook_id = w.id "
								"WHERE w.project_id = $1 AND w.id = $2", 2, types, args, NULL, read_only);
	return PtJsonbStatement(&plans[0], "SELECT " WEBHOOK_JSON " FROM participants.webhook w "
							"WHERE w.project_id = $1 AND w.id = $2", 2, types, args, NULL, read_only);
}

/* PT404 unless the webhook is in the project; with lock, its row locked FOR UPDATE */
static void
CheckWebhook(pg_uuid_t *project_id, pg_uuid_t *webhook_id, bool lock)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	static const char *const sql[2] = {
		"SELECT 1 FROM participants.webhook WHERE project_id = $1 AND id = $2",
		"SELECT 1 FROM participants.webhook WHERE project_id = $1 AND id = $2 FOR UPDATE",
	};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	if (!PtRowExists(&plans[lock], sql[lock], 2, types, args, NULL, !lock))
		WebhookNotFound(webhook_id);
}

/*
 * Check an event_types array: known types, no null; 22023 naming the
 * element otherwise. An empty array means every type, as null does: returns
 * false for both.
 */
static bool
CheckEventTypes(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"event_types\": a one-dimensional array is expected")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		char	   *t;
		int			k;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"event_types[%d]\": null", i),
					 errhint("Name event types, or pass null for every type.")));
		t = TextDatumGetCString(elems[i]);
		for (k = 0; k < PT_WEBHOOK_EVENT_TYPES; k++)
			if (strcmp(t, pt_webhook_event_types[k]) == 0)
				break;
		if (k == PT_WEBHOOK_EVENT_TYPES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"event_types[%d]\": unknown event type \"%s\"", i, t),
					 errhint("Event types are participant.status_changed, person.opted_out, consent.changed, person_import.api.finished and person.erased.")));
	}
	return n > 0;
}

static void
CheckDescription(text *d)
{
	if (d != NULL && VARSIZE_ANY_EXHDR(d) > MAX_DESCRIPTION_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"description\": longer than %d bytes", MAX_DESCRIPTION_LEN)));
}

/* Warn that nothing is delivered unless the library is preloaded */
static void
WarnIfNotPreloaded(void)
{
	if (!pt_webhooks_preloaded)
		ereport(WARNING,
				(errmsg("webhooks are not delivered: the participants library is not in shared_preload_libraries"),
				 errdetail("The webhook is saved; its events wait for the delivery worker."),
				 errhint("Add participants to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'participants') and restart the server.")));
}

/* ------------------------------------------------------------------------
 * The trigger
 * ------------------------------------------------------------------------
 */

static int
Attnum(TupleDesc desc, const char *name)
{
	int			att = SPI_fnumber(desc, name);

	if (att <= 0)
		elog(ERROR, "participants.webhook has no column \"%s\"", name);
	return att;
}

/* The text column att of old holds v */
static bool
SameText(HeapTuple old, int att, TupleDesc desc, Datum v)
{
	bool		isnull;
	Datum		o = heap_getattr(old, att, desc, &isnull);

	return !isnull && strcmp(TextDatumGetCString(o), TextDatumGetCString(v)) == 0;
}

/* Make the secret of a webhook inserted by any path (as the owner) */
static void
MakeSecret(Datum project_id, Datum webhook_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];
	Oid			save_userid;
	int			save_sec;

	args[0] = project_id;
	args[1] = webhook_id;
	args[2] = CStringGetTextDatum(PtNewWebhookSecret());
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	PtPreparePlan(&plan, "INSERT INTO participants.webhook_secret (project_id, webhook_id, secret) "
				  "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, types);
	(void) PtExecutePlan(plan, args, NULL, false, 0);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/* The project's last event id: where a new webhook starts */
static Datum
LastEventId(Datum project_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {UUIDOID};
	Datum		v = Int64GetDatum(0);
	bool		isnull;
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (!PtRunValue(&plan, "SELECT last_event_id FROM participants.project_counter WHERE project_id = $1",
					1, types, &project_id, NULL, true, &v, &isnull) || isnull)
		v = Int64GetDatum(0);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	return v;
}

/*
 * BEFORE INSERT OR UPDATE row trigger on webhook: the URL and the event
 * types are valid (checked when they are written), a new webhook starts
 * after the project's last event; AFTER INSERT: it gets its secret. Any
 * committed change wakes the delivery worker. A restore loads rows as they
 * are (their secrets come with them).
 */
PT_TRIGGER_FUNCTION(participants_webhook_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	row;
	Datum		v;
	bool		isnull;
	int			att_url,
				att_types,
				att_cursor;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(td->tg_event))
		elog(ERROR, "webhook_guard: must fire for each row, on INSERT or UPDATE");
	desc = RelationGetDescr(td->tg_relation);
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (PtInRestore())
		return PointerGetDatum(row);
	PtWebhookMark(true);
	if (TRIGGER_FIRED_AFTER(td->tg_event))
	{
		MakeSecret(heap_getattr(row, Attnum(desc, "project_id"), desc, &isnull),
				   heap_getattr(row, Attnum(desc, "id"), desc, &isnull));
		return PointerGetDatum(NULL);
	}

	att_url = Attnum(desc, "url");
	att_types = Attnum(desc, "event_types");
	att_cursor = Attnum(desc, "last_delivered_event_id");
	v = heap_getattr(row, att_url, desc, &isnull);
	if (!isnull && (TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
					!SameText(td->tg_trigtuple, att_url, desc, v)))
		PtCheckWebhookUrl(TextDatumGetCString(v), "url");
	v = heap_getattr(row, att_types, desc, &isnull);
	if (!isnull && !CheckEventTypes(DatumGetArrayTypeP(v)))
	{
		/* an empty list means every type, stored as null */
		int			cols[1] = {att_types};
		Datum		values[1] = {(Datum) 0};
		bool		nulls[1] = {true};

		row = heap_modify_tuple_by_cols(row, desc, 1, cols, values, nulls);
	}
	(void) heap_getattr(row, att_cursor, desc, &isnull);
	if (isnull)
	{
		int			cols[1] = {att_cursor};
		Datum		values[1];
		bool		nulls[1] = {false};
		Datum		project = heap_getattr(row, Attnum(desc, "project_id"), desc, &isnull);

		/*
		 * It starts after the project's last drawn event. Event ids are drawn
		 * outside transactions (project/counter.c): an id below it may belong
		 * to a transaction still in flight, which would commit after the
		 * webhook and be skipped. So wait for the transactions writing
		 * events to end first: every event up to the starting point is then
		 * committed before the webhook is (or never).
		 */
		values[0] = LastEventId(project);
		PtWaitForEventWriters(DatumGetUUIDP(project));
		row = heap_modify_tuple_by_cols(row, desc, 1, cols, values, nulls);
	}
	return PointerGetDatum(row);
}

/* ------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------
 */

/* create_webhook(project_id, url, event_types, description) */
PT_API_FUNCTION(participants_create_webhook)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id = palloc(sizeof(pg_uuid_t));
	Oid			types[4] = {UUIDOID, TEXTOID, TEXTARRAYOID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Datum		v;
	bool		isnull;
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "url");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PG_GETARG_DATUM(1);
	PtCheckWebhookUrl(TextDatumGetCString(args[1]), "url");
	if (PG_ARGISNULL(2))
		nulls[2] = 'n', args[2] = (Datum) 0;
	else
	{
		args[2] = PG_GETARG_DATUM(2);
		(void) CheckEventTypes(PG_GETARG_ARRAYTYPE_P(2));
	}
	if (PG_ARGISNULL(3))
		nulls[3] = 'n', args[3] = (Datum) 0;
	else
	{
		CheckDescription(PG_GETARG_TEXT_PP(3));
		args[3] = PG_GETARG_DATUM(3);
	}
	SPI_connect();
	if (!PtRunValue(&plan, "INSERT INTO participants.webhook (project_id, url, event_types, description) "
					"VALUES ($1, $2, $3, $4) RETURNING id", 4, types, args, nulls, false, &v, &isnull))
		elog(ERROR, "webhook insert returned no row");
	memcpy(webhook_id->data, DatumGetUUIDP(v)->data, UUID_LEN);
	SPI_finish();
	res = WebhookObject(project_id, webhook_id, true, false);
	WarnIfNotPreloaded();
	PG_RETURN_JSONB_P(res);
}

/* update_webhook(project_id, webhook_id, url, event_types, active, description) */
PT_API_FUNCTION(participants_update_webhook)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id;
	Oid			types[8] = {UUIDOID, UUIDOID, TEXTOID, TEXTARRAYOID, BOOLOID, TEXTOID, BOOLOID, TIMESTAMPTZOID};
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			i;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "webhook_id");
	project_id = PG_GETARG_UUID_P(0);
	webhook_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	if (!PG_ARGISNULL(2))
		PtCheckWebhookUrl(TextDatumGetCString(PG_GETARG_DATUM(2)), "url");
	if (!PG_ARGISNULL(3))
		(void) CheckEventTypes(PG_GETARG_ARRAYTYPE_P(3));
	if (!PG_ARGISNULL(5))
		CheckDescription(PG_GETARG_TEXT_PP(5));
	for (i = 0; i < 6; i++)
	{
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	/* $7: event_types given (an empty array: every type) */
	args[6] = BoolGetDatum(!PG_ARGISNULL(3));
	/* now(), as a value: Citus refuses a volatile function in a CASE */
	args[7] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	SPI_connect();
	CheckWebhook(project_id, webhook_id, true);
	PtPreparePlan(&plan, "UPDATE participants.webhook SET url = COALESCE($3, url), "
				  "event_types = CASE WHEN $7 THEN $4 ELSE event_types END, "
				  "description = COALESCE($6, description), active = COALESCE($5, active), "
				  "failing = CASE WHEN $5 THEN false ELSE failing END, "
				  "attempts = CASE WHEN $5 THEN 0 ELSE attempts END, "
				  "next_attempt_date = CASE WHEN $5 THEN $8 ELSE next_attempt_date END "
				  "WHERE project_id = $1 AND id = $2", 8, types);
	(void) PtExecutePlan(plan, args, nulls, false, 0);
	SPI_finish();
	PG_RETURN_JSONB_P(WebhookObject(project_id, webhook_id, false, false));
}

/* delete_webhook(project_id, webhook_id) */
PT_API_FUNCTION(participants_delete_webhook)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "webhook_id");
	project_id = PG_GETARG_UUID_P(0);
	webhook_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	SPI_connect();
	CheckWebhook(project_id, webhook_id, true);
	SPI_finish();
	res = WebhookObject(project_id, webhook_id, false, false);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	SPI_connect();
	PtPreparePlan(&plan, "DELETE FROM participants.webhook WHERE project_id = $1 AND id = $2", 2, types);
	(void) PtExecutePlan(plan, args, NULL, false, 0);
	SPI_finish();
	PtWebhookMark(true);
	PG_RETURN_JSONB_P(res);
}

/* list_webhooks(project_id) */
PT_API_FUNCTION(participants_list_webhooks)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];

	PtNotNull(fcinfo, 0, "project_id");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan, "SELECT COALESCE(pg_catalog.jsonb_agg(" WEBHOOK_JSON
									   " ORDER BY w.created_date, w.id), '[]') "
									   "FROM participants.webhook w WHERE w.project_id = $1",
									   1, types, args, NULL, true));
}

/* rotate_webhook_secret(project_id, webhook_id) */
PT_API_FUNCTION(participants_rotate_webhook_secret)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "webhook_id");
	project_id = PG_GETARG_UUID_P(0);
	webhook_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	args[2] = CStringGetTextDatum(PtNewWebhookSecret());
	SPI_connect();
	CheckWebhook(project_id, webhook_id, true);
	PtPreparePlan(&plan, "INSERT INTO participants.webhook_secret (project_id, webhook_id, secret) "
				  "VALUES ($1, $2, $3) ON CONFLICT (project_id, webhook_id) DO UPDATE SET secret = EXCLUDED.secret",
				  3, types);
	(void) PtExecutePlan(plan, args, NULL, false, 0);
	SPI_finish();
	PtWebhookMark(true);
	PG_RETURN_JSONB_P(WebhookObject(project_id, webhook_id, true, false));
}

/* webhook_deliveries(project_id, webhook_id, failed_only, page_number, page_size) */
PT_API_FUNCTION(participants_webhook_deliveries)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id;
	bool		failed_only = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	int32		page_number = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	int32		page_size = PG_ARGISNULL(4) ? 20 : PG_GETARG_INT32(4);
	Oid			types[6] = {UUIDOID, UUIDOID, BOOLOID, INT4OID, INT4OID, INT8OID};
	Datum		args[6];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "webhook_id");
	PtCheckPaging(page_number, page_size, "deliveries");
	project_id = PG_GETARG_UUID_P(0);
	webhook_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	args[2] = BoolGetDatum(failed_only);
	args[3] = Int32GetDatum(page_number);
	args[4] = Int32GetDatum(page_size);
	args[5] = Int64GetDatum((int64) page_number * page_size);
	CheckWebhook(project_id, webhook_id, false);
	res = PtJsonbStatement(&plan,
						   "SELECT pg_catalog.jsonb_build_object('pageNumber', $4, 'pageSize', $5, "
						   "'totalDeliveries', (SELECT pg_catalog.count(*) FROM participants.webhook_delivery d "
						   "WHERE d.project_id = $1 AND d.webhook_id = $2 AND (NOT $3 OR d.error IS NOT NULL)), "
						   "'deliveries', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
						   "'eventID', d.event_id, 'eventType', d.event_type, 'attempt', d.attempt, "
						   "'attemptedDate', d.attempted_date, 'httpStatus', d.http_status, 'error', d.error, "
						   "'durationMs', d.duration_ms) ORDER BY d.number DESC) FROM ("
						   "SELECT * FROM participants.webhook_delivery d "
						   "WHERE d.project_id = $1 AND d.webhook_id = $2 AND (NOT $3 OR d.error IS NOT NULL) "
						   "ORDER BY d.number DESC LIMIT $5 OFFSET $6) d), '[]'))",
						   6, types, args, NULL, true);
	PG_RETURN_JSONB_P(res);
}

/* replay_webhook(project_id, webhook_id, after_event_id) */
PT_API_FUNCTION(participants_replay_webhook)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *webhook_id;
	int64		after;
	Oid			types[4] = {UUIDOID, UUIDOID, INT8OID, TIMESTAMPTZOID};
	Datum		args[4];
	Datum		last;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "webhook_id");
	PtNotNull(fcinfo, 2, "after_event_id");
	project_id = PG_GETARG_UUID_P(0);
	webhook_id = PG_GETARG_UUID_P(1);
	after = PG_GETARG_INT64(2);
	(void) PtGetProject(project_id);
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"after_event_id\": " INT64_FORMAT, after),
				 errhint("Pass 0 to deliver every event still kept, or an eventID.")));
	last = LastEventId(UUIDPGetDatum(project_id));
	if (after > DatumGetInt64(last))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"after_event_id\": " INT64_FORMAT " is after the project's last event (" INT64_FORMAT ")",
						after, DatumGetInt64(last))));
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(webhook_id);
	args[2] = Int64GetDatum(after);
	args[3] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	SPI_connect();
	CheckWebhook(project_id, webhook_id, true);
	PtPreparePlan(&plan, "UPDATE participants.webhook SET last_delivered_event_id = $3, attempts = 0, "
				  "failing = false, next_attempt_date = $4 "
				  "WHERE project_id = $1 AND id = $2", 4, types);
	(void) PtExecutePlan(plan, args, NULL, false, 0);
	SPI_finish();
	PG_RETURN_JSONB_P(WebhookObject(project_id, webhook_id, false, false));
}
