/*
 * records/retention.c
 *		apply_retention (doc/lifecycle.md#retention): for each project with
 *		the setting retention, erase the participants withdrawn longer than
 *		withdrawnDays (as erase_participant does, reason "retention"), delete
 *		the events older than eventDays that no webhook still has to deliver
 *		(archiving the status history they carry in status_archive first, so
 *		status_history stays complete), the delivery records older than
 *		deliveryDays and the audit rows older than auditDays.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "records/records.h"

typedef struct Totals
{
	int64		erased;
	int64		events;
	int64		deliveries;
	int64		audit;
} Totals;

/* One statement with $1 the project and $2 the days; the rows it touched */
static int64
RunAged(SPIPlanPtr *slot, const char *sql, pg_uuid_t *project_id, int32 days)
{
	Oid			types[2] = {UUIDOID, INT4OID};
	Datum		args[2];
	Datum		v;
	bool		isnull;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = Int32GetDatum(days);
	if (!PtRunValue(slot, sql, 2, types, args, NULL, false, &v, &isnull) || isnull)
		return 0;
	return DatumGetInt64(v);
}

/* The whole days of retention.key, or 0 when not set */
static int32
Days(Jsonb *retention, const char *key)
{
	JsonbValue *v;

	if (retention == NULL)
		return 0;
	v = getKeyJsonValueFromContainer(&retention->root, key, strlen(key), NULL);
	if (v == NULL || v->type != jbvNumeric)
		return 0;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
}

