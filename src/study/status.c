/*
 * study/status.c
 *		Study participant statuses (doc/studies.md): the 22 statuses, each
 *		project's transition graph (table status_transition, cached per
 *		backend), the trigger that enforces it and has an event written for
 *		every status change (events.c), and the opt-out and withdrawal
 *		cascades.
 *
 *		Every event is written by a BEFORE trigger:
 *		a change of an existing study participant in the BEFORE UPDATE
 *		trigger, where the row is already locked; a new study participant's
 *		first event in the BEFORE INSERT trigger, noted as pending until the
 *		AFTER INSERT trigger confirms the row went in. A row that INSERT ...
 *		ON CONFLICT DO NOTHING skipped is never confirmed, and the
 *		statement's AFTER trigger deletes its event. Only a restore
 *		(PtInRestore) loads rows with their last_event_id and history, and
 *		events; anyone else's INSERT of either is refused.
 *
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "utils/fmgroids.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/snapmgr.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "study/study.h"

const char *const pt_statuses[PT_NUM_STATUSES] = {
	"NOT_STARTED", "INVITE_SENT", "NOT_ELIGIBLE", "SCREENER_STARTED",
	"SCREENER_COMPLETED", "SCREENER_QUALIFIED", "SCREENER_DISQUALIFIED",
	"INTERVIEW_INVITE_SENT", "INTERVIEW_SCHEDULED", "INTERVIEW_COMPLETED",
	"INTERVIEW_CANCELLED", "INTERVIEW_NO_SHOWED", "SURVEY_STARTED",
	"SURVEY_COMPLETED", "INCENTIVE_SENT", "INCENTIVE_CLAIMED",
	"UNMODERATED_TEST_INVITE_SENT", "UNMODERATED_TEST_STARTED",
	"UNMODERATED_TEST_COMPLETED", "COMPLETED_STUDY", "CANCELLED", "OPTED_OUT"
};

/*
 * The default graph, besides CANCELLED and OPTED_OUT from every non-final
 * status: each path in its natural order; a qualified screener leads to an
 * interview invite, a survey or an unmoderated-test invite; an incentive
 * after any completed interview, survey or unmoderated test; the study
 * completes after one of those or an incentive.
 */
static const PtStatus default_edges[][2] = {
	{ST_NOT_STARTED, ST_INVITE_SENT},
	{ST_NOT_STARTED, ST_NOT_ELIGIBLE},
	{ST_NOT_STARTED, ST_INTERVIEW_INVITE_SENT},
	{ST_NOT_STARTED, ST_UNMODERATED_TEST_INVITE_SENT},
	{ST_INVITE_SENT, ST_SCREENER_STARTED},
	{ST_INVITE_SENT, ST_SURVEY_STARTED},
	{ST_INVITE_SENT, ST_NOT_ELIGIBLE},
	{ST_SCREENER_STARTED, ST_SCREENER_COMPLETED},
	{ST_SCREENER_COMPLETED, ST_SCREENER_QUALIFIED},
	{ST_SCREENER_COMPLETED, ST_SCREENER_DISQUALIFIED},
	{ST_SCREENER_QUALIFIED, ST_INTERVIEW_INVITE_SENT},
	{ST_SCREENER_QUALIFIED, ST_SURVEY_STARTED},
	{ST_SCREENER_QUALIFIED, ST_UNMODERATED_TEST_INVITE_SENT},
	{ST_INTERVIEW_INVITE_SENT, ST_INTERVIEW_SCHEDULED},
	{ST_INTERVIEW_SCHEDULED, ST_INTERVIEW_COMPLETED},
	{ST_INTERVIEW_SCHEDULED, ST_INTERVIEW_CANCELLED},
	{ST_INTERVIEW_SCHEDULED, ST_INTERVIEW_NO_SHOWED},
	{ST_INTERVIEW_CANCELLED, ST_INTERVIEW_SCHEDULED},
	{ST_INTERVIEW_NO_SHOWED, ST_INTERVIEW_SCHEDULED},
	{ST_SURVEY_STARTED, ST_SURVEY_COMPLETED},
	{ST_UNMODERATED_TEST_INVITE_SENT, ST_UNMODERATED_TEST_STARTED},
	{ST_UNMODERATED_TEST_STARTED, ST_UNMODERATED_TEST_COMPLETED},
	{ST_INTERVIEW_COMPLETED, ST_INCENTIVE_SENT},
	{ST_SURVEY_COMPLETED, ST_INCENTIVE_SENT},
	{ST_UNMODERATED_TEST_COMPLETED, ST_INCENTIVE_SENT},
	{ST_INCENTIVE_SENT, ST_INCENTIVE_CLAIMED},
	{ST_INTERVIEW_COMPLETED, ST_COMPLETED_STUDY},
	{ST_SURVEY_COMPLETED, ST_COMPLETED_STUDY},
	{ST_UNMODERATED_TEST_COMPLETED, ST_COMPLETED_STUDY},
	{ST_INCENTIVE_SENT, ST_COMPLETED_STUDY},
	{ST_INCENTIVE_CLAIMED, ST_COMPLETED_STUDY},
};

