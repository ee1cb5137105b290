/*
 * participant/lifecycle.c
 *		One participant's life: get_participant, enroll_participant,
 *		withdraw_participant and delete_participant, and resolving lists of
 *		participants named by identifier or id. The participant is found by
 *		probing a unique index (store.c), and locked for the writes, which
 *		then address its row by project and ctid: no statement here depends
 *		on a plan.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

#include "participant/participant.h"

typedef enum WriteKind
{
	WRITE_ENROLL,
	WRITE_WITHDRAW,
	WRITE_DELETE,
	WRITE_OPT_OUT,
	WRITE_OPT_IN,
	NUM_WRITES
} WriteKind;

static SPIPlanPtr plans[NUM_WRITES];

/*
 * A TID scan, whatever the statistics: the row is locked, its ctid stable.
 * The project too, so that on a cluster Citus routes each statement to the
 * project's shard (a ctid alone would address every shard).
 */
static const char *const plan_sql[NUM_WRITES] = {
	"UPDATE participants.participant SET enrollment_date = pg_catalog.statement_timestamp(), "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $2 AND ctid = $1 RETURNING " PT_RECORD_COLUMNS,
	"UPDATE participants.participant SET withdraw_date = pg_catalog.statement_timestamp(), "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $2 AND ctid = $1 RETURNING " PT_RECORD_COLUMNS,
	"DELETE FROM participants.participant "
	"WHERE project_id = $2 AND ctid = $1 RETURNING " PT_RECORD_COLUMNS,
	/* participant_studies_sync moves the study statuses and writes the event */
	"UPDATE participants.participant SET opted_out = true, "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $2 AND ctid = $1 RETURNING " PT_RECORD_COLUMNS,
	"UPDATE participants.participant SET opted_out = false, "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $2 AND ctid = $1 RETURNING " PT_RECORD_COLUMNS,
};

/* Check the common arguments (project_id, participant) */
static void
CheckArgs(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null",
						PG_ARGISNULL(0) ? "project_id" : "participant")));
}

/*
 * The participant of the project whose key of the given kind (PT_KEY_ID,
 * PT_KEY_IDENTIFIER or PT_KEY_EMAIL) is "participant", locked when "lock"
 * (then with the project's write locks, and in its latest version); PT404
 * when there is none, hinting at query_by_id or at "by" (by_hint)
 */
static void
FetchByKey(pg_uuid_t *project_id, text *participant, int kind, AclMode need, bool lock,
		   PtRow *row, bool by_hint)
{
	char	   *ptext = text_to_cstring(participant);
	PtAccess	acc;
	Snapshot	snap;
	Datum		key;
	bool		found;

	if (lock)
	{
		PtLockProjectWrites(project_id, RowExclusiveLock);
		PtLockParticipantWrites(project_id, ShareLock);
	}
	(void) PtGetProject(project_id);
	if (kind == PT_KEY_ID)
	{
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		PtParseUuid(ptext, "participant", id);
		key = UUIDPGetDatum(id);
	}
	else if (kind == PT_KEY_EMAIL)
		key = CStringGetTextDatum(str_tolower(ptext, strlen(ptext), DEFAULT_COLLATION_OID));
	else
		key = PointerGetDatum(participant);

	PtAccessOpen(&acc, project_id, need, lock ? RowExclusiveLock : AccessShareLock);
	/* a reader sees its statement's snapshot; a writer the latest, as UPDATE does */
	snap = lock ? PtAccessSnapshot() : RegisterSnapshot(GetActiveSnapshot());
	found = PtAccessFetch(&acc, UUIDPGetDatum(project_id), kind, key, snap, lock, row);
	UnregisterSnapshot(snap);
	PtAccessClose(&acc);
	if (found)
		return;
	if (kind == PT_KEY_EMAIL)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant with email \"%s\" not found", ptext)));
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("participant \"%s\" not found", ptext),
			 kind == PT_KEY_ID ? 0 :
			 by_hint ? errhint("The participant is looked up by participantIdentifier; pass by => 'id' or by => 'email' to look it up by id or email.") :
			 errhint("The participant is looked up by participantIdentifier; pass query_by_id => true to look it up by id.")));
}

/*
 * The participant named by (participant, query_by_id); see FetchByKey
 */
void
PtFetchParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id,
				   AclMode need, bool lock, PtRow *row)
{
	FetchByKey(project_id, participant, query_by_id ? PT_KEY_ID : PT_KEY_IDENTIFIER, need, lock, row, false);
}

