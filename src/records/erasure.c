/*
 * records/erasure.c
 *		The right to be forgotten (doc/lifecycle.md#erasure):
 *		erase_participant removes a person and every row that carries their
 *		data, strips the audit rows about them, and leaves a tombstone: the
 *		HMAC-SHA256, under a per-project key (project_secret), of the
 *		normalized email and phone. Adding a participant whose email or phone
 *		matches a tombstone is refused (PT409) by the upsert path (naming the
 *		element) and by participant_guard for raw SQL, unless the project
 *		setting allowReaddAfterErasure is true or forget_erasure cleared it.
 *		Also forget_erasure and erasures.
 *
 *		Whether a project has tombstones is cached per backend, and the
 *		cache is emptied by the invalidation every write of erasure sends
 *		(erasure_cache_invalidate), so that the common case, a project with no
 *		erasure, costs an add no query.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/hsearch.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/snapmgr.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"
#include "utils/inval.h"
#include "storage/lockdefs.h"
#include "catalog/pg_collation.h"

#include "records/records.h"
#include "study/study.h"

#define KEY_LEN 32

/* ------------------------------------------------------------------------
 * The project's key and tombstones
 * ------------------------------------------------------------------------
 */

typedef struct TombstoneEntry
{
	pg_uuid_t	project;
	bool		any;			/* the project has tombstones (and a key) */
	bool		readd;			/* allowReaddAfterErasure */
	uint8		key[KEY_LEN];
} TombstoneEntry;

static HTAB *tombstones = NULL;
static MemoryContext tombstone_cxt = NULL;
static uint64 invalidations = 0;

static void
TombstoneCacheReset(Oid relid)
{
	invalidations++;
	if (tombstones != NULL)
	{
		MemoryContextDelete(tombstone_cxt);
		tombstones = NULL;
	}
}

static bool RunLatest(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *args,
					  const char *nulls, Datum *value, bool *isnull);

