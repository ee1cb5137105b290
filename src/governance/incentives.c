/*
 * governance/incentives.c
 *		The incentive ledger (doc/governance.md): record_incentive,
 *		update_incentive, list_incentives, incentive_totals, and the
 *		incentive_guard trigger that holds every write to the rules: a
 *		positive amount in an ISO 4217 currency, the status graph pending
 *		-> sent -> claimed (cancelled from any but claimed), the project's
 *		incentiveYearlyLimit unless override_reason is set, and the study
 *		status moved to INCENTIVE_SENT or INCENTIVE_CLAIMED where the
 *		project's graph allows it.
 *
 *		Two incentives of one person racing could each stay under the limit
 *		alone and pass it together; with a limit set, the trigger locks the
 *		participant's row (FOR NO KEY UPDATE) and reads the latest totals.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "governance/governance.h"

#define INCENTIVE_JSON \
	"pg_catalog.jsonb_build_object('incentiveID', i.id, 'personId', i.participant_id, " \
	"'studyID', i.study_id, 'amount', i.amount, 'currency', i.currency, 'status', i.status, " \
	"'externalID', i.external_id, 'note', i.note, 'createdDate', i.created_date, " \
	"'updatedDate', i.updated_date)"

#define MAX_NOTE_LEN 2000
#define MAX_EXTERNAL_ID_LEN 200

enum
{
	IS_PENDING, IS_SENT, IS_CLAIMED, IS_CANCELLED, IS_NUM
};
static const char *const incentive_statuses[IS_NUM] = {"pending", "sent", "claimed", "cancelled"};

/* The override reason the calling function was given (the trigger's) */
static const char *call_override = NULL;

static int
IncentiveStatus(const char *s, const char *key)
{
	int			i;

	for (i = 0; i < IS_NUM; i++)
		if (strcmp(s, incentive_statuses[i]) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for \"%s\": \"%s\" is not an incentive status", key, s),
			 errhint("Incentive statuses: pending, sent, claimed, cancelled.")));
	return -1;
}

static bool
MoveAllowed(int from, int to)
{
	if (from == to)
		return true;
	if (to == IS_CANCELLED)
		return from != IS_CLAIMED;
	return (from == IS_PENDING && to == IS_SENT) || (from == IS_SENT && to == IS_CLAIMED);
}

static bool
Counts(int status)
{
	return status == IS_SENT || status == IS_CLAIMED;
}

/*
 * PT409 when the incentive takes the participant's total for its year and
 * currency above the project's incentiveYearlyLimit (the latest committed
 * incentives, the participant locked)
 */