static void
ApplyProject(pg_uuid_t *project_id, Jsonb *retention, Totals *t)
{
	static SPIPlanPtr withdrawn_plan = NULL;
	static SPIPlanPtr events_plan = NULL;
	static SPIPlanPtr deliveries_plan = NULL;
	static SPIPlanPtr audit_plan = NULL;
	int32		days;
	MemoryContext cxt = CurrentMemoryContext;

	if ((days = Days(retention, "withdrawnDays")) > 0)
	{
		Oid			types[2] = {UUIDOID, INT4OID};
		Datum		args[2];
		Datum	   *ids;
		uint64		n,
					i;

		args[0] = UUIDPGetDatum(project_id);
		args[1] = Int32GetDatum(days);
		SPI_connect();
		if (withdrawn_plan == NULL)
			PtPreparePlan(&withdrawn_plan, "SELECT id FROM participants.participant WHERE project_id = $1 "
						  "AND withdraw_date < pg_catalog.now() - $2 * pg_catalog.make_interval(hours => 24) ORDER BY id",
						  2, types);
		if (PtExecutePlan(withdrawn_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list withdrawn participants");
		n = SPI_processed;
		MemoryContextSwitchTo(cxt);
		ids = palloc(sizeof(Datum) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = datumCopy(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull),
							   false, UUID_LEN);
		}
		SPI_finish();
		for (i = 0; i < n; i++)
			if (PtErase(project_id, ids[i], "retention") != NULL)
				t->erased++;
	}

	SPI_connect();
	if ((days = Days(retention, "eventDays")) > 0)
	{
		pt_lifecycle_writing = true;
		PG_TRY();
		{
			t->events += RunAged(&events_plan,
								 "WITH kept AS (SELECT coalesce(pg_catalog.min(coalesce(w.last_delivered_event_id, 0)), "
								 "9223372036854775807) AS upto FROM participants.webhook w WHERE w.project_id = $1), "
								 "gone AS (DELETE FROM participants.event e WHERE e.project_id = $1 "
								 "AND e.created_date < pg_catalog.now() - $2 * pg_catalog.make_interval(hours => 24) "
								 "AND e.event_type <> 'person.opted_out' "
								 "AND e.id <= (SELECT upto FROM kept) RETURNING e.*), "
								 "archived AS (INSERT INTO participants.status_archive (project_id, participant_id, study_id, "
								 "event_id, status, prior_status, updated_at) "
								 "SELECT g.project_id, g.person_id, g.study_id, g.id, g.payload ->> 'status', "
								 "g.payload ->> 'priorStatus', g.payload ->> 'updatedAt' FROM gone g "
								 "WHERE g.event_type = 'participant.status_changed' AND g.person_id IS NOT NULL "
								 "AND g.study_id IS NOT NULL ON CONFLICT DO NOTHING) "
								 "SELECT pg_catalog.count(*) FROM gone",
								 project_id, days);
		}
		PG_FINALLY();
		{
			pt_lifecycle_writing = false;
		}
		PG_END_TRY();
	}
	if ((days = Days(retention, "deliveryDays")) > 0)
		t->deliveries += RunAged(&deliveries_plan,
								 "WITH gone AS (DELETE FROM participants.webhook_delivery d WHERE d.project_id = $1 "
								 "AND d.attempted_date < pg_catalog.now() - $2 * pg_catalog.make_interval(hours => 24) RETURNING 1) "
								 "SELECT pg_catalog.count(*) FROM gone",
								 project_id, days);
	if ((days = Days(retention, "auditDays")) > 0)
	{
		pt_audit_maintenance = true;
		PG_TRY();
		{
			t->audit += RunAged(&audit_plan,
								"WITH gone AS (DELETE FROM participants.audit a WHERE a.project_id = $1 "
								"AND a.audit_date < pg_catalog.now() - $2 * pg_catalog.make_interval(hours => 24) RETURNING 1) "
								"SELECT pg_catalog.count(*) FROM gone",
								project_id, days);
		}
		PG_FINALLY();
		{
			pt_audit_maintenance = false;
		}
		PG_END_TRY();
	}
	SPI_finish();
}

/* apply_retention(project_id): null for every project the caller may use */
PT_API_FUNCTION(participants_apply_retention)
{
	static SPIPlanPtr one_plan = NULL;
	static SPIPlanPtr all_plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDARRAYOID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Totals		t;
	MemoryContext cxt = CurrentMemoryContext;
	pg_uuid_t  *projects;
	Jsonb	  **settings;
	uint64		n,
				i;
	Oid			caller = PtCaller();
	JsonbParseState *state = NULL;

	memset(&t, 0, sizeof(t));
	if (!PG_ARGISNULL(0))
		(void) PtGetProject(PG_GETARG_UUID_P(0));
	SPI_connect();
	if (!PG_ARGISNULL(0))
	{
		args[0] = PG_GETARG_DATUM(0);
		if (one_plan == NULL)
			PtPreparePlan(&one_plan, "SELECT id, settings -> 'retention' FROM participants.project "
						  "WHERE id = $1 AND settings ? 'retention'", 1, types);
		if (PtExecutePlan(one_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the project's settings");
	}
	else
	{
		args[0] = (Datum) 0;
		nulls[0] = 'n';
		if (PtUnconfined(caller))
			nulls[1] = 'n';
		else
			args[1] = PointerGetDatum(PtAllowedProjects(caller));
		if (all_plan == NULL)
			PtPreparePlan(&all_plan, "SELECT id, settings -> 'retention' FROM participants.project "
						  "WHERE settings ? 'retention' AND ($2::uuid[] IS NULL OR id = ANY ($2)) ORDER BY id",
						  2, types);
		if (PtExecutePlan(all_plan, args, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the projects' settings");
	}
	n = SPI_processed;
	MemoryContextSwitchTo(cxt);
	projects = palloc(sizeof(pg_uuid_t) * Max(n, 1));
	settings = palloc(sizeof(Jsonb *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		memcpy(projects[i].data, DatumGetUUIDP(d)->data, UUID_LEN);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		settings[i] = isnull ? NULL : DatumGetJsonbPCopy(d);
	}
	SPI_finish();

	for (i = 0; i < n; i++)
		ApplyProject(&projects[i], settings[i], &t);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "participantsErased", t.erased);
	PtPushNumber(&state, "eventsDeleted", t.events);
	PtPushNumber(&state, "deliveriesDeleted", t.deliveries);
	PtPushNumber(&state, "auditDeleted", t.audit);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}