/* The project's erasure key, made on first use when make */
static bool
ProjectKey(pg_uuid_t *project_id, bool make, uint8 *key)
{
	static SPIPlanPtr get_plan = NULL;
	static SPIPlanPtr make_plan = NULL;
	Oid			types[2] = {UUIDOID, BYTEAOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	bool		found;

	args[0] = UUIDPGetDatum(project_id);
	SPI_connect();
	/* the latest: a key an erasure made after this transaction's snapshot counts */
	found = RunLatest(&get_plan, "SELECT erasure_key FROM participants.project_secret WHERE project_id = $1",
					  1, types, args, NULL, &v, &isnull);
	if (!found && make)
	{
		bytea	   *fresh = palloc(VARHDRSZ + KEY_LEN);

		SET_VARSIZE(fresh, VARHDRSZ + KEY_LEN);
		if (!pg_strong_random(VARDATA(fresh), KEY_LEN))
			elog(ERROR, "could not generate a random key");
		args[1] = PointerGetDatum(fresh);
		pt_lifecycle_writing = true;
		PG_TRY();
		{
			found = PtRunValue(&make_plan,
							   "INSERT INTO participants.project_secret (project_id, erasure_key) VALUES ($1, $2) "
							   "ON CONFLICT (project_id) DO UPDATE SET erasure_key = participants.project_secret.erasure_key "
							   "RETURNING erasure_key", 2, types, args, NULL, false, &v, &isnull);
		}
		PG_FINALLY();
		{
			pt_lifecycle_writing = false;
		}
		PG_END_TRY();
	}
	if (found)
	{
		bytea	   *b = DatumGetByteaPP(v);

		if (VARSIZE_ANY_EXHDR(b) != KEY_LEN)
			elog(ERROR, "the project's erasure key has %d bytes", (int) VARSIZE_ANY_EXHDR(b));
		memcpy(key, VARDATA_ANY(b), KEY_LEN);
	}
	SPI_finish();
	return found;
}

/* HMAC-SHA256 of s under key, as a bytea */
static bytea *
HmacOf(const uint8 *key, const char *s)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	bytea	   *out = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(out, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	if (ctx == NULL || pg_hmac_init(ctx, key, KEY_LEN) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) s, strlen(s)) < 0 ||
		pg_hmac_final(ctx, (uint8 *) VARDATA(out), PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute an HMAC: %s", pg_hmac_error(ctx));
	pg_hmac_free(ctx);
	return out;
}

/* The normalized forms that are hashed: the email in lower case, the stored phone */
static char *
NormalEmail(const char *email)
{
	return email ? str_tolower(email, strlen(email), DEFAULT_COLLATION_OID) : NULL;
}

/*
 * Run a statement (prepared into *slot on first use) with the latest
 * snapshot, whatever the isolation level: an erasure committed after a
 * REPEATABLE READ transaction began still refuses its email (and the cache
 * is never filled from an older view). Its first row's first value.
 */
static bool
RunLatest(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *args,
		  const char *nulls, Datum *value, bool *isnull)
{
	int			ret;

	if (*slot == NULL)
		PtPreparePlan(slot, sql, nargs, types);
	ret = SPI_execute_snapshot(*slot, args, nulls, GetLatestSnapshot(), InvalidSnapshot,
							   true, false, 1);
	if (ret < 0)
		elog(ERROR, "statement failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	*value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	return true;
}

/* The cache entry of a project, loaded from the latest snapshot */
static TombstoneEntry *
Tombstones(pg_uuid_t *project_id)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr readd_plan = NULL;
	static bool registered = false;
	TombstoneEntry *e;
	TombstoneEntry loaded;
	bool		found;
	uint64		before = invalidations;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	Datum		v;
	bool		isnull;

	if (!registered)
	{
		PtCacheRegister(TombstoneCacheReset);
		registered = true;
	}
	/* an erasure committed while this call waited for it (see EraseRow) */
	AcceptInvalidationMessages();
	if (tombstones != NULL &&
		(e = hash_search(tombstones, project_id, HASH_FIND, NULL)) != NULL)
		return e;

	memset(&loaded, 0, sizeof(loaded));
	loaded.project = *project_id;
	args[0] = UUIDPGetDatum(project_id);
	SPI_connect();
	/* two statements: on a cluster erasure is distributed, project a reference table */
	loaded.any = RunLatest(&plan,
						   "SELECT 1 FROM participants.erasure e WHERE e.project_id = $1 "
						   "AND (e.email_hmac IS NOT NULL OR e.phone_hmac IS NOT NULL) LIMIT 1",
						   1, types, args, NULL, &v, &isnull);
	if (loaded.any)
		loaded.readd = RunLatest(&readd_plan,
								 "SELECT coalesce((p.settings ->> 'allowReaddAfterErasure')::boolean, false) "
								 "FROM participants.project p WHERE p.id = $1",
								 1, types, args, NULL, &v, &isnull) && !isnull && DatumGetBool(v);
	SPI_finish();
	if (loaded.any && !ProjectKey(project_id, false, loaded.key))
		loaded.any = false;

	/* a load an invalidation overlapped is used once, not kept */
	if (before != invalidations)
	{
		e = palloc(sizeof(TombstoneEntry));
		*e = loaded;
		return e;
	}
	if (tombstones == NULL)
		tombstones = PtCacheCreate("participants tombstones", sizeof(pg_uuid_t),
								   sizeof(TombstoneEntry), &tombstone_cxt);
	e = hash_search(tombstones, project_id, HASH_ENTER, &found);
	*e = loaded;
	return e;
}

/*
 * Refuse an email or phone (either may be NULL; the phone as stored) that an
 * erasure of the project left a tombstone for (PT409), unless the project
 * allows adding them again. path prefixes the key in the message.
 */
void
PtCheckTombstone(pg_uuid_t *project_id, const char *email, const char *phone, const char *path)
{
	static SPIPlanPtr plan = NULL;
	TombstoneEntry *e;
	Oid			types[3] = {UUIDOID, BYTEAOID, BYTEAOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	Datum		v;
	bool		isnull;
	bool		email_hit = false;
	bool		hit;

	if ((email == NULL && phone == NULL) || !PtHaveLifecycle())
		return;
	/* wait for an erasure in progress in the project (see EraseRow) */
	PtLockParticipantWrites(project_id, ShareLock);
	e = Tombstones(project_id);
	if (!e->any || e->readd)
		return;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = email ? PointerGetDatum(HmacOf(e->key, NormalEmail(email))) : (Datum) 0;
	nulls[1] = email ? ' ' : 'n';
	args[2] = phone ? PointerGetDatum(HmacOf(e->key, phone)) : (Datum) 0;
	nulls[2] = phone ? ' ' : 'n';
	SPI_connect();
	hit = RunLatest(&plan,
					"SELECT e.email_hmac = $2 FROM participants.erasure e WHERE e.project_id = $1 "
					"AND (e.email_hmac = $2 OR e.phone_hmac = $3) LIMIT 1",
					3, types, args, nulls, &v, &isnull);
	if (hit)
		email_hit = !isnull && DatumGetBool(v);
	SPI_finish();
	if (hit)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot add key \"%s%s\": this %s belongs to a person who was erased",
						path ? path : "", email_hit ? "demographics.email" : "demographics.mobilePhone",
						email_hit ? "email" : "phone number"),
				 errdetail("An erasure left a tombstone for it (erased)."),
				 errhint("Call forget_erasure with the erasure's id, or set the project setting allowReaddAfterErasure, to allow it again.")));
}