/*
 * The "by" argument arg of an API function ('identifier', 'id' or 'email',
 * in any case; default identifier): the key the participant is found by
 */
int
PtByArg(FunctionCallInfo fcinfo, int arg)
{
	char	   *by;

	if (PG_NARGS() <= arg)
		return PT_KEY_IDENTIFIER;
	PtNotNull(fcinfo, arg, "by");
	by = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (pg_strcasecmp(by, "identifier") == 0)
		return PT_KEY_IDENTIFIER;
	if (pg_strcasecmp(by, "id") == 0)
		return PT_KEY_ID;
	if (pg_strcasecmp(by, "email") == 0)
		return PT_KEY_EMAIL;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for \"by\": \"%s\"", by),
			 errhint("by is identifier (participantIdentifier), id or email.")));
	return -1;
}

/*
 * The id of the participant named by argument arg of an API function, found
 * by its "by" argument by_arg (see PtByArg and FetchByKey); PT404 when none
 */
pg_uuid_t *
PtPersonBy(pg_uuid_t *project_id, FunctionCallInfo fcinfo, int arg, int by_arg)
{
	PtRow		row;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	FetchByKey(project_id, PG_GETARG_TEXT_PP(arg), PtByArg(fcinfo, by_arg), ACL_SELECT, false, &row, true);
	memcpy(id->data, row.rec.id.data, UUID_LEN);
	return id;
}

/* The participant named by the arguments (project_id, participant, query_by_id) */
static void
FetchParticipant(FunctionCallInfo fcinfo, AclMode need, bool lock, PtRow *row)
{
	PtFetchParticipant(PG_GETARG_UUID_P(0), PG_GETARG_TEXT_PP(1),
					   !PG_ARGISNULL(2) && PG_GETARG_BOOL(2), need, lock, row);
}

/* Run one of the writes on the locked row; rec receives the row as returned */
static void
WriteRow(WriteKind kind, pg_uuid_t *project_id, PtRow *row, PtRecord *rec)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[2] = {TIDOID, UUIDOID};
	Datum		args[2];
	int			ret;

	SPI_connect();
	if (plans[kind] == NULL)
		PtPreparePlan(&plans[kind], plan_sql[kind], 2, types);
	args[0] = PointerGetDatum(&row->tuple->t_self);
	args[1] = UUIDPGetDatum(project_id);
	ret = PtExecutePlan(plans[kind], args, NULL, false, 0);
	if (ret < 0 || SPI_processed != 1)
		elog(ERROR, "participant write touched " UINT64_FORMAT " rows: %s",
			 SPI_processed, SPI_result_code_string(ret));
	MemoryContextSwitchTo(cxt);
	PtRecordFromTuple(rec, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	SPI_finish();
}

/* get_participant(project_id, participant, query_by_id) */
PT_API_FUNCTION(participants_get_participant)
{
	PtRow		row;

	CheckArgs(fcinfo);
	FetchParticipant(fcinfo, ACL_SELECT, false, &row);
	PG_RETURN_JSONB_P(PtRecordToJsonb(&row.rec, false, 0));
}

/* enroll_participant(project_id, participant, query_by_id) */
PT_API_FUNCTION(participants_enroll_participant)
{
	PtRow		row;
	PtRecord	rec;

	CheckArgs(fcinfo);
	FetchParticipant(fcinfo, ACL_SELECT | ACL_UPDATE, true, &row);
	if (row.rec.has_withdraw)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant \"%s\" is withdrawn and cannot be enrolled",
						row.rec.participant_identifier),
				 errdetail("Withdrawal is final.")));
	if (row.rec.has_enrollment)
		PG_RETURN_JSONB_P(PtActionResult("none", &row.rec));
	WriteRow(WRITE_ENROLL, PG_GETARG_UUID_P(0), &row, &rec);
	PG_RETURN_JSONB_P(PtActionResult("update", &rec));
}

/* withdraw_participant(project_id, participant, query_by_id) */
PT_API_FUNCTION(participants_withdraw_participant)
{
	PtRow		row;
	PtRecord	rec;

	CheckArgs(fcinfo);
	FetchParticipant(fcinfo, ACL_SELECT | ACL_UPDATE, true, &row);
	if (row.rec.has_withdraw)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant \"%s\" is already withdrawn", row.rec.participant_identifier),
				 errdetail("Withdrawal is final; its date cannot be moved.")));
	WriteRow(WRITE_WITHDRAW, PG_GETARG_UUID_P(0), &row, &rec);
	PG_RETURN_JSONB_P(PtActionResult("update", &rec));
}

