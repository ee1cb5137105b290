/*
 * study/events.c
 *		Events: writing them (a status change, an opt-out or opt-in) with
 *		their NOTIFY, the trigger that keeps the event table the database's
 *		own, and reading the feed for events_since.
 *
 *		Writing. A status change writes an event row and queues a NOTIFY on
 *		its project's channel, which PostgreSQL delivers when (and only if)
 *		the transaction commits.
 *
 *		The feed. Event ids are drawn from the project's own counter
 *		(project/counter.c), but transactions commit in any order: a reader
 *		could see event 11 committed while event 10 is still in flight, move
 *		past it, and miss it. So an event's id is drawn and its row inserted
 *		under a per-project lock held for just that (DrawLock): ids reach
 *		the index in the order they are drawn. events_since (PtReadEvents)
 *		walks the index in id order, seeing rows still in flight too, and
 *		stops before the first one its snapshot does not show: every event
 *		below it is final, and nothing waits for anything.
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

/*
 * The event table's oid, looked up once per backend (a DROP EXTENSION and
 * CREATE EXTENSION in the same backend gives it a new one: the relcache
 * callback below forgets it)
 */
static Oid	event_relid = InvalidOid;

static void
EventRelidReset(Oid relid)
{
	if (relid == InvalidOid || relid == event_relid)
		event_relid = InvalidOid;
}

static Oid
EventRelid(void)
{
	if (!OidIsValid(event_relid))
	{
		PtCacheRegister(EventRelidReset);
		event_relid = PtTableRelid("event");
	}
	return event_relid;
}

/*
 * The per-project lock under which an event id is drawn and its row
 * inserted (ExclusiveLock on the tag (event table, hash of the project, 2)),
 * held for that only: writers of a project take turns for microseconds,
 * never for the rest of their transactions, and readers never take it.
 * Because of it, an event's row is in the index before any later id of its
 * project is drawn, which is what PtReadEvents relies on.
 */
static void
DrawLock(pg_uuid_t *project_id, bool acquire)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, EventRelid(),
					   hash_bytes(project_id->data, UUID_LEN), 2);
	if (acquire)
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	else
		(void) LockRelease(&tag, ExclusiveLock, false);
}

/* ------------------------------------------------------------------------
 * Writing events
 * ------------------------------------------------------------------------
 */

/*
 * Queue the notification of an event on the project's own channel
 * (project_counter.event_channel, random per project), with no payload.
 * PostgreSQL has no privileges on LISTEN, so a channel shared by all
 * projects, or a payload naming one, would tell any role that can connect
 * which projects are busy; the channel's name is readable only by roles
 * that may use the project (event_channel()). The notification is only a
 * wake-up call: consumers read the events, and keep their cursor, with
 * events_since. Notifications with the same channel and payload collapse
 * into one per transaction.
 */
static void
NotifyEvent(const char *channel)
{
	/*
	 * Not on a cluster: the event is written on a worker, whose listeners
	 * are not the coordinator's, and a transaction that sent NOTIFY cannot
	 * take part in a two-phase commit (consumers poll events_since there)
	 */
	if (PtDistributed())
		return;
	Async_Notify(channel, "");
}

/* Event table columns */
enum
{
	EV_PROJECT, EV_ID, EV_TYPE, EV_PERSON, EV_STUDY, EV_SP, EV_CODE, EV_PAYLOAD,
	EV_CREATED, EV_NCOLS
};
static const char *const ev_cols[EV_NCOLS] = {
	"project_id", "id", "event_type", "person_id", "study_id", "study_participant_id",
	"completion_code", "payload", "created_date"
};
static struct
{
	Oid			relid;
	int			att[EV_NCOLS];	/* 1-based */
} evcols;

/* Called for every event written (webhook delivery wakes at commit) */
void		(*pt_event_written_hook) (void) = NULL;

/* Set while this file inserts an event: event_guard lets only these in */
static bool writing_event = false;

/*
 * Draw the project's next event id and insert the event row at once, under
 * the draw lock (see DrawLock), then queue its notification; the event's id.
 * The row goes through the executor's single-row path (constraints,
 * indexes, any trigger a DBA adds), with the caller's INSERT privilege on
 * the table; no statement is planned. Everything that does not need the id
 * is prepared before the lock is taken, so that writers of one project take
 * turns only for the draw and the insert. study_id and sp are (Datum) 0 for
 * a person event.
 */