/* ------------------------------------------------------------------------
 * Erasure
 * ------------------------------------------------------------------------
 */

#define RECEIPT_SQL \
	"pg_catalog.jsonb_build_object('erasureID', e.id, 'personId', e.person_id, 'erasedDate', e.erased_date, " \
	"'reason', e.reason, 'removed', e.removed)"

/* The steps of an erasure, in order: (the count it adds to, statement) */
typedef struct EraseStep
{
	int			counter;		/* index into removed[], or -1 */
	const char *sql;
} EraseStep;

enum
{
	R_PARTICIPANT, R_MEMBERSHIPS, R_STUDY_STATUSES, R_EVENTS, R_CONSENTS, R_INCENTIVES,
	R_DELIVERIES, R_AUDIT, R_COUNT
};

static const char *const removed_keys[R_COUNT] = {
	"participant", "memberships", "studyStatuses", "events", "consents", "incentives",
	"deliveries", "auditValues"
};

/* $1 the project, $2 the person, $3 the values that name it (email, phone, identifier) */
static const EraseStep steps[] = {
	{R_INCENTIVES, "DELETE FROM participants.incentive WHERE project_id = $1 AND participant_id = $2"},
	/* consents first: their triggers write history, events and cancellations, removed below */
	{R_CONSENTS, "DELETE FROM participants.participant_consent WHERE project_id = $1 AND participant_id = $2"},
	{R_CONSENTS, "DELETE FROM participants.consent_history WHERE project_id = $1 AND participant_id = $2"},
	{R_MEMBERSHIPS, "DELETE FROM participants.segment_membership WHERE project_id = $1 AND participant_id = $2"},
	{-1, "DELETE FROM participants.segment_recheck WHERE project_id = $1 AND participant_id = $2"},
	{-1, "DELETE FROM participants.contact WHERE project_id = $1 AND participant_id = $2"},
	{-1, "DELETE FROM participants.status_archive WHERE project_id = $1 AND participant_id = $2"},
	{R_STUDY_STATUSES, "DELETE FROM participants.study_participant WHERE project_id = $1 AND participant_id = $2"},
	{R_DELIVERIES, "DELETE FROM participants.webhook_delivery d USING participants.event e "
	 "WHERE d.project_id = $1 AND e.project_id = $1 AND e.person_id = $2 AND d.event_id = e.id"},
	{R_EVENTS, "DELETE FROM participants.event WHERE project_id = $1 AND person_id = $2"},
	{-1, "DELETE FROM participants.import_row r WHERE r.project_id = $1 AND (r.person_id = $2 "
	 "OR (r.errors IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.unnest($3::text[]) v "
	 "WHERE pg_catalog.strpos(pg_catalog.lower(r.errors::text), pg_catalog.lower(v)) > 0)))"},
	{-1, "UPDATE participants.import i SET errors = (SELECT coalesce(pg_catalog.jsonb_agg(CASE WHEN EXISTS ("
	 "SELECT 1 FROM pg_catalog.unnest($3::text[]) v WHERE pg_catalog.strpos(pg_catalog.lower(x.e::text), pg_catalog.lower(v)) > 0) "
	 "THEN x.e || '{\"key\": null, \"message\": \"(erased)\"}' ELSE x.e END ORDER BY x.n), '[]') "
	 "FROM pg_catalog.jsonb_array_elements(i.errors) WITH ORDINALITY x(e, n)) "
	 "WHERE i.project_id = $1 AND EXISTS (SELECT 1 FROM pg_catalog.unnest($3::text[]) v "
	 "WHERE pg_catalog.strpos(pg_catalog.lower(i.errors::text), pg_catalog.lower(v)) > 0)"},
	{R_AUDIT, "UPDATE participants.audit SET person_id = NULL, changed_keys = NULL, actor_role = NULL, "
	 "jwt_sub = NULL, reason = NULL WHERE project_id = $1 AND person_id = $2"},
	{R_PARTICIPANT, "DELETE FROM participants.participant WHERE project_id = $1 AND id = $2"},
};