PtStatusCall pt_status_call;
bool		pt_study_add_checked = false;

/* set while a cascade (opt-out, withdrawal) moves statuses past the graph */
static bool cascade_active = false;

bool
PtStatusIsFinal(int status)
{
	return status == ST_COMPLETED_STUDY || status == ST_CANCELLED || status == ST_OPTED_OUT;
}

/* The status named, or -1 */
int
PtStatusByName(const char *name)
{
	int			i;

	for (i = 0; i < PT_NUM_STATUSES; i++)
		if (strcmp(name, pt_statuses[i]) == 0)
			return i;
	return -1;
}

static char *
StatusList(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < PT_NUM_STATUSES; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", pt_statuses[i]);
	return buf.data;
}

/* The status named; 22023 naming "key" when it is none of the 22 */
int
PtCheckStatus(const char *name, const char *key)
{
	int			s = PtStatusByName(name);

	if (s < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": \"%s\" is not a status", key, name),
				 errhint("Statuses: %s.", StatusList())));
	return s;
}

/* The graph table's oid: looked up on first use, or set by its statement trigger */
static Oid	transition_relid = InvalidOid;

/* ------------------------------------------------------------------------
 * Per-backend cache of each project's graph: for each status, a bit per
 * status it may move to. Dropped when status_transition changes (a
 * relcache invalidation sent by its statement trigger, seen by other
 * backends from their next transaction) and when a transaction that
 * changed it rolls back.
 * ------------------------------------------------------------------------
 */
typedef struct GraphEntry
{
	pg_uuid_t	key;
	uint32		next[PT_NUM_STATUSES];
} GraphEntry;

static HTAB *graph_cache = NULL;
static MemoryContext graph_cache_cxt = NULL;
static uint64 graph_cache_resets = 0;	/* to spot one during a load */
static bool graph_callbacks = false;
static bool graph_written_in_xact = false;

/* new rows' pending events (see the top of the file), this transaction */
static HTAB *pending_events = NULL;

static void
GraphCacheReset(Oid relid)
{
	if (relid != InvalidOid && relid != transition_relid)
		return;
	graph_cache_resets++;
	if (graph_cache == NULL)
		return;
	/* entries are read only between lookups: no caller holds one */
	MemoryContextDelete(graph_cache_cxt);
	graph_cache_cxt = NULL;
	graph_cache = NULL;
}

static void
StatusXactCallback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) &&
		graph_written_in_xact)
		GraphCacheReset(InvalidOid);
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		graph_written_in_xact = false;
		pending_events = NULL;	/* its memory goes with the transaction */
		cascade_active = false;
		pt_study_add_checked = false;
		memset(&pt_status_call, 0, sizeof(pt_status_call));
	}
}

static void
StatusSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && graph_written_in_xact)
		GraphCacheReset(InvalidOid);
}

static void
InitStatusCallbacks(void)
{
	if (!graph_callbacks)
	{
		PtCacheRegister(GraphCacheReset);
		RegisterXactCallback(StatusXactCallback, NULL);
		RegisterSubXactCallback(StatusSubXactCallback, NULL);
		graph_callbacks = true;
	}
}

/* The project's graph */
static GraphEntry *
ProjectGraph(pg_uuid_t *project_id)
{
	static SPIPlanPtr plan = NULL;
	GraphEntry	graph;
	GraphEntry *entry;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	uint64		i;
	bool		found;
	uint64		resets;

	InitStatusCallbacks();
	if (!OidIsValid(transition_relid))
		transition_relid = PtTableRelid("status_transition");
	resets = graph_cache_resets;
	if (graph_cache != NULL)
	{
		entry = hash_search(graph_cache, project_id, HASH_FIND, NULL);
		if (entry)
			return entry;
	}

	memset(&graph, 0, sizeof(graph));
	memcpy(graph.key.data, project_id->data, UUID_LEN);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT from_status, to_status FROM participants.status_transition "
					  "WHERE project_id = $1", 1, types);
	args[0] = UUIDPGetDatum(project_id);
	/* the latest snapshot: a graph committed by now, at any isolation level */
	if (SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read status transitions");
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *from = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *to = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		int			f = PtStatusByName(from);
		int			t = PtStatusByName(to);

		/* status_transition_guard lets no other row in */
		if (f >= 0 && t >= 0)
			graph.next[f] |= (uint32) 1 << t;
	}
	SPI_finish();

	/* an invalidation during the load may predate what it read: use it once */
	if (resets != graph_cache_resets)
	{
		entry = palloc(sizeof(GraphEntry));
		memcpy(entry, &graph, sizeof(graph));
		return entry;
	}
	if (graph_cache == NULL)
		graph_cache = PtCacheCreate("participants status graph cache", sizeof(pg_uuid_t),
									sizeof(GraphEntry), &graph_cache_cxt);
	entry = hash_search(graph_cache, project_id, HASH_ENTER, &found);
	memcpy(entry, &graph, sizeof(graph));
	return entry;
}