static int64
WriteEvent(pg_uuid_t *project_id, const char *type, Datum person, Datum study, Datum sp,
		   const char *code, Jsonb *payload, TimestampTz at)
{
	Relation	rel = table_open(PtLocalTable(EventRelid(), project_id), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AclResult	acl = pg_class_aclcheck(EventRelid(), GetUserId(), ACL_INSERT);
	PtRowWrites w;
	TupleTableSlot *slot;
	Datum		values[EV_NCOLS];
	bool		nulls[EV_NCOLS];
	char	   *channel;
	int64		id;
	int			i;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	values[EV_PROJECT] = UUIDPGetDatum(project_id);
	values[EV_ID] = (Datum) 0;	/* drawn below */
	values[EV_TYPE] = CStringGetTextDatum(type);
	values[EV_PERSON] = person;
	values[EV_STUDY] = study;
	values[EV_SP] = sp;
	values[EV_CODE] = code ? CStringGetTextDatum(code) : (Datum) 0;
	values[EV_PAYLOAD] = JsonbPGetDatum(payload);
	values[EV_CREATED] = TimestampTzGetDatum(at);
	for (i = 0; i < EV_NCOLS; i++)
		nulls[i] = (values[i] == (Datum) 0 && i != EV_ID);

	PtBeginRowWrites(&w, rel, GetActiveSnapshot());
	slot = ExecInitExtraTupleSlot(w.estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (i = 0; i < desc->natts; i++)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	if (evcols.relid != RelationGetRelid(rel))
	{
		for (i = 0; i < EV_NCOLS; i++)
		{
			evcols.att[i] = SPI_fnumber(desc, ev_cols[i]);
			if (evcols.att[i] <= 0)
				elog(ERROR, "participants.event has no column \"%s\"", ev_cols[i]);
		}
		evcols.relid = RelationGetRelid(rel);
	}
	for (i = 0; i < EV_NCOLS; i++)
	{
		slot->tts_values[evcols.att[i] - 1] = values[i];
		slot->tts_isnull[evcols.att[i] - 1] = nulls[i];
	}

	/* an error releases the lock with the (sub)transaction */
	DrawLock(project_id, true);
	id = PtDrawNumbers(project_id, PT_COUNTER_EVENT, 1, &channel);
	slot->tts_values[evcols.att[EV_ID] - 1] = Int64GetDatum(id);
	ExecStoreVirtualTuple(slot);
	writing_event = true;
	PG_TRY();
	{
		ExecSimpleRelationInsert(w.rri, w.estate, slot);
	}
	PG_FINALLY();
	{
		writing_event = false;
	}
	PG_END_TRY();
	DrawLock(project_id, false);

	PtEndRowWrites(&w);
	table_close(rel, NoLock);
	NotifyEvent(channel);
	if (pt_event_written_hook)
		pt_event_written_hook();
	return id;
}

/*
 * Write a participant.status_changed event and return its id; prior < 0 for
 * the first status. When set_participant_status is calling, it gets a copy
 * of the payload.
 */
int64
PtWriteStatusEvent(pg_uuid_t *project_id, Datum person_id, Datum study_id, Datum sp_id,
				 int status, int prior, const char *code, Jsonb *override, TimestampTz at)
{
	JsonbParseState *state = NULL;
	Jsonb	   *payload;
	int64		id;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "eventType", "participant.status_changed");
	PtPushString(&state, "participantId", PtUuidText(DatumGetUUIDP(sp_id)));
	PtPushString(&state, "personId", PtUuidText(DatumGetUUIDP(person_id)));
	PtPushString(&state, "studyId", PtUuidText(DatumGetUUIDP(study_id)));
	PtPushString(&state, "status", pt_statuses[status]);
	PtPushString(&state, "priorStatus", prior >= 0 ? pt_statuses[prior] : NULL);
	PtPushString(&state, "updatedAt", JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL));
	if (override != NULL)
	{
		JsonbValue	v;

		PtPushKey(&state, "override");
		v.type = jbvBinary;
		v.val.binary.data = &override->root;
		v.val.binary.len = VARSIZE(override) - VARHDRSZ;
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	payload = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	id = WriteEvent(project_id, "participant.status_changed", person_id, study_id, sp_id,
					code, payload, at);
	if (pt_status_call.active && pt_status_call.cxt != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(pt_status_call.cxt);

		pt_status_call.payload = DatumGetJsonbPCopy(JsonbPGetDatum(payload));
		MemoryContextSwitchTo(old);
	}
	return id;
}

/* Write a person.opted_out event */
void
PtWriteOptOutEvent(pg_uuid_t *project_id, Datum person_id, bool opted_out)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	Jsonb	   *payload;
	TimestampTz at = GetCurrentTimestamp();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "eventType", "person.opted_out");
	PtPushString(&state, "personId", PtUuidText(DatumGetUUIDP(person_id)));
	PtPushKey(&state, "optedOut");
	v.type = jbvBool;
	v.val.boolean = opted_out;
	pushJsonbValue(&state, WJB_VALUE, &v);
	PtPushString(&state, "updatedAt", JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL));
	payload = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
	(void) WriteEvent(project_id, "person.opted_out", person_id, (Datum) 0, (Datum) 0,
					  NULL, payload, at);
}