static SPIPlanPtr step_plans[lengthof(steps)];

/*
 * How a message that quotes value ("value") reads in the text of a jsonb
 * array of errors: the message is a JSON string, so its quotes and
 * backslashes are escaped, and so are the value's own
 */
static char *
QuotedInJson(const char *value)
{
	StringInfoData inner;
	StringInfoData out;

	initStringInfo(&inner);
	appendStringInfo(&inner, "\"%s\"", value);
	initStringInfo(&out);
	escape_json(&out, inner.data);
	/* without escape_json's own surrounding quotes */
	return pnstrdup(out.data + 1, out.len - 2);
}

static void
RunSteps(pg_uuid_t *project_id, Datum person_id, Datum names, int64 *removed)
{
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTARRAYOID};
	Datum		args[3];
	int			i;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = person_id;
	args[2] = names;
	for (i = 0; i < lengthof(steps); i++)
	{
		int			ret;

		if (step_plans[i] == NULL)
			PtPreparePlan(&step_plans[i], steps[i].sql, 3, types);
		ret = PtExecutePlan(step_plans[i], args, NULL, false, 0);
		if (ret < 0)
			elog(ERROR, "erasure step failed: %s", SPI_result_code_string(ret));
		if (steps[i].counter >= 0)
			removed[steps[i].counter] += SPI_processed;
	}
}

/*
 * Erase the (locked) participant person_id: remove its rows, strip its audit
 * rows, leave the tombstone, write the receipt, the person.erased event and
 * an audit row. Returns the receipt.
 */