/* The statuses "from" may move to, for a hint */
static char *
NextStatuses(GraphEntry *graph, int from)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < PT_NUM_STATUSES; i++)
		if (graph->next[from] & ((uint32) 1 << i))
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", pt_statuses[i]);
	return buf.data;
}

/* PT409 unless the project's graph allows from -> to */
static void
CheckTransition(pg_uuid_t *project_id, int from, int to)
{
	GraphEntry *graph;

	if (PtStatusIsFinal(from))
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("status transition from %s to %s is not allowed", pt_statuses[from], pt_statuses[to]),
				 errdetail("%s is final.", pt_statuses[from])));
	if (from == to)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("status transition from %s to %s is not allowed", pt_statuses[from], pt_statuses[to]),
				 errdetail("The participant is already at %s.", pt_statuses[from])));
	graph = ProjectGraph(project_id);
	if (!(graph->next[from] & ((uint32) 1 << to)))
	{
		char	   *next = NextStatuses(graph, from);

		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("status transition from %s to %s is not allowed", pt_statuses[from], pt_statuses[to]),
				 errdetail("The project's participants.status_transition has no row (%s, %s).",
						   pt_statuses[from], pt_statuses[to]),
				 next[0] ? errhint("From %s the participant may move to %s.", pt_statuses[from], next) : 0));
	}
}

/* Whether the project's graph allows from -> to (an incentive's move) */
bool
PtTransitionAllowed(pg_uuid_t *project_id, int from, int to)
{
	if (PtStatusIsFinal(from) || from == to)
		return false;
	return (ProjectGraph(project_id)->next[from] & ((uint32) 1 << to)) != 0;
}

/* ------------------------------------------------------------------------
 * study_participant triggers
 * ------------------------------------------------------------------------
 */
enum
{
	SP_PROJECT, SP_ID, SP_STUDY, SP_PARTICIPANT, SP_STATUS, SP_CODE,
	SP_LAST_EVENT, SP_CREATED, SP_UPDATED, SP_NCOLS
};
static const char *const sp_cols[SP_NCOLS] = {
	"project_id", "id", "study_id", "participant_id", "status", "completion_code",
	"last_event_id", "created_date", "updated_date"
};
static struct
{
	Oid			relid;
	int			att[SP_NCOLS];	/* 1-based */
} spcols;

static void
LoadSpColumns(Relation rel)
{
	int			i;

	if (spcols.relid == RelationGetRelid(rel))
		return;
	for (i = 0; i < SP_NCOLS; i++)
	{
		spcols.att[i] = SPI_fnumber(RelationGetDescr(rel), sp_cols[i]);
		if (spcols.att[i] <= 0)
			elog(ERROR, "study_participant has no column \"%s\"", sp_cols[i]);
	}
	spcols.relid = RelationGetRelid(rel);
}

static Datum
Col(HeapTuple t, TupleDesc desc, int col, bool *isnull)
{
	return heap_getattr(t, spcols.att[col], desc, isnull);
}

/* A column of two versions differs */
static bool
ColChanged(HeapTuple a, HeapTuple b, TupleDesc desc, int col)
{
	bool		n1,
				n2;
	Datum		x = Col(a, desc, col, &n1);
	Datum		y = Col(b, desc, col, &n2);
	Form_pg_attribute att = TupleDescAttr(desc, spcols.att[col] - 1);

	if (n1 || n2)
		return n1 != n2;
	return !datumIsEqual(x, y, att->attbyval, att->attlen);
}

/* The status column's value, checked */
static int
RowStatus(HeapTuple t, TupleDesc desc)
{
	bool		isnull;
	Datum		d = Col(t, desc, SP_STATUS, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"status\": null")));
	return PtCheckStatus(TextDatumGetCString(d), "status");
}

/*
 * A new study participant's participant may join: not withdrawn, not opted
 * out, eligible (live). Locks the participant row against an opt-out or
 * withdrawal racing the insert (whose cascade would miss this row).
 */