static void
CheckYearlyLimit(pg_uuid_t *project_id, Datum person_id, Datum id, Datum amount,
				 const char *currency, TimestampTz created)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr limit_plan = NULL;
	Oid			types[5] = {UUIDOID, UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[5];
	Datum		v;
	bool		isnull;
	Datum		total;
	Datum		limit;
	MemoryContext cxt = CurrentMemoryContext;

	/* the limit in this currency, if any */
	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(currency);
	{
		Oid			ltypes[2] = {UUIDOID, TEXTOID};

		SPI_connect();
		if (!PtRunValue(&limit_plan, "SELECT (p.settings #>> '{incentiveYearlyLimit,amount}')::numeric "
						"FROM participants.project p WHERE p.id = $1 "
						"AND p.settings #>> '{incentiveYearlyLimit,currency}' = $2",
						2, ltypes, args, NULL, false, &v, &isnull) || isnull)
		{
			SPI_finish();
			return;
		}
		MemoryContextSwitchTo(cxt);
		limit = datumCopy(v, false, -1);
		SPI_finish();
	}
	args[1] = person_id;
	args[2] = id;
	args[3] = CStringGetTextDatum(currency);
	args[4] = TimestampTzGetDatum(created);
	SPI_connect();
	(void) PtRunValue(&lock_plan, "SELECT 1 FROM participants.participant WHERE project_id = $1 AND id = $2 "
					  "FOR NO KEY UPDATE", 2, types, args, NULL, false, &v, &isnull);
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT COALESCE(pg_catalog.sum(i.amount), 0) FROM participants.incentive i "
					  "WHERE i.project_id = $1 AND i.participant_id = $2 AND i.id <> $3 AND i.currency = $4 "
					  "AND i.status IN ('sent', 'claimed') "
					  "AND pg_catalog.date_part('year', i.created_date AT TIME ZONE 'UTC') = "
					  "pg_catalog.date_part('year', $5 AT TIME ZONE 'UTC')", 5, types);
	if (SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the participant's incentives");
	total = DirectFunctionCall2(numeric_add, SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
								amount);
	if (DatumGetBool(DirectFunctionCall2(numeric_gt, total, limit)))
	{
		char	   *t = numeric_normalize(DatumGetNumeric(total));
		char	   *l = numeric_normalize(DatumGetNumeric(limit));
		char	   *who = PtPersonName(project_id, person_id);

		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("incentive would take participant %s above the yearly limit of %s %s",
						who, l, currency),
				 errdetail("The participant's %s total for the year would be %s.", currency, t),
				 errhint("Pass override_reason to record it anyway (the project setting incentiveYearlyLimit sets the limit).")));
	}
	SPI_finish();
}

/* Move the participant's study status for a sent or claimed incentive, where the graph allows */
static void
MoveStudyStatus(pg_uuid_t *project_id, Datum study_id, Datum person_id, int status)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	Datum		v;
	bool		isnull;
	int			current = -1;
	int			to = status == IS_SENT ? ST_INCENTIVE_SENT : ST_INCENTIVE_CLAIMED;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = study_id;
	args[2] = person_id;
	SPI_connect();
	if (PtRunValue(&plan, "SELECT status FROM participants.study_participant "
				   "WHERE project_id = $1 AND study_id = $2 AND participant_id = $3 FOR NO KEY UPDATE",
				   3, types, args, NULL, false, &v, &isnull))
		current = PtStatusByName(TextDatumGetCString(v));
	SPI_finish();
	if (current >= 0 && PtTransitionAllowed(project_id, current, to))
		(void) PtUpdateStatus(project_id, DatumGetUUIDP(study_id), DatumGetUUIDP(person_id), pt_statuses[to]);
}

/*
 * incentive: BEFORE INSERT OR UPDATE, the rules; AFTER, the study status
 */