static Jsonb *
EraseRow(pg_uuid_t *project_id, PtRow *row, const char *reason)
{
	static SPIPlanPtr insert_plan = NULL;
	static SPIPlanPtr receipt_plan = NULL;
	Datum		person_id = UUIDPGetDatum(&row->rec.id);
	PtRecord   *rec = &row->rec;
	int64		removed[R_COUNT];
	Datum		names[3];
	int			nnames = 0;
	uint8		key[KEY_LEN];
	pg_uuid_t  *erasure_id = palloc(sizeof(pg_uuid_t));
	JsonbParseState *state = NULL;
	Jsonb	   *removed_jb;
	Jsonb	   *receipt;
	Oid			types[7] = {UUIDOID, UUIDOID, UUIDOID, TEXTOID, JSONBOID, BYTEAOID, BYTEAOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum		v;
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;
	int			i;

	memset(removed, 0, sizeof(removed));
	/*
	 * what names the person in an import's messages, as they quote values
	 * (\"value\" in the text of the jsonb): so "C-1" does not match "C-10"
	 */
	if (rec->demo[DEMO_EMAIL])
		names[nnames++] = CStringGetTextDatum(QuotedInJson(rec->demo[DEMO_EMAIL]));
	if (rec->demo[DEMO_MOBILE_PHONE])
		names[nnames++] = CStringGetTextDatum(QuotedInJson(rec->demo[DEMO_MOBILE_PHONE]));
	names[nnames++] = CStringGetTextDatum(QuotedInJson(rec->participant_identifier));

	(void) ProjectKey(project_id, true, key);

	SPI_connect();
	pt_erasing = true;
	pt_audit_maintenance = true;
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		RunSteps(project_id, person_id,
				 PointerGetDatum(construct_array(names, nnames, TEXTOID, -1, false, TYPALIGN_INT)),
				 removed);
	}
	PG_FINALLY();
	{
		pt_erasing = false;
		pt_audit_maintenance = false;
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < R_COUNT; i++)
		PtPushNumber(&state, removed_keys[i], removed[i]);
	removed_jb = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	PtRandomUuid(erasure_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(erasure_id);
	args[2] = person_id;
	args[3] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[3] = reason ? ' ' : 'n';
	args[4] = JsonbPGetDatum(removed_jb);
	args[5] = rec->demo[DEMO_EMAIL] ? PointerGetDatum(HmacOf(key, NormalEmail(rec->demo[DEMO_EMAIL]))) : (Datum) 0;
	nulls[5] = rec->demo[DEMO_EMAIL] ? ' ' : 'n';
	args[6] = rec->demo[DEMO_MOBILE_PHONE] ? PointerGetDatum(HmacOf(key, rec->demo[DEMO_MOBILE_PHONE])) : (Datum) 0;
	nulls[6] = rec->demo[DEMO_MOBILE_PHONE] ? ' ' : 'n';
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		if (!PtRunValue(&insert_plan,
						"INSERT INTO participants.erasure (project_id, id, person_id, reason, removed, email_hmac, phone_hmac) "
						"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING erased_date",
						7, types, args, nulls, false, &v, &isnull))
			elog(ERROR, "could not write the erasure receipt");
	}
	PG_FINALLY();
	{
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();

	/* the event: no personal data */
	{
		JsonbParseState *ev = NULL;
		TimestampTz at = DatumGetTimestampTz(v);

		pushJsonbValue(&ev, WJB_BEGIN_OBJECT, NULL);
		PtPushString(&ev, "eventType", "person.erased");
		PtPushString(&ev, "personId", PtUuidText(&rec->id));
		PtPushString(&ev, "erasureID", PtUuidText(erasure_id));
		PtPushString(&ev, "updatedAt", JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL));
		PtWritePersonEvent(project_id, "person.erased", person_id,
						   JsonbValueToJsonb(pushJsonbValue(&ev, WJB_END_OBJECT, NULL)), at);
	}
	PtAudit(project_id, "erase", (Datum) 0, NIL, reason);

	receipt = NULL;
	if (PtRunValue(&receipt_plan, "SELECT " RECEIPT_SQL " FROM participants.erasure e WHERE e.project_id = $1 AND e.id = $2",
				   2, types, args, NULL, false, &v, &isnull) && !isnull)
	{
		MemoryContextSwitchTo(cxt);
		receipt = DatumGetJsonbPCopy(v);
	}
	SPI_finish();
	return receipt;
}