static void
CheckNewStudyParticipant(Datum project_id, Datum study_id, Datum person_id)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	bool		isnull;
	const char *why = NULL;
	bool		g = PtHaveGovernance();

	args[0] = project_id;
	args[1] = study_id;
	args[2] = person_id;
	SPI_connect();
	if (plans[g] == NULL)
		PtPreparePlan(&plans[g], psprintf("SELECT p.withdraw_date IS NOT NULL, p.opted_out, " PT_STUDY_LISTS_SQL("$1", "$2")
										  ", %s FROM participants.participant p WHERE p.project_id = $1 AND p.id = $3 FOR SHARE",
										  g ? PT_STUDY_CONSENT_SQL("$1", "$2") : "true"), 3, types);
	if (PtExecutePlan(plans[g], args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the participant");
	/* no row: the foreign key reports it */
	if (SPI_processed == 1)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;

		if (DatumGetBool(SPI_getbinval(t, d, 1, &isnull)))
			why = "is withdrawn";
		else if (DatumGetBool(SPI_getbinval(t, d, 2, &isnull)))
			why = "has opted out";
		else if (!DatumGetBool(SPI_getbinval(t, d, 3, &isnull)))
			why = "is not eligible for the study";
		else if (!DatumGetBool(SPI_getbinval(t, d, 4, &isnull)))
			why = "does not hold the consents the study requires";
	}
	SPI_finish();
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant %s %s", DatumGetCString(DirectFunctionCall1(uuid_out, person_id)), why),
				 errhint("add_study_participants skips such participants and tells why.")));
}

/*
 * A new row's event, written by the BEFORE INSERT trigger, until the AFTER
 * INSERT trigger confirms the row was inserted: its project and id, and the
 * study participant's id
 */
typedef struct PendingEvent
{
	pg_uuid_t	project;
	int64		id;
	pg_uuid_t	sp;
} PendingEvent;