PT_TRIGGER_FUNCTION(participants_incentive_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	HeapTuple	oldt = NULL;
	bool		isnull;
	Datum		d;
	int			status;
	int			prior = -1;
	pg_uuid_t  *project_id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "incentive_guard: must fire FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		newt = td->tg_newtuple;
		oldt = td->tg_trigtuple;
	}
	else
		newt = td->tg_trigtuple;
	if (PtInRestore())
		return TRIGGER_FIRED_BEFORE(td->tg_event) ? PointerGetDatum(newt) : PointerGetDatum(NULL);
	d = PtTupleCol(newt, desc, "project_id", &isnull);
	if (isnull)
		return PointerGetDatum(newt);	/* NOT NULL says so */
	project_id = DatumGetUUIDP(d);
	d = PtTupleCol(newt, desc, "status", &isnull);
	if (isnull)
		return PointerGetDatum(newt);
	status = IncentiveStatus(TextDatumGetCString(d), "status");
	if (oldt)
		prior = IncentiveStatus(TextDatumGetCString(PtTupleCol(oldt, desc, "status", &isnull)), "status");

	if (TRIGGER_FIRED_AFTER(td->tg_event))
	{
		if (Counts(status) && status != prior)
			MoveStudyStatus(project_id, PtTupleCol(newt, desc, "study_id", &isnull),
							PtTupleCol(newt, desc, "participant_id", &isnull), status);
		return PointerGetDatum(NULL);
	}

	/* BEFORE */
	{
		Datum		amount = PtTupleCol(newt, desc, "amount", &isnull);
		char	   *currency;
		Datum		cur;
		bool		curnull;
		bool		override_given;
		int			cols[1];
		Datum		values[1];
		bool		nulls[1] = {false};

		if (!isnull && DatumGetBool(DirectFunctionCall2(numeric_le, amount,
														DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"amount\": %s", numeric_normalize(DatumGetNumeric(amount))),
					 errhint("An incentive's amount is more than 0.")));
		if (!isnull && numeric_is_nan(DatumGetNumeric(amount)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"amount\": NaN")));
		cur = PtTupleCol(newt, desc, "currency", &curnull);
		currency = curnull ? NULL : TextDatumGetCString(cur);
		if (currency && (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"currency\": \"%s\" is not an ISO 4217 code", currency),
					 errhint("Use three capital letters, e.g. USD, EUR, GBP.")));
		d = PtTupleCol(newt, desc, "note", &isnull);
		if (!isnull && strlen(TextDatumGetCString(d)) > MAX_NOTE_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"note\": longer than %d characters", MAX_NOTE_LEN)));
		d = PtTupleCol(newt, desc, "external_id", &isnull);
		if (!isnull && (strlen(TextDatumGetCString(d)) > MAX_EXTERNAL_ID_LEN || TextDatumGetCString(d)[0] == '\0'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"external_id\": 1 to %d characters", MAX_EXTERNAL_ID_LEN)));
		if (oldt)
		{
			static const char *const fixed[] = {"project_id", "id", "participant_id", "study_id", "created_date"};
			int			i;

			for (i = 0; i < (int) lengthof(fixed); i++)
				if (PtTupleColChanged(oldt, newt, desc, fixed[i]))
					ereport(ERROR,
							(errcode(ERRCODE_PT_CONFLICT),
							 errmsg("cannot change the %s of an incentive", fixed[i])));
			if (!MoveAllowed(prior, status))
				ereport(ERROR,
						(errcode(ERRCODE_PT_CONFLICT),
						 errmsg("incentive status cannot move from %s to %s",
								incentive_statuses[prior], incentive_statuses[status]),
						 errdetail("Incentives move pending -> sent -> claimed, and to cancelled from any status but claimed.")));
			if ((prior == IS_CLAIMED || prior == IS_CANCELLED) &&
				(PtTupleColChanged(oldt, newt, desc, "amount") || PtTupleColChanged(oldt, newt, desc, "currency")))
				ereport(ERROR,
						(errcode(ERRCODE_PT_CONFLICT),
						 errmsg("cannot change the amount or currency of a %s incentive", incentive_statuses[prior])));
		}
		/* an override: from the calling function, or a raw write setting the column */
		d = PtTupleCol(newt, desc, "override_reason", &isnull);
		override_given = call_override != NULL ||
			(!isnull && (oldt == NULL || PtTupleColChanged(oldt, newt, desc, "override_reason")));
		if (call_override != NULL)
		{
			cols[0] = SPI_fnumber(desc, "override_reason");
			values[0] = CStringGetTextDatum(call_override);
			newt = heap_modify_tuple_by_cols(newt, desc, 1, cols, values, nulls);
		}
		/* counted now and it was not, or with another amount: the limit */
		if (Counts(status) && !override_given && currency != NULL && amount != (Datum) 0 &&
			(oldt == NULL || !Counts(prior) || PtTupleColChanged(oldt, newt, desc, "amount") ||
			 PtTupleColChanged(oldt, newt, desc, "currency")))
		{
			bool		n1,
						n2,
						n3;
			Datum		created = PtTupleCol(newt, desc, "created_date", &n1);
			Datum		id = PtTupleCol(newt, desc, "id", &n2);
			Datum		person = PtTupleCol(newt, desc, "participant_id", &n3);

			/* a null participant is refused by its NOT NULL constraint */
			if (!n1 && !n2 && !n3)
				CheckYearlyLimit(project_id, person, id, amount, currency, DatumGetTimestampTz(created));
		}
		cols[0] = SPI_fnumber(desc, "updated_date");
		values[0] = TimestampTzGetDatum(GetCurrentTimestamp());
		return PointerGetDatum(heap_modify_tuple_by_cols(newt, desc, 1, cols, values, nulls));
	}
}