/* delete_participant(project_id, participant, query_by_id) */
PT_API_FUNCTION(participants_delete_participant)
{
	PtRow		row;
	PtRecord	rec;

	CheckArgs(fcinfo);
	FetchParticipant(fcinfo, ACL_SELECT | ACL_DELETE, true, &row);
	WriteRow(WRITE_DELETE, PG_GETARG_UUID_P(0), &row, &rec);
	PG_RETURN_JSONB_P(PtActionResult("delete", &rec));
}

/* set_opted_out(project_id, participant, opted_out, query_by_id) */
PT_API_FUNCTION(participants_set_opted_out)
{
	PtRow		row;
	PtRecord	rec;
	bool		opted_out;

	CheckArgs(fcinfo);
	PtNotNull(fcinfo, 2, "opted_out");
	opted_out = PG_GETARG_BOOL(2);
	PtFetchParticipant(PG_GETARG_UUID_P(0), PG_GETARG_TEXT_PP(1),
					   !PG_ARGISNULL(3) && PG_GETARG_BOOL(3), ACL_SELECT | ACL_UPDATE, true, &row);
	if (row.rec.opted_out == opted_out)
		PG_RETURN_JSONB_P(PtActionResult("none", &row.rec));
	WriteRow(opted_out ? WRITE_OPT_OUT : WRITE_OPT_IN, PG_GETARG_UUID_P(0), &row, &rec);
	PG_RETURN_JSONB_P(PtActionResult("update", &rec));
}

/* Order of uuid Datums (for qsort and bsearch) */
int
PtUuidCmp(const void *a, const void *b)
{
	return memcmp(DatumGetUUIDP(*(const Datum *) a)->data,
				  DatumGetUUIDP(*(const Datum *) b)->data, UUID_LEN);
}

/* Sort uuid Datums and keep each once; returns how many are left */
int
PtSortDistinctIds(Datum *ids, int n)
{
	int			i,
				k = 0;

	qsort(ids, n, sizeof(Datum), PtUuidCmp);
	for (i = 0; i < n; i++)
		if (k == 0 || PtUuidCmp(&ids[k - 1], &ids[i]) != 0)
			ids[k++] = ids[i];
	return k;
}

/*
 * The participants named by a JSON array of strings (participantIdentifiers,
 * ids or emails: kind is PT_KEY_IDENTIFIER, PT_KEY_ID or PT_KEY_EMAIL), in
 * the array's order; *nout receives their number and *textsout the strings.
 * One not in the project is PT404 naming its index, or with missing_ok a
 * (Datum) 0 in its place. The key named in errors is "key" ("participants").
 */