static void
AddPending(pg_uuid_t *project_id, int64 id, pg_uuid_t *sp)
{
	PendingEvent key;
	PendingEvent *e;
	bool		found;

	if (pending_events == NULL)
	{
		HASHCTL		ctl;

		/* the transaction callback forgets the table when its memory goes */
		InitStatusCallbacks();
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = offsetof(PendingEvent, sp);
		ctl.entrysize = sizeof(PendingEvent);
		ctl.hcxt = TopTransactionContext;
		pending_events = hash_create("participants pending events", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.project = *project_id;
	key.id = id;
	e = hash_search(pending_events, &key, HASH_ENTER, &found);
	e->sp = *sp;
}

/* The row of the pending event (project, id) was inserted */
static void
ConfirmPending(pg_uuid_t *project_id, int64 id)
{
	PendingEvent key;

	if (pending_events == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.project = *project_id;
	key.id = id;
	(void) hash_search(pending_events, &key, HASH_REMOVE, NULL);
}

/*
 * At the end of an INSERT statement on study_participant: the first event
 * of a row that was not inserted after all (INSERT ... ON CONFLICT skipped
 * it) is deleted. A pending event whose row exists belongs to a statement
 * still running (its AFTER trigger will confirm it).
 */
static void
DeleteOrphanEvents(void)
{
	static SPIPlanPtr row_plan = NULL;
	static SPIPlanPtr delete_plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, INT8OID};
	Oid			dtypes[2] = {UUIDOID, INT8OID};
	HASH_SEQ_STATUS seq;
	PendingEvent *e;

	if (pending_events == NULL || hash_get_num_entries(pending_events) == 0)
		return;
	SPI_connect();
	if (row_plan == NULL)
	{
		PtPreparePlan(&row_plan, "SELECT 1 FROM participants.study_participant "
					  "WHERE project_id = $1 AND id = $2 AND last_event_id = $3", 3, types);
		PtPreparePlan(&delete_plan, "DELETE FROM participants.event "
					  "WHERE project_id = $1 AND id = $2", 2, dtypes);
	}
	hash_seq_init(&seq, pending_events);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		args[3];

		args[0] = UUIDPGetDatum(&e->project);
		args[1] = UUIDPGetDatum(&e->sp);
		args[2] = Int64GetDatum(e->id);
		if (PtExecutePlan(row_plan, args, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look up a study participant");
		if (SPI_processed > 0)
			continue;
		args[1] = Int64GetDatum(e->id);
		if (PtExecutePlan(delete_plan, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete an event");
		(void) hash_search(pending_events, e, HASH_REMOVE, NULL);
	}
	SPI_finish();
}

/*
 * BEFORE INSERT OR UPDATE row trigger on study_participant: see the top of
 * the file
 */
PT_TRIGGER_FUNCTION(participants_study_participant_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	int			status;
	int			cols[4];
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	bool		isnull;
	pg_uuid_t  *project_id;
	int64		event_id;
	TimestampTz at;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "study_participant_guard: must fire BEFORE, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	LoadSpColumns(td->tg_relation);
	newt = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	status = RowStatus(newt, desc);
	project_id = DatumGetUUIDP(Col(newt, desc, SP_PROJECT, &isnull));

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		int			k;

		/* a restored row arrives with its history (doc/reliability.md, "Dump and restore") */
		if (PtInRestore())
			return PointerGetDatum(newt);
		/* a key left null: the NOT NULL constraint reports it, after this */
		for (k = SP_PROJECT; k <= SP_PARTICIPANT; k++)
		{
			(void) Col(newt, desc, k, &isnull);
			if (isnull)
				return PointerGetDatum(newt);
		}
		(void) Col(newt, desc, SP_LAST_EVENT, &isnull);
		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("last_event_id of a study participant is set by the database"),
					 errdetail("Only a restore (pg_restore, or psql -f of a plain dump) loads rows with their history."),
					 errhint("Leave last_event_id out: the new row gets its first event.")));
		if (status != ST_NOT_STARTED)
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("a study participant starts at NOT_STARTED, not %s", pt_statuses[status]),
					 errhint("Add participants with add_study_participants, then move them with set_participant_status.")));
		(void) Col(newt, desc, SP_CODE, &isnull);
		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("a new study participant has no completion code"),
					 errhint("Completion codes are recorded by set_participant_status.")));
		if (!pt_study_add_checked)
			CheckNewStudyParticipant(UUIDPGetDatum(project_id),
									 Col(newt, desc, SP_STUDY, &isnull),
									 Col(newt, desc, SP_PARTICIPANT, &isnull));
		/*
		 * The first event is written now, so that its id is in the index
		 * before any later id of the project is drawn (see DrawLock); if the
		 * row is skipped after all, the statement's end deletes it.
		 */
		at = GetCurrentTimestamp();
		event_id = PtWriteStatusEvent(project_id, Col(newt, desc, SP_PARTICIPANT, &isnull),
									Col(newt, desc, SP_STUDY, &isnull), Col(newt, desc, SP_ID, &isnull),
									status, -1, NULL, NULL, at);
		AddPending(project_id, event_id, DatumGetUUIDP(Col(newt, desc, SP_ID, &isnull)));
		cols[0] = spcols.att[SP_LAST_EVENT];
		values[0] = Int64GetDatum(event_id);
		cols[1] = spcols.att[SP_UPDATED];
		values[1] = TimestampTzGetDatum(at);
		cols[2] = spcols.att[SP_CREATED];
		values[2] = TimestampTzGetDatum(at);
		return PointerGetDatum(heap_modify_tuple_by_cols(newt, desc, 3, cols, values, nulls));
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		HeapTuple	oldt = td->tg_trigtuple;
		int			prior;
		const char *code;
		Jsonb	   *override = NULL;
		bool		governance;
		int			k;

		for (k = SP_PROJECT; k <= SP_PARTICIPANT; k++)
			if (ColChanged(oldt, newt, desc, k))
				ereport(ERROR,
						(errcode(ERRCODE_PT_CONFLICT),
						 errmsg("cannot change the project_id, id, study_id or participant_id of a study participant")));
		if (ColChanged(oldt, newt, desc, SP_CREATED))
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("cannot change the created_date of a study participant")));
		if (!pt_status_call.active &&
			(ColChanged(oldt, newt, desc, SP_CODE) || ColChanged(oldt, newt, desc, SP_LAST_EVENT)))
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("completion_code and last_event_id of a study participant are set by the database"),
					 errhint("Record a status with a completion code through set_participant_status.")));
		prior = RowStatus(oldt, desc);
		if (prior == status)
		{
			if (pt_status_call.active)
				CheckTransition(project_id, prior, status); /* says "already at" */
			return PointerGetDatum(newt);
		}
		if (!cascade_active)
			CheckTransition(project_id, prior, status);

		at = GetCurrentTimestamp();
		/* a contact: the study's required consents, the contact rules */
		governance = PT_IS_CONTACT(status) && PtHaveGovernance();
		if (governance && !cascade_active)
			override = PtCheckContact(project_id, Col(newt, desc, SP_PARTICIPANT, &isnull),
									  Col(newt, desc, SP_STUDY, &isnull), at,
									  pt_status_call.active ? pt_status_call.override_reason : NULL,
									  pt_status_call.active && pt_status_call.person_locked);
		code = pt_status_call.active ? pt_status_call.completion_code : NULL;
		event_id = PtWriteStatusEvent(project_id, Col(newt, desc, SP_PARTICIPANT, &isnull),
									Col(newt, desc, SP_STUDY, &isnull), Col(newt, desc, SP_ID, &isnull),
									status, prior, code, override, at);
		if (governance)
			PtRecordContact(project_id, Col(newt, desc, SP_PARTICIPANT, &isnull),
							Col(newt, desc, SP_STUDY, &isnull), status, at, event_id, override);
		cols[0] = spcols.att[SP_LAST_EVENT];
		values[0] = Int64GetDatum(event_id);
		cols[1] = spcols.att[SP_UPDATED];
		values[1] = TimestampTzGetDatum(at);
		cols[2] = spcols.att[SP_CODE];
		values[2] = code ? CStringGetTextDatum(code) : (Datum) 0;
		nulls[2] = (code == NULL);
		return PointerGetDatum(heap_modify_tuple_by_cols(newt, desc, 3, cols, values, nulls));
	}
	elog(ERROR, "study_participant_guard: must fire on INSERT or UPDATE");
	return (Datum) 0;
}