/* ------------------------------------------------------------------------
 * The functions
 * ------------------------------------------------------------------------
 */

static Jsonb *
IncentiveObject(pg_uuid_t *project_id, Datum id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = id;
	return PtJsonbStatement(&plan, "SELECT " INCENTIVE_JSON " FROM participants.incentive i "
							"WHERE i.project_id = $1 AND i.id = $2", 2, types, args, NULL, false);
}

static const char *
OverrideArg(FunctionCallInfo fcinfo, int arg)
{
	char	   *s;

	if (PG_ARGISNULL(arg))
		return NULL;
	s = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (strspn(s, " \t\r\n") == strlen(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"override_reason\": empty"),
				 errhint("Say why the yearly limit may be passed, or leave override_reason out.")));
	return s;
}

/* Run a write with the call's override reason set for the trigger */
static Datum
WriteWithOverride(SPIPlanPtr plan, Datum *args, const char *nulls, const char *override_reason,
				  bool *found)
{
	volatile Datum v = (Datum) 0;
	bool		isnull;

	call_override = override_reason;
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, nulls, false, 0) < 0)
			elog(ERROR, "could not write the incentive");
		*found = SPI_processed > 0;
		if (*found)
			v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	}
	PG_FINALLY();
	{
		call_override = NULL;
	}
	PG_END_TRY();
	return v;
}

/*
 * The incentive of the call's external_id ($7), locked, into args[8]; false
 * when there is none; PT409 when it is another participant's or study's.
 * Inside SPI.
 */
static bool
FindExternal(SPIPlanPtr find, Datum *args, char *nulls)
{
	bool		isnull;

	if (PtExecutePlan(find, args, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look up the external_id");
	if (SPI_processed == 0)
		return false;
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("external_id \"%s\" is an incentive of another participant or study",
						TextDatumGetCString(args[6])),
				 errhint("An external_id names one incentive; recording it again updates that incentive.")));
	args[8] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	nulls[8] = ' ';
	return true;
}

/*
 * record_incentive(project_id, participant, study_id, amount, currency,
 * status, external_id, note, override_reason, by)
 */
