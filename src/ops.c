/*
 * ops.c
 *		Single-participant operations: get_participant, enroll_participant,
 *		withdraw_participant and delete_participant.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "pt.h"

typedef enum FetchKind
{
	FETCH_BY_IDENT,
	FETCH_BY_ID,
	FETCH_BY_IDENT_LOCK,
	FETCH_BY_ID_LOCK,
	ENROLL_BY_ID,
	WITHDRAW_BY_ID,
	DELETE_BY_ID,
	NUM_PLANS
} FetchKind;

static SPIPlanPtr plans[NUM_PLANS];

static const char *const plan_sql[NUM_PLANS] = {
	"SELECT " PT_RECORD_COLUMNS " FROM participants.participant "
	"WHERE project_id = $1 AND participant_identifier = $2::text",
	"SELECT " PT_RECORD_COLUMNS " FROM participants.participant "
	"WHERE project_id = $1 AND id = $2::uuid",
	"SELECT " PT_RECORD_COLUMNS " FROM participants.participant "
	"WHERE project_id = $1 AND participant_identifier = $2::text FOR UPDATE",
	"SELECT " PT_RECORD_COLUMNS " FROM participants.participant "
	"WHERE project_id = $1 AND id = $2::uuid FOR UPDATE",
	"UPDATE participants.participant SET enrollment_date = pg_catalog.statement_timestamp(), "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $1 AND id = $2::uuid RETURNING " PT_RECORD_COLUMNS,
	"UPDATE participants.participant SET withdraw_date = pg_catalog.statement_timestamp(), "
	"updated_date = pg_catalog.statement_timestamp() "
	"WHERE project_id = $1 AND id = $2::uuid RETURNING " PT_RECORD_COLUMNS,
	"DELETE FROM participants.participant "
	"WHERE project_id = $1 AND id = $2::uuid RETURNING " PT_RECORD_COLUMNS,
};

/* Run one of this file's statements and copy its single row into rec */
static bool
RunPlan(FetchKind kind, pg_uuid_t *project_id, Datum key, PtRecord *rec,
		MemoryContext cxt)
{
	Oid			types[2] = {UUIDOID, (kind == FETCH_BY_IDENT || kind == FETCH_BY_IDENT_LOCK) ? TEXTOID : UUIDOID};
	Datum		args[2];
	int			ret;
	bool		found;

	if (plans[kind] == NULL)
		PtPreparePlan(&plans[kind], plan_sql[kind], 2, types);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = key;
	/* no row limit: a limit would stop a write before its statement triggers */
	ret = PtExecutePlan(plans[kind], args, NULL, kind < FETCH_BY_IDENT_LOCK, 0);
	if (ret < 0)
		elog(ERROR, "participant statement failed: %s", SPI_result_code_string(ret));
	found = SPI_processed > 0;
	if (found)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		PtRecordFromTuple(rec, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);
	return found;
}

/*
 * Find a participant by identifier or id (SPI must be connected); PT404 when
 * there is none. The record is allocated in cxt.
 */
static void
FetchParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id,
				 bool for_update, PtRecord *rec, MemoryContext cxt)
{
	char	   *ptext = text_to_cstring(participant);
	Datum		key;
	bool		found;

	(void) PtGetProject(project_id);
	PtRefreshPlans();
	if (query_by_id)
	{
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		PtParseUuid(ptext, "participant", id);
		key = UUIDPGetDatum(id);
		found = RunPlan(for_update ? FETCH_BY_ID_LOCK : FETCH_BY_ID, project_id, key, rec, cxt);
	}
	else
	{
		key = PointerGetDatum(participant);
		found = RunPlan(for_update ? FETCH_BY_IDENT_LOCK : FETCH_BY_IDENT, project_id, key, rec, cxt);
	}
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant \"%s\" not found", ptext),
				 query_by_id ? 0 : errhint("The participant is looked up by participantIdentifier; pass query_by_id => true to look it up by id.")));
}

/* Check the common arguments (project_id, participant, query_by_id) */
static void
CheckArgs(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null",
						PG_ARGISNULL(0) ? "project_id" : "participant")));
}