/*
 * AFTER INSERT row trigger on study_participant: the row's first event
 * (written by the BEFORE trigger) stays. AFTER INSERT statement trigger:
 * the first events of rows the statement skipped go.
 */
PT_TRIGGER_FUNCTION(participants_study_participant_created)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	t;
	bool		isnull;
	Datum		last;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "study_participant_created: must fire AFTER INSERT");
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
	{
		DeleteOrphanEvents();
		return PointerGetDatum(NULL);
	}
	desc = RelationGetDescr(td->tg_relation);
	LoadSpColumns(td->tg_relation);
	t = td->tg_trigtuple;
	last = Col(t, desc, SP_LAST_EVENT, &isnull);
	if (!isnull)
		ConfirmPending(DatumGetUUIDP(Col(t, desc, SP_PROJECT, &isnull)), DatumGetInt64(last));
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------------------------
 * The participant's side: opt-out, withdrawal, deletion
 * ------------------------------------------------------------------------
 */

/* Run a cascade's UPDATE of study statuses (inside SPI): past the graph */
static void
RunCascade(SPIPlanPtr plan, Datum *args)
{
	bool		was = cascade_active;

	cascade_active = true;
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not move the participant's study statuses");
	}
	PG_FINALLY();
	{
		cascade_active = was;
	}
	PG_END_TRY();
}

/* Move every non-final status of the participant to "status", past the graph */
static void
CascadeStatuses(Datum project_id, Datum person_id, int status)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];

	args[0] = project_id;
	args[1] = person_id;
	args[2] = CStringGetTextDatum(pt_statuses[status]);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "UPDATE participants.study_participant SET status = $3 "
					  "WHERE project_id = $1 AND participant_id = $2 "
					  "AND status NOT IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')", 3, types);
	RunCascade(plan, args);
	SPI_finish();
}

/*
 * Move the participant's non-final statuses to CANCELLED in every study
 * whose required consent "name" the participant no longer holds (after a
 * withdrawal), past the graph, each with its event
 */
void
PtCancelForConsent(Datum project_id, Datum person_id, const char *name)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];

	args[0] = project_id;
	args[1] = person_id;
	args[2] = CStringGetTextDatum(name);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "UPDATE participants.study_participant sp SET status = 'CANCELLED' "
					  "WHERE sp.project_id = $1 AND sp.participant_id = $2 "
					  "AND sp.status NOT IN ('COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT') "
					  "AND EXISTS (SELECT 1 FROM participants.study_consent rc "
					  "WHERE rc.project_id = $1 AND rc.study_id = sp.study_id AND rc.name = $3 "
					  "AND NOT EXISTS (SELECT 1 FROM participants.participant_consent pc "
					  "WHERE pc.project_id = $1 AND pc.participant_id = $2 AND pc.name = $3 "
					  "AND pc.version >= rc.min_version AND pc.scopes @> rc.scopes))", 3, types);
	RunCascade(plan, args);
	SPI_finish();
}

/*
 * AFTER UPDATE row trigger on participant (when opted_out changes or the
 * participant is withdrawn), and AFTER DELETE
 */