PT_API_FUNCTION(participants_record_incentive)
{
	static SPIPlanPtr ins = NULL;
	static SPIPlanPtr find = NULL;
	static SPIPlanPtr upd = NULL;
	static SPIPlanPtr in_study = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	pg_uuid_t	id;
	const char *override_reason;
	Oid			types[9] = {UUIDOID, UUIDOID, UUIDOID, NUMERICOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, UUIDOID};
	Datum		args[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Datum		v;
	bool		found;
	char	   *status = "sent";

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	PtNotNull(fcinfo, 2, "study_id");
	PtNotNull(fcinfo, 3, "amount");
	PtNotNull(fcinfo, 4, "currency");
	project_id = PG_GETARG_UUID_P(0);
	if (!PG_ARGISNULL(5))
		status = text_to_cstring(PG_GETARG_TEXT_PP(5));
	(void) IncentiveStatus(status, "status");
	override_reason = OverrideArg(fcinfo, 8);
	person = PtPersonBy(project_id, fcinfo, 1, 9);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	args[2] = PG_GETARG_DATUM(2);
	args[3] = PG_GETARG_DATUM(3);
	args[4] = PG_GETARG_DATUM(4);
	args[5] = CStringGetTextDatum(status);
	args[6] = PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6);
	nulls[6] = PG_ARGISNULL(6) ? 'n' : ' ';
	args[7] = PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7);
	nulls[7] = PG_ARGISNULL(7) ? 'n' : ' ';
	args[8] = (Datum) 0;
	nulls[8] = 'n';
	SPI_connect();
	if (ins == NULL)
	{
		PtPreparePlan(&in_study, "SELECT EXISTS (SELECT 1 FROM participants.study s WHERE s.project_id = $1 AND s.id = $3), "
					  "EXISTS (SELECT 1 FROM participants.study_participant sp WHERE sp.project_id = $1 "
					  "AND sp.study_id = $3 AND sp.participant_id = $2)", 3, types);
		PtPreparePlan(&ins, "INSERT INTO participants.incentive (project_id, participant_id, study_id, amount, "
					  "currency, status, external_id, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
					  "ON CONFLICT (project_id, external_id) DO NOTHING RETURNING id", 8, types);
		PtPreparePlan(&find, "SELECT i.id, i.participant_id = $2 AND i.study_id = $3 FROM participants.incentive i "
					  "WHERE i.project_id = $1 AND i.external_id = $7 FOR UPDATE", 7, types);
		PtPreparePlan(&upd, "UPDATE participants.incentive SET amount = $4, currency = $5, status = $6, "
					  "note = COALESCE($8, note) WHERE project_id = $1 AND id = $9 RETURNING id", 9, types);
	}
	if (PtExecutePlan(in_study, args, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the study");
	{
		bool		isnull;
		bool		study_exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		bool		in = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

		if (!study_exists || !in)
		{
			SPI_finish();
			if (!study_exists)
				ereport(ERROR,
						(errcode(ERRCODE_PT_NOT_FOUND),
						 errmsg("study %s not found", PtUuidText(PG_GETARG_UUID_P(2)))));
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("participant \"%s\" is not in study %s", text_to_cstring(PG_GETARG_TEXT_PP(1)),
							PtUuidText(PG_GETARG_UUID_P(2))),
					 errhint("An incentive is paid for a study the participant is in; add_study_participants adds participants to a study.")));
		}
	}
	/* an external_id known already: that incentive, updated (else a new one) */
	found = false;
	if (nulls[6] == ' ')
		found = FindExternal(find, args, nulls);
	if (!found)
		v = WriteWithOverride(ins, args, nulls, override_reason, &found);
	else
		found = false;
	if (!found)
	{
		if (!FindExternal(find, args, nulls))
			elog(ERROR, "could not find the incentive of external_id");
		v = WriteWithOverride(upd, args, nulls, override_reason, &found);
	}
	memcpy(id.data, DatumGetUUIDP(v)->data, UUID_LEN);
	SPI_finish();
	PG_RETURN_JSONB_P(IncentiveObject(project_id, UUIDPGetDatum(&id)));
}

/* update_incentive(project_id, incentive_id, status, override_reason) */
PT_API_FUNCTION(participants_update_incentive)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];
	bool		found;
	const char *override_reason;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "incentive_id");
	PtNotNull(fcinfo, 2, "status");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	(void) IncentiveStatus(text_to_cstring(PG_GETARG_TEXT_PP(2)), "status");
	override_reason = OverrideArg(fcinfo, 3);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = PG_GETARG_DATUM(2);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "UPDATE participants.incentive SET status = $3 "
					  "WHERE project_id = $1 AND id = $2 RETURNING id", 3, types);
	(void) WriteWithOverride(plan, args, NULL, override_reason, &found);
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("incentive %s not found", PtUuidText(PG_GETARG_UUID_P(1)))));
	PG_RETURN_JSONB_P(IncentiveObject(project_id, PG_GETARG_DATUM(1)));
}

/*
 * list_incentives(project_id, participant, study_id, status, page_number,
 * page_size, by)
 */
