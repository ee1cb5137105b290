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

/* The participant named by (participant, by): kind is PtByArg's; see FetchByKey */
void
PtFetchParticipantBy(pg_uuid_t *project_id, text *participant, int kind,
					 AclMode need, bool lock, PtRow *row)
{
	FetchByKey(project_id, participant, kind, need, lock, row, true);
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
 * The participant id of each element of a JSON array of participantIdentifiers
 * (or ids with query_by_id), in the array's order; 22023 for a malformed
 * list, PT404 naming the first element that is not in the project. *texts
 * receives the elements as given.
 */
Datum *
PtResolveParticipantList(pg_uuid_t *project_id, Jsonb *list, bool query_by_id,
						 int *nout, char ***textsout)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;
	Datum	   *elems;
	char	  **texts;
	Oid			types[2] = {UUIDOID, query_by_id ? UUIDARRAYOID : TEXTARRAYOID};
	Datum		args[2];
	Datum		ids;
	bool		isnull;
	Datum	   *out;
	bool	   *outnulls;
	int			nids;
	int64		missing;
	MemoryContext cxt = CurrentMemoryContext;

	if (!JB_ROOT_IS_ARRAY(list) || JB_ROOT_IS_SCALAR(list))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"participants\": expected an array of %s",
						query_by_id ? "participant ids" : "participantIdentifiers")));
	elems = palloc(sizeof(Datum) * Max(JB_ROOT_COUNT(list), 1));
	texts = palloc(sizeof(char *) * Max(JB_ROOT_COUNT(list), 1));
	it = JsonbIteratorInit(&list->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_ELEM)
			continue;
		key = psprintf("participants[%d]", n);
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": expected a string, got %s",
							key, PtJsonbTypeName(&v))));
		texts[n] = pnstrdup(v.val.string.val, v.val.string.len);
		if (query_by_id)
		{
			pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

			PtParseUuid(texts[n], key, id);
			elems[n] = UUIDPGetDatum(id);
		}
		else
			elems[n] = CStringGetTextDatum(texts[n]);
		n++;
	}
	*nout = n;
	*textsout = texts;
	if (n == 0)
		return elems;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(construct_array(elems, n, query_by_id ? UUIDOID : TEXTOID,
											  query_by_id ? UUID_LEN : -1, false,
											  query_by_id ? TYPALIGN_CHAR : TYPALIGN_INT));
	SPI_connect();
	if (plans[query_by_id] == NULL)
		PtPreparePlan(&plans[query_by_id], query_by_id ?
					  "SELECT pg_catalog.array_agg(p.id ORDER BY a.n), min(a.n) FILTER (WHERE p.id IS NULL) "
					  "FROM pg_catalog.unnest($2) WITH ORDINALITY a(k, n) "
					  "LEFT JOIN participants.participant p ON p.project_id = $1 AND p.id = a.k" :
					  "SELECT pg_catalog.array_agg(p.id ORDER BY a.n), min(a.n) FILTER (WHERE p.id IS NULL) "
					  "FROM pg_catalog.unnest($2) WITH ORDINALITY a(k, n) "
					  "LEFT JOIN participants.participant p ON p.project_id = $1 AND p.participant_identifier = a.k",
					  2, types);
	if (PtExecutePlan(plans[query_by_id], args, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "participant lookup failed");
	missing = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (!isnull)
	{
		int			i = (int) missing - 1;

		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant \"%s\" not found", texts[i]),
				 errdetail("At key \"participants[%d]\".", i),
				 query_by_id ? 0 : errhint("Participants are named by participantIdentifier; pass query_by_id => true to name them by id.")));
	}
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	MemoryContextSwitchTo(cxt);
	deconstruct_array(DatumGetArrayTypePCopy(ids), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR,
					  &out, &outnulls, &nids);
	SPI_finish();
	if (nids != n)
		elog(ERROR, "participant lookup returned %d ids for %d elements", nids, n);
	return out;
}