PT_TRIGGER_FUNCTION(participants_participant_studies_sync)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			att_project,
				att_id,
				att_opted,
				att_withdraw;
	bool		isnull;
	Datum		project_id,
				person_id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "participant_studies_sync: must fire AFTER, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	att_project = SPI_fnumber(desc, "project_id");
	att_id = SPI_fnumber(desc, "id");
	project_id = heap_getattr(td->tg_trigtuple, att_project, desc, &isnull);
	person_id = heap_getattr(td->tg_trigtuple, att_id, desc, &isnull);

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		static SPIPlanPtr plan = NULL;
		Oid			types[2] = {UUIDOID, UUIDOID};
		Datum		args[2];

		args[0] = project_id;
		args[1] = person_id;
		SPI_connect();
		if (plan == NULL)
			PtPreparePlan(&plan, "DELETE FROM participants.event "
						  "WHERE project_id = $1 AND person_id = $2", 2, types);
		if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete the participant's events");
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		elog(ERROR, "participant_studies_sync: must fire on UPDATE or DELETE");

	att_opted = SPI_fnumber(desc, "opted_out");
	att_withdraw = SPI_fnumber(desc, "withdraw_date");
	{
		bool		was_out = DatumGetBool(heap_getattr(td->tg_trigtuple, att_opted, desc, &isnull));
		bool		now_out = DatumGetBool(heap_getattr(td->tg_newtuple, att_opted, desc, &isnull));
		bool		was_withdrawn,
					now_withdrawn;

		(void) heap_getattr(td->tg_trigtuple, att_withdraw, desc, &was_withdrawn);
		was_withdrawn = !was_withdrawn;
		(void) heap_getattr(td->tg_newtuple, att_withdraw, desc, &now_withdrawn);
		now_withdrawn = !now_withdrawn;

		if (was_out != now_out)
			PtWriteOptOutEvent(DatumGetUUIDP(project_id), person_id, now_out);
		if (now_out && !was_out)
			CascadeStatuses(project_id, person_id, ST_OPTED_OUT);
		if (now_withdrawn && !was_withdrawn)
			CascadeStatuses(project_id, person_id, ST_CANCELLED);
	}
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------------------------
 * The graph table and the event table
 * ------------------------------------------------------------------------
 */
/*
 * BEFORE INSERT OR UPDATE row trigger on status_transition: both statuses
 * are real, and no transition leaves a final status. AFTER statement
 * trigger: every backend drops its cached graphs.
 */
PT_TRIGGER_FUNCTION(participants_status_transition_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	bool		isnull;
	Datum		d;
	int			from,
				to;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "status_transition_guard: must be called as a trigger");
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
	{
		InitStatusCallbacks();
		transition_relid = PtShellOf(RelationGetRelid(td->tg_relation));
		CacheInvalidateRelcacheByRelid(transition_relid);
		GraphCacheReset(InvalidOid);
		graph_written_in_xact = true;
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_BEFORE(td->tg_event))
		elog(ERROR, "status_transition_guard: row trigger must fire BEFORE");
	desc = RelationGetDescr(td->tg_relation);
	newt = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	d = heap_getattr(newt, SPI_fnumber(desc, "from_status"), desc, &isnull);
	from = isnull ? -1 : PtCheckStatus(TextDatumGetCString(d), "from_status");
	d = heap_getattr(newt, SPI_fnumber(desc, "to_status"), desc, &isnull);
	to = isnull ? -1 : PtCheckStatus(TextDatumGetCString(d), "to_status");
	if (from < 0 || to < 0)
		return PointerGetDatum(newt);	/* NOT NULL reports it */
	if (PtStatusIsFinal(from))
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("%s is final: no transition may leave it", pt_statuses[from])));
	if (from == to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid transition: from_status and to_status are both %s", pt_statuses[from])));
	return PointerGetDatum(newt);
}

/* The default graph's rows, in from/to pairs; returns their number */
static int
DefaultEdges(int from[], int to[])
{
	int			n = 0;
	int			i,
				s;

	for (i = 0; i < (int) lengthof(default_edges); i++)
	{
		from[n] = default_edges[i][0];
		to[n++] = default_edges[i][1];
	}
	for (s = 0; s < PT_NUM_STATUSES; s++)
	{
		if (PtStatusIsFinal(s))
			continue;
		from[n] = s;
		to[n++] = ST_CANCELLED;
		from[n] = s;
		to[n++] = ST_OPTED_OUT;
	}
	return n;
}

#define MAX_DEFAULT_EDGES (lengthof(default_edges) + 2 * PT_NUM_STATUSES)

/*
 * Copy the default graph into a new project's status_transition (from C:
 * the caller needs no privilege on default_status_transitions())
 */