/*
 * An erasure holds the project's participant write lock in exclusive mode
 * until it commits: a write that would add the erased email or phone waits
 * for it, then sees its tombstone (PtCheckTombstone takes the lock in share
 * mode and reads with a fresh snapshot). Taken before the person's row.
 */
static void
LockForErasure(pg_uuid_t *project_id)
{
	PtLockProjectWrites(project_id, RowExclusiveLock);
	PtLockParticipantWrites(project_id, ExclusiveLock);
}

/* Erase participant person_id of the project (apply_retention); NULL when it is gone */
Jsonb *
PtErase(pg_uuid_t *project_id, Datum person_id, const char *reason)
{
	PtRow		row;

	LockForErasure(project_id);
	if (!PtLockPersonById(project_id, person_id, ACL_SELECT | ACL_DELETE, &row))
		return NULL;
	return EraseRow(project_id, &row, reason);
}

/* erase_participant(project_id, participant, by, reason) */
PT_API_FUNCTION(participants_erase_participant)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	PtRow		row;
	char	   *reason = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	if (reason != NULL && pg_mbstrlen(reason) > 2000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"reason\": longer than 2000 characters")));
	person = PtPersonBy(project_id, fcinfo, 1, 2);
	LockForErasure(project_id);
	if (!PtLockPersonById(project_id, UUIDPGetDatum(person), ACL_SELECT | ACL_DELETE, &row))
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant not found: %s", text_to_cstring(PG_GETARG_TEXT_PP(1)))));
	PG_RETURN_JSONB_P(EraseRow(project_id, &row, reason));
}

/* forget_erasure(project_id, erasure_id) */
PT_API_FUNCTION(participants_forget_erasure)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr receipt_plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	bool		found;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "erasure_id");
	(void) PtGetProject(PG_GETARG_UUID_P(0));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		found = PtRowExists(&plan, "UPDATE participants.erasure e SET email_hmac = NULL, phone_hmac = NULL "
							"WHERE e.project_id = $1 AND e.id = $2 RETURNING 1", 2, types, args, NULL, false);
	}
	PG_FINALLY();
	{
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("erasure not found: %s", PtUuidText(PG_GETARG_UUID_P(1))),
				 errhint("erasures lists a project's erasures.")));
	/* the receipt in a statement of its own: on a cluster RETURNING takes no function */
	PG_RETURN_JSONB_P(PtJsonbStatement(&receipt_plan, "SELECT " RECEIPT_SQL " FROM participants.erasure e "
									   "WHERE e.project_id = $1 AND e.id = $2", 2, types, args, NULL, false));
}

/* erasures(project_id, page_number, page_size) */
PT_API_FUNCTION(participants_erasures)
{
	static SPIPlanPtr plan = NULL;
	int32		page_number = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int32		page_size = PG_ARGISNULL(2) ? 20 : PG_GETARG_INT32(2);
	Oid			types[4] = {UUIDOID, INT4OID, INT4OID, INT8OID};
	Datum		args[4];

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "erasures");
	(void) PtGetProject(PG_GETARG_UUID_P(0));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = Int32GetDatum(page_number);
	args[2] = Int32GetDatum(page_size);
	args[3] = Int64GetDatum((int64) page_number * page_size);
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan,
									   "SELECT pg_catalog.jsonb_build_object('pageNumber', $2, 'pageSize', $3, "
									   "'totalErasures', (SELECT pg_catalog.count(*) FROM participants.erasure e WHERE e.project_id = $1), "
									   "'erasures', coalesce((SELECT pg_catalog.jsonb_agg(" RECEIPT_SQL " ORDER BY e.erased_date DESC, e.id) "
									   "FROM (SELECT * FROM participants.erasure e WHERE e.project_id = $1 "
									   "ORDER BY e.erased_date DESC, e.id LIMIT $3 OFFSET $4) e), '[]'))",
									   4, types, args, NULL, true));
}