Datum *
PtResolveParticipantsBy(pg_uuid_t *project_id, Jsonb *list, int kind, bool missing_ok,
						const char *key, int *nout, char ***textsout)
{
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const char *const sql[3] = {
		/* PT_KEY_ID */
		"SELECT pg_catalog.array_agg(p.id ORDER BY a.n), min(a.n) FILTER (WHERE p.id IS NULL) "
		"FROM pg_catalog.unnest($2::pg_catalog.uuid[]) WITH ORDINALITY a(k, n) "
		"LEFT JOIN participants.participant p ON p.project_id = $1 AND p.id = a.k",
		/* PT_KEY_IDENTIFIER */
		"SELECT pg_catalog.array_agg(p.id ORDER BY a.n), min(a.n) FILTER (WHERE p.id IS NULL) "
		"FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY a(k, n) "
		"LEFT JOIN participants.participant p ON p.project_id = $1 AND p.participant_identifier = a.k",
		/* PT_KEY_EMAIL */
		"SELECT pg_catalog.array_agg(p.id ORDER BY a.n), min(a.n) FILTER (WHERE p.id IS NULL) "
		"FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY a(k, n) "
		"LEFT JOIN participants.participant p ON p.project_id = $1 AND pg_catalog.lower(p.email) = a.k",
	};
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;
	Datum	   *elems;
	char	  **texts;
	Oid			types[2] = {UUIDOID, kind == PT_KEY_ID ? UUIDARRAYOID : TEXTARRAYOID};
	Datum		args[2];
	bool		isnull;
	Datum	   *out;
	int64		missing;
	MemoryContext cxt = CurrentMemoryContext;
	const char *what = kind == PT_KEY_ID ? "participant ids" :
		kind == PT_KEY_EMAIL ? "emails" : "participantIdentifiers";

	if (!JB_ROOT_IS_ARRAY(list) || JB_ROOT_IS_SCALAR(list))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": expected an array of %s", key, what)));
	elems = palloc(sizeof(Datum) * Max(JB_ROOT_COUNT(list), 1));
	texts = palloc(sizeof(char *) * Max(JB_ROOT_COUNT(list), 1));
	it = JsonbIteratorInit(&list->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *elkey;

		if (tok != WJB_ELEM)
			continue;
		elkey = psprintf("%s[%d]", key, n);
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": expected a string, got %s",
							elkey, PtJsonbTypeName(&v))));
		texts[n] = pnstrdup(v.val.string.val, v.val.string.len);
		if (kind == PT_KEY_ID)
		{
			pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

			PtParseUuid(texts[n], elkey, id);
			elems[n] = UUIDPGetDatum(id);
		}
		else if (kind == PT_KEY_EMAIL)
			elems[n] = CStringGetTextDatum(str_tolower(texts[n], strlen(texts[n]), DEFAULT_COLLATION_OID));
		else
			elems[n] = CStringGetTextDatum(texts[n]);
		n++;
	}
	*nout = n;
	*textsout = texts;
	if (n == 0)
		return elems;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(construct_array(elems, n, kind == PT_KEY_ID ? UUIDOID : TEXTOID,
											  kind == PT_KEY_ID ? UUID_LEN : -1, false,
											  kind == PT_KEY_ID ? TYPALIGN_CHAR : TYPALIGN_INT));
	SPI_connect();
	if (plans[kind] == NULL)
		PtPreparePlan(&plans[kind], sql[kind], 2, types);
	if (PtExecutePlan(plans[kind], args, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "participant lookup failed");
	missing = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!isnull && !missing_ok)
	{
		int			i = (int) missing - 1;

		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant \"%s\" not found", texts[i]),
				 errdetail("At key \"%s[%d]\".", key, i),
				 kind != PT_KEY_IDENTIFIER ? 0 :
				 errhint("Participants are named by participantIdentifier; pass query_by_id => true (or by => 'id' or 'email') to name them otherwise.")));
	}
	MemoryContextSwitchTo(cxt);
	out = palloc0(sizeof(Datum) * n);
	{
		Datum		ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		Datum	   *idv;
		bool	   *idnulls;
		int			nids,
					k;

		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypePCopy(ids), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
							  &idv, &idnulls, &nids);
			/* an element (null when not found) per position */
			for (k = 0; k < nids; k++)
				if (!idnulls[k])
					out[k] = idv[k];
		}
	}
	SPI_finish();
	return out;
}

/*
 * The participants named by a JSON array (participantIdentifiers, or ids
 * with query_by_id): see PtResolveParticipantsBy (PT404 for one missing)
 */
Datum *
PtResolveParticipantList(pg_uuid_t *project_id, Jsonb *list, bool query_by_id,
						 int *nout, char ***textsout)
{
	return PtResolveParticipantsBy(project_id, list, query_by_id ? PT_KEY_ID : PT_KEY_IDENTIFIER,
								   false, "participants", nout, textsout);
}

/* ------------------------------------------------------------------------
 * People by email (doc/participants.md): get_opted_out, opt_out_people,
 * delete_people. Each person is written as set_opted_out or
 * delete_participant writes one, locked in id order (doc/concurrency.md).
 * ------------------------------------------------------------------------
 */

/* get_opted_out(project_id, participant, by) */
PT_API_FUNCTION(participants_get_opted_out)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	person = PtPersonBy(project_id, fcinfo, 1, 2);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	/* updatedAt: the last opt-out or opt-in, else when the participant was added */
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan,
									   "SELECT pg_catalog.jsonb_build_object('personId', p.id, 'optedOut', p.opted_out, "
									   "'updatedAt', COALESCE((SELECT e.created_date FROM participants.event e "
									   "WHERE e.project_id = $1 AND e.person_id = $2 AND e.event_type = 'person.opted_out' "
									   "ORDER BY e.id DESC LIMIT 1), p.inserted_date)) "
									   "FROM participants.participant p WHERE p.project_id = $1 AND p.id = $2",
									   2, types, args, NULL, true));
}

/*
 * The people of a "people" argument, by kind: the distinct ids found,
 * sorted (the lock order), and the strings not found, in the given order
 */
static int
ResolvePeople(pg_uuid_t *project_id, Jsonb *people, int kind, Datum **ids, List **not_found)
{
	char	  **texts;
	int			n,
				i,
				k = 0;
	Datum	   *found = PtResolveParticipantsBy(project_id, people, kind, true, "people", &n, &texts);

	*ids = palloc(sizeof(Datum) * Max(n, 1));
	*not_found = NIL;
	for (i = 0; i < n; i++)
	{
		if (found[i] == (Datum) 0)
			*not_found = lappend(*not_found, texts[i]);
		else
			(*ids)[k++] = found[i];
	}
	return PtSortDistinctIds(*ids, k);
}