static void
SeedTransitions(pg_uuid_t *project_id)
{
	int			from[MAX_DEFAULT_EDGES];
	int			to[MAX_DEFAULT_EDGES];
	Datum		f[MAX_DEFAULT_EDGES];
	Datum		t[MAX_DEFAULT_EDGES];
	int			n = DefaultEdges(from, to);
	int			i;
	Oid			types[3] = {UUIDOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		args[3];

	for (i = 0; i < n; i++)
	{
		f[i] = CStringGetTextDatum(pt_statuses[from[i]]);
		t[i] = CStringGetTextDatum(pt_statuses[to[i]]);
	}
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(construct_array(f, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(t, n, TEXTOID, -1, false, TYPALIGN_INT));
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO participants.status_transition (project_id, from_status, to_status) "
							  "SELECT $1, e.f, e.t FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) e(f, t)",
							  3, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not copy the default status transitions");
	SPI_finish();
}

/* What studies need of a new project: its default status graph (from _PG_init) */
void
PtStatusInit(void)
{
	PtOnProjectCreated(SeedTransitions);
}

PG_FUNCTION_INFO_V1(participants_default_status_transitions);
/* default_status_transitions(): the default graph, row by row */
Datum
participants_default_status_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	int			from[MAX_DEFAULT_EDGES];
	int			to[MAX_DEFAULT_EDGES];
	int			n = DefaultEdges(from, to);

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(pt_statuses[from[i]]);
		values[1] = CStringGetTextDatum(pt_statuses[to[i]]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Set the status of a study participant, found by (project, study,
 * participant) in study_participant_key, locked as UPDATE locks it (in its
 * latest version), and written through the executor's single-row update
 * (study_participant_guard and every other trigger fire, as for SQL). No
 * statement is planned. False when the participant is not in the study.
 */
bool
PtUpdateStatus(pg_uuid_t *project_id, pg_uuid_t *study_id, pg_uuid_t *person,
				  const char *status)
{
	Oid			nsp;
	Oid			relid;
	Oid			idxid;
	Relation	rel;
	Relation	idx;
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	ScanKeyData skey[3];
	IndexScanDesc scan;
	Snapshot	snap;
	bool		found;
	int			att_status;
	PtRowWrites w;
	TM_FailureData tmfd;
	TM_Result	res;

	nsp = get_namespace_oid("participants", false);
	relid = get_relname_relid("study_participant", nsp);
	idxid = get_relname_relid("study_participant_key", nsp);
	if (!OidIsValid(relid) || !OidIsValid(idxid))
		elog(ERROR, "table participants.study_participant or its key does not exist");
	if (pg_class_aclmask(relid, GetUserId(), ACL_SELECT | ACL_UPDATE, ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "study_participant");
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on participants.study_participant is not supported by this extension's functions")));

	rel = table_open(PtLocalTable(relid, project_id), RowExclusiveLock);
	idx = index_open(PtLocalIndex(idxid, relid, RelationGetRelid(rel)), RowExclusiveLock);
	snap = PtAccessSnapshot();
	oldslot = table_slot_create(rel, NULL);
	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project_id));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(study_id));
	ScanKeyInit(&skey[2], 3, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(person));
	scan = index_beginscan(rel, idx, snap, 3, 0);
	index_rescan(scan, skey, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, oldslot);
	index_endscan(scan);
	if (found)
	{
		ItemPointerData tid = oldslot->tts_tid;

		res = table_tuple_lock(rel, &tid, snap, oldslot, GetCurrentCommandId(false),
							   LockTupleNoKeyExclusive, LockWaitBlock,
							   TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (res == TM_Deleted)
			found = false;
		else if (res != TM_Ok)
			elog(ERROR, "could not lock study participant row: result %d", (int) res);
	}
	if (!found)
	{
		ExecDropSingleTupleTableSlot(oldslot);
		UnregisterSnapshot(snap);
		index_close(idx, NoLock);
		table_close(rel, NoLock);
		return false;
	}

	/* the locked version, with the new status */
	PtBeginRowWrites(&w, rel, snap);
	newslot = ExecInitExtraTupleSlot(w.estate, RelationGetDescr(rel), &TTSOpsVirtual);
	slot_getallattrs(oldslot);
	ExecClearTuple(newslot);
	memcpy(newslot->tts_values, oldslot->tts_values, sizeof(Datum) * RelationGetDescr(rel)->natts);
	memcpy(newslot->tts_isnull, oldslot->tts_isnull, sizeof(bool) * RelationGetDescr(rel)->natts);
	att_status = SPI_fnumber(RelationGetDescr(rel), "status") - 1;
	if (att_status < 0)
		elog(ERROR, "participants.study_participant has no column \"status\"");
	newslot->tts_values[att_status] = CStringGetTextDatum(status);
	newslot->tts_isnull[att_status] = false;
	ExecStoreVirtualTuple(newslot);
	EvalPlanQualSetSlot(&w.epq, newslot);
	ExecSimpleRelationUpdate(w.rri, w.estate, &w.epq, oldslot, newslot);
	PtEndRowWrites(&w);
	ExecDropSingleTupleTableSlot(oldslot);
	UnregisterSnapshot(snap);
	index_close(idx, NoLock);
	table_close(rel, NoLock);
	/* later statements of the transaction see the change */
	CommandCounterIncrement();
	return true;
}