PT_API_FUNCTION(participants_list_incentives)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	int32		page_number = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT32(4);
	int32		page_size = PG_ARGISNULL(5) ? 20 : PG_GETARG_INT32(5);
	Oid			types[7] = {UUIDOID, UUIDOID, UUIDOID, TEXTOID, INT4OID, INT4OID, INT8OID};
	Datum		args[7];
	char		nulls[7] = {' ', 'n', 'n', 'n', ' ', ' ', ' '};

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "incentives");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = args[2] = args[3] = (Datum) 0;
	if (!PG_ARGISNULL(1))
	{
		pg_uuid_t  *person;

		person = PtPersonBy(project_id, fcinfo, 1, 6);
		args[1] = UUIDPGetDatum(person);
		nulls[1] = ' ';
	}
	else
		(void) PtByArg(fcinfo, 6);
	if (!PG_ARGISNULL(2))
	{
		static SPIPlanPtr sp = NULL;
		Oid			st[2] = {UUIDOID, UUIDOID};
		Datum		sa[2];

		sa[0] = UUIDPGetDatum(project_id);
		sa[1] = PG_GETARG_DATUM(2);
		if (!PtRowExists(&sp, "SELECT 1 FROM participants.study WHERE project_id = $1 AND id = $2",
						 2, st, sa, NULL, true))
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("study %s not found", PtUuidText(PG_GETARG_UUID_P(2)))));
		args[2] = PG_GETARG_DATUM(2);
		nulls[2] = ' ';
	}
	if (!PG_ARGISNULL(3))
	{
		(void) IncentiveStatus(text_to_cstring(PG_GETARG_TEXT_PP(3)), "status");
		args[3] = PG_GETARG_DATUM(3);
		nulls[3] = ' ';
	}
	args[4] = Int32GetDatum(page_number);
	args[5] = Int32GetDatum(page_size);
	args[6] = Int64GetDatum((int64) page_number * page_size);
#define INCENTIVE_WHERE \
	" FROM participants.incentive i WHERE i.project_id = $1 AND ($2::uuid IS NULL OR i.participant_id = $2) " \
	"AND ($3::uuid IS NULL OR i.study_id = $3) AND ($4::text IS NULL OR i.status = $4)"
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan,
									   "SELECT pg_catalog.jsonb_build_object('pageNumber', $5, 'pageSize', $6, "
									   "'totalIncentives', (SELECT pg_catalog.count(*)" INCENTIVE_WHERE "), "
									   "'incentives', COALESCE((SELECT pg_catalog.jsonb_agg(" INCENTIVE_JSON
									   " ORDER BY i.created_date, i.id) FROM (SELECT *" INCENTIVE_WHERE
									   " ORDER BY i.created_date, i.id LIMIT $6 OFFSET $7) i), '[]'))",
									   7, types, args, nulls, true));
}

/* incentive_totals(project_id, year) */
PT_API_FUNCTION(participants_incentive_totals)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	int32		year;
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		args[2];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "year");
	project_id = PG_GETARG_UUID_P(0);
	year = PG_GETARG_INT32(1);
	if (year < 1 || year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"year\": %d", year),
				 errhint("A calendar year, e.g. 2026.")));
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = Int32GetDatum(year);
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan,
									   "SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
									   "'personId', t.participant_id, 'currency', t.currency, 'total', t.total) "
									   "ORDER BY t.participant_id, t.currency), '[]') FROM ("
									   "SELECT i.participant_id, i.currency, pg_catalog.sum(i.amount) AS total "
									   "FROM participants.incentive i WHERE i.project_id = $1 "
									   "AND i.status IN ('sent', 'claimed') "
									   "AND i.created_date >= pg_catalog.make_timestamptz($2, 1, 1, 0, 0, 0, 'UTC') "
									   "AND i.created_date < pg_catalog.make_timestamptz($2 + 1, 1, 1, 0, 0, 0, 'UTC') "
									   "GROUP BY i.participant_id, i.currency) t",
									   2, types, args, NULL, true));
}