static void
PushNotFound(JsonbParseState **state, List *not_found)
{
	ListCell   *lc;

	PtPushKey(state, "notFound");
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, not_found)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = lfirst(lc);
		v.val.string.len = strlen(lfirst(lc));
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/* The person of id, locked as a writer locks it; false when deleted meanwhile */
bool
PtLockPersonById(pg_uuid_t *project_id, Datum id, AclMode need, PtRow *row)
{
	PtAccess	acc;
	Snapshot	snap;
	bool		found;

	PtLockProjectWrites(project_id, RowExclusiveLock);
	PtLockParticipantWrites(project_id, ShareLock);
	PtAccessOpen(&acc, project_id, need, RowExclusiveLock);
	snap = PtAccessSnapshot();
	found = PtAccessFetch(&acc, UUIDPGetDatum(project_id), PT_KEY_ID, id, snap, true, row);
	UnregisterSnapshot(snap);
	PtAccessClose(&acc);
	return found;
}

/* opt_out_people(project_id, people, opted_out, by) */
PT_API_FUNCTION(participants_opt_out_people)
{
	pg_uuid_t  *project_id;
	bool		opted_out;
	int			kind = PT_KEY_EMAIL;
	Datum	   *ids;
	List	   *not_found;
	int			n,
				i;
	int64		updated = 0,
				unchanged = 0;
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "people");
	/* the default is true; a null sent on purpose opts no one out */
	PtNotNull(fcinfo, 2, "opted_out");
	opted_out = PG_GETARG_BOOL(2);
	project_id = PG_GETARG_UUID_P(0);
	if (PG_NARGS() > 3)
		kind = PtByArg(fcinfo, 3);
	(void) PtGetProject(project_id);
	n = ResolvePeople(project_id, PG_GETARG_JSONB_P(1), kind, &ids, &not_found);
	for (i = 0; i < n; i++)
	{
		PtRow		row;
		PtRecord	rec;

		if (!PtLockPersonById(project_id, ids[i], ACL_SELECT | ACL_UPDATE, &row))
			continue;			/* deleted meanwhile: nothing to opt out */
		if (row.rec.opted_out == opted_out)
		{
			unchanged++;
			continue;
		}
		WriteRow(opted_out ? WRITE_OPT_OUT : WRITE_OPT_IN, project_id, &row, &rec);
		updated++;
	}
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "updated", updated);
	PtPushNumber(&state, "unchanged", unchanged);
	PushNotFound(&state, not_found);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/* delete_people(project_id, people, by) */
PT_API_FUNCTION(participants_delete_people)
{
	pg_uuid_t  *project_id;
	int			kind = PT_KEY_EMAIL;
	Datum	   *ids;
	List	   *not_found;
	int			n,
				i;
	int64		deleted = 0;
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "people");
	project_id = PG_GETARG_UUID_P(0);
	if (PG_NARGS() > 2)
		kind = PtByArg(fcinfo, 2);
	(void) PtGetProject(project_id);
	n = ResolvePeople(project_id, PG_GETARG_JSONB_P(1), kind, &ids, &not_found);
	for (i = 0; i < n; i++)
	{
		PtRow		row;
		PtRecord	rec;

		if (!PtLockPersonById(project_id, ids[i], ACL_SELECT | ACL_DELETE, &row))
			continue;			/* deleted meanwhile */
		WriteRow(WRITE_DELETE, project_id, &row, &rec);
		deleted++;
	}
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "deleted", deleted);
	PushNotFound(&state, not_found);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/*
 * The participant's participantIdentifier, quoted, for a message (its id
 * when the row is not visible)
 */
char *
PtPersonName(pg_uuid_t *project_id, Datum person_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	char	   *name = NULL;
	MemoryContext cxt = CurrentMemoryContext;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = person_id;
	SPI_connect();
	if (PtRunValue(&plan, "SELECT participant_identifier FROM participants.participant "
				   "WHERE project_id = $1 AND id = $2", 2, types, args, NULL, true, &v, &isnull) && !isnull)
		name = MemoryContextStrdup(cxt, TextDatumGetCString(v));
	SPI_finish();
	if (name == NULL)
		return PtUuidText(DatumGetUUIDP(person_id));
	return psprintf("\"%s\"", name);
}