PG_FUNCTION_INFO_V1(participants_get_participant);
/* get_participant(project_id, participant, query_by_id) */
Datum
participants_get_participant(PG_FUNCTION_ARGS)
{
	PtRecord	rec;
	MemoryContext cxt = CurrentMemoryContext;
	int			planner;

	CheckArgs(fcinfo);
	planner = PtPlannerBegin();
	SPI_connect();
	FetchParticipant(PG_GETARG_UUID_P(0), PG_GETARG_TEXT_PP(1),
					 !PG_ARGISNULL(2) && PG_GETARG_BOOL(2), false, &rec, cxt);
	SPI_finish();
	PtPlannerEnd(planner);
	PG_RETURN_JSONB_P(PtRecordToJsonb(&rec, false, 0));
}

PG_FUNCTION_INFO_V1(participants_enroll_participant);
/* enroll_participant(project_id, participant, query_by_id) */
Datum
participants_enroll_participant(PG_FUNCTION_ARGS)
{
	PtRecord	rec;
	MemoryContext cxt = CurrentMemoryContext;
	int			planner;
	pg_uuid_t  *project_id = PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0);
	const char *action = "none";

	CheckArgs(fcinfo);
	planner = PtPlannerBegin();
	SPI_connect();
	FetchParticipant(project_id, PG_GETARG_TEXT_PP(1),
					 !PG_ARGISNULL(2) && PG_GETARG_BOOL(2), true, &rec, cxt);
	if (rec.has_withdraw)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant \"%s\" is withdrawn and cannot be enrolled",
						rec.participant_identifier),
				 errdetail("Withdrawal is final.")));
	if (!rec.has_enrollment)
	{
		pg_uuid_t	id = rec.id;

		(void) RunPlan(ENROLL_BY_ID, project_id, UUIDPGetDatum(&id), &rec, cxt);
		action = "update";
	}
	SPI_finish();
	PtPlannerEnd(planner);
	PG_RETURN_JSONB_P(PtActionResult(action, &rec));
}

PG_FUNCTION_INFO_V1(participants_withdraw_participant);
/* withdraw_participant(project_id, participant, query_by_id) */
Datum
participants_withdraw_participant(PG_FUNCTION_ARGS)
{
	PtRecord	rec;
	MemoryContext cxt = CurrentMemoryContext;
	int			planner;
	pg_uuid_t  *project_id = PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0);
	pg_uuid_t	id;

	CheckArgs(fcinfo);
	planner = PtPlannerBegin();
	SPI_connect();
	FetchParticipant(project_id, PG_GETARG_TEXT_PP(1),
					 !PG_ARGISNULL(2) && PG_GETARG_BOOL(2), true, &rec, cxt);
	if (rec.has_withdraw)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant \"%s\" is already withdrawn", rec.participant_identifier),
				 errdetail("Withdrawal is final; its date cannot be moved.")));
	id = rec.id;
	(void) RunPlan(WITHDRAW_BY_ID, project_id, UUIDPGetDatum(&id), &rec, cxt);
	SPI_finish();
	PtPlannerEnd(planner);
	PG_RETURN_JSONB_P(PtActionResult("update", &rec));
}

PG_FUNCTION_INFO_V1(participants_delete_participant);
/* delete_participant(project_id, participant, query_by_id) */
Datum
participants_delete_participant(PG_FUNCTION_ARGS)
{
	PtRecord	rec;
	MemoryContext cxt = CurrentMemoryContext;
	int			planner;
	pg_uuid_t  *project_id = PG_ARGISNULL(0) ? NULL : PG_GETARG_UUID_P(0);
	pg_uuid_t	id;

	CheckArgs(fcinfo);
	planner = PtPlannerBegin();
	SPI_connect();
	FetchParticipant(project_id, PG_GETARG_TEXT_PP(1),
					 !PG_ARGISNULL(2) && PG_GETARG_BOOL(2), true, &rec, cxt);
	id = rec.id;
	(void) RunPlan(DELETE_BY_ID, project_id, UUIDPGetDatum(&id), &rec, cxt);
	SPI_finish();
	PtPlannerEnd(planner);
	PG_RETURN_JSONB_P(PtActionResult("delete", &rec));
}