/* Write an event about a person (consent.changed, ...) with its payload */
void
PtWritePersonEvent(pg_uuid_t *project_id, const char *type, Datum person_id, Jsonb *payload,
				   TimestampTz at)
{
	(void) WriteEvent(project_id, type, person_id, (Datum) 0, (Datum) 0, NULL, payload, at);
}

/*
 * BEFORE INSERT OR UPDATE row trigger on event: events are written by the
 * database (or loaded by a restore) and never changed
 */
PT_TRIGGER_FUNCTION(participants_event_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "event_guard: must fire BEFORE, FOR EACH ROW");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (writing_event || PtInRestore())
			return PointerGetDatum(td->tg_trigtuple);
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("events are written by the database"),
				 errdetail("A status change or an opt-out writes its event; only a restore (pg_restore, or psql -f of a plain dump) loads events."),
				 errhint("Change a status with set_participant_status or an UPDATE of participants.study_participant.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("events cannot be changed"),
			 errhint("Events record what happened; old ones may be deleted.")));
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * Reading the feed
 * ------------------------------------------------------------------------
 */

/*
 * Wait until every other transaction that has written events (of any
 * project) and is still open has ended. A transaction takes the event
 * table's RowExclusiveLock before it draws an event id, and keeps it to its
 * end: so once this returns, every event id drawn before the call is final
 * (committed or rolled back). This is how a new webhook's starting point,
 * the project's last drawn event id, leaves out only events committed
 * before the webhook was made (webhook/webhooks.c). The caller's own
 * transaction is not waited for.
 */
void
PtWaitForEventWriters(pg_uuid_t *project_id)
{
	LOCKTAG		tag;

	/* on a cluster: the project's shard, on the node where its webhook is written */
	SET_LOCKTAG_RELATION(tag, MyDatabaseId, PtLocalTable(EventRelid(), project_id));
	WaitForLockers(tag, ShareLock, false);
}

/*
 * Call fn for each event of the project after after_id, in id order, at
 * most max of them, as visible to a snapshot taken now, and stop before the
 * first event that is not visible to it but written already (by a
 * transaction still in progress, or committed since). Ids are drawn from
 * the project's counter and each event is in the index before the next id
 * is drawn (DrawLock), so every event behind that point is final: a later
 * call never finds an event below the last one this call passed. It waits
 * for no writer and holds nothing a writer waits for, and it works on a hot
 * standby as on the primary (a transaction in progress on the primary is in
 * progress for the standby's dirty snapshot too). Returns the number of
 * events passed to fn.
 */
int
PtReadEvents(pg_uuid_t *project_id, int64 after_id, int max,
			 void (*fn) (int64 id, Jsonb *payload, TimestampTz created, void *arg), void *arg)
{
	Relation	rel;
	Relation	idx;
	Oid			idxid;
	Snapshot	mvcc;
	SnapshotData dirty;
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	TupleDesc	desc;
	int			n = 0;
	int			att_id,
				att_payload,
				att_created;

	rel = table_open(PtLocalTable(EventRelid(), project_id), AccessShareLock);
	desc = RelationGetDescr(rel);
	att_id = SPI_fnumber(desc, "id");
	att_payload = SPI_fnumber(desc, "payload");
	att_created = SPI_fnumber(desc, "created_date");
	idxid = get_relname_relid("event_pkey", get_namespace_oid("participants", false));
	if (!OidIsValid(idxid) || att_id <= 0 || att_payload <= 0 || att_created <= 0)
		elog(ERROR, "participants.event is not as this library expects");
	idx = index_open(PtLocalIndex(idxid, EventRelid(), RelationGetRelid(rel)), AccessShareLock);
	mvcc = RegisterSnapshot(GetLatestSnapshot());
	InitDirtySnapshot(dirty);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project_id));
	ScanKeyInit(&keys[1], 2, BTGreaterStrategyNumber, F_INT8GT, Int64GetDatum(after_id));
	scan = index_beginscan(rel, idx, &dirty, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	slot = table_slot_create(rel, NULL);
	while (n < max && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		id,
					payload,
					created;

		if (!table_tuple_satisfies_snapshot(rel, slot, mvcc))
			break;				/* in flight, or committed since: not yet */
		id = slot_getattr(slot, att_id, &isnull);
		payload = slot_getattr(slot, att_payload, &isnull);
		created = slot_getattr(slot, att_created, &isnull);
		/* a copy: the tuple's page is let go when the scan moves on */
		fn(DatumGetInt64(id), DatumGetJsonbPCopy(payload), DatumGetTimestampTz(created), arg);
		n++;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(mvcc);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return n;
}

