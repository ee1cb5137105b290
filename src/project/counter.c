/*
 * project/counter.c
 *		Per-project counters (participants.project_counter): the numbers of
 *		generated participantIdentifiers, the event ids and the ids of segment
 *		membership episodes, so that nothing a caller sees counts another
 *		project's activity, and the project's notification channel.
 *
 *		A counter behaves like a sequence, but lives in a row of its project:
 *		drawing numbers overwrites the row in place (heap_inplace_update,
 *		WAL-logged like a sequence's own page), under a lock on (project,
 *		counters) held only while the row is read and written. Drawing is
 *		therefore not transactional: numbers drawn by a transaction that
 *		rolls back are skipped, as with nextval, and no writer ever waits for
 *		another writer's transaction to end. Rows of project_counter are
 *		never updated otherwise (project_counter_guard refuses UPDATE).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "project/project.h"

/* Columns of project_counter, in table order */
enum
{
	PC_PROJECT = 1, PC_PARTICIPANT, PC_EVENT, PC_MEMBERSHIP, PC_CHANNEL, PC_NCOLS = PC_CHANNEL
};

static Oid	counter_relid = InvalidOid;
static Oid	counter_index = InvalidOid;

/* Membership ids this backend drew ahead, per project (see NextMembershipId) */
typedef struct MembershipBlock
{
	pg_uuid_t	project;
	int64		next;
	int64		last;
} MembershipBlock;

static HTAB *membership_blocks = NULL;

static void
CounterReset(Oid relid)
{
	if (relid == InvalidOid || relid == counter_relid)
	{
		counter_relid = InvalidOid;
		counter_index = InvalidOid;
		/* the extension may have been dropped and created again */
		if (membership_blocks != NULL)
		{
			hash_destroy(membership_blocks);
			membership_blocks = NULL;
		}
	}
}

/*
 * Find project_counter; false while the tables are an earlier release's
 * (the library runs them until ALTER EXTENSION ... UPDATE)
 */
static bool
LookUpCounter(void)
{
	Oid			nsp;

	if (OidIsValid(counter_relid))
		return true;
	PtCacheRegister(CounterReset);
	nsp = get_namespace_oid("participants", false);
	counter_index = get_relname_relid("project_counter_pkey", nsp);
	counter_relid = get_relname_relid("project_counter", nsp);
	if (!OidIsValid(counter_index))
		counter_relid = InvalidOid;
	return OidIsValid(counter_relid);
}

/*
 * An earlier release's shared sequence, for a library whose tables are not
 * updated yet; its channel was the shared participants_events
 */
static int64
DrawFromSequence(PtCounter counter, int64 n, char **channel)
{
	Oid			seq = get_relname_relid(counter == PT_COUNTER_PARTICIPANT ? "participant_identifier_seq"
										: counter == PT_COUNTER_EVENT ? "event_id_seq" : "segment_membership_id_seq",
										get_namespace_oid("participants", false));
	int64		first;

	if (!OidIsValid(seq))
		elog(ERROR, "participants has neither project_counter nor the sequences of 0.2.0");
	first = nextval_internal(seq, false);
	while (--n > 0)
		(void) nextval_internal(seq, false);
	if (channel != NULL)
		*channel = pstrdup("participants_events");
	return first;
}

/*
 * The lock that serializes drawing from one project's counters. It is held
 * for microseconds, never to the end of a transaction, and two projects
 * never share it unless their ids hash alike.
 */
static void
SetCounterTag(LOCKTAG *tag, pg_uuid_t *project_id)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, counter_relid,
					   hash_bytes(project_id->data, UUID_LEN), 2);
}

/*
 * Find the project's counter row as it is on disk (committed, or written by
 * an unfinished transaction: the row a project creation in progress
 * inserted). The scan stays open, and so its buffer pinned, until the
 * caller ends it: no pruning can move another row into that line pointer
 * before the row is written in place.
 */
static HeapTuple
FindRow(Relation rel, pg_uuid_t *project_id, SnapshotData *dirty, SysScanDesc *scan)
{
	ScanKeyData key;

	InitDirtySnapshot(*dirty);
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project_id));
	*scan = systable_beginscan(rel, PtLocalIndex(counter_index, counter_relid, RelationGetRelid(rel)),
							   true, dirty, 1, &key);
	return systable_getnext(*scan);
}

/*
 * Create the counter row of a project that has none (one created by a raw
 * INSERT, or restored from a dump of an earlier release), starting past
 * what the project already holds. As the owner: the caller may be a raw
 * write's trigger. False when the project does not exist.
 */
static bool
CreateRow(pg_uuid_t *project_id)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	Oid			save_userid;
	int			save_sec;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	args[0] = UUIDPGetDatum(project_id);
	SPI_connect();
	/*
	 * One statement per table, each for the project only: on a cluster each
	 * runs on the project's shards, on this node
	 */
	ret = SPI_execute_with_args("SELECT 1 FROM participants.project WHERE id = $1",
								1, types, args, NULL, false, 0);
	if (ret == SPI_OK_SELECT && SPI_processed == 1)
	{
		static const char *const last[3] = {
			"SELECT pg_catalog.count(*) FROM participants.participant WHERE project_id = $1",
			"SELECT COALESCE(pg_catalog.max(id), 0) FROM participants.event WHERE project_id = $1",
			"SELECT COALESCE(pg_catalog.max(id), 0) FROM participants.segment_membership WHERE project_id = $1"
		};
		Oid			itypes[4] = {UUIDOID, INT8OID, INT8OID, INT8OID};
		Datum		iargs[4];
		int			i;

		iargs[0] = args[0];
		for (i = 0; i < 3; i++)
		{
			bool		isnull;

			if (SPI_execute_with_args(last[i], 1, types, args, NULL, false, 1) != SPI_OK_SELECT ||
				SPI_processed != 1)
				elog(ERROR, "could not count what project %s holds", PtUuidText(project_id));
			iargs[i + 1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		}
		ret = SPI_execute_with_args("INSERT INTO participants.project_counter "
									"(project_id, last_participant_number, last_event_id, last_membership_id) "
									"VALUES ($1, $2, $3, $4)",
									4, itypes, iargs, NULL, false, 0);
	}
	else
		ret = SPI_OK_INSERT;	/* no project: nothing inserted */
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not create the counters of project %s", PtUuidText(project_id));
	ret = (int) SPI_processed;
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	CommandCounterIncrement();
	return ret == 1;
}

/*
 * Draw n (>= 1) consecutive numbers from one of the project's counters and
 * return the first. When channel is not NULL, it receives the project's
 * notification channel. PT404 when the project does not exist.
 */
int64
PtDrawNumbers(pg_uuid_t *project_id, PtCounter counter, int64 n, char **channel)
{
	LOCKTAG		tag;
	Relation	rel;
	SnapshotData dirty;
	SysScanDesc scan;
	HeapTuple	tup;
	HeapTuple	newtup;
	TupleDesc	desc;
	Datum		values[PC_NCOLS];
	bool		nulls[PC_NCOLS];
	bool		repl[PC_NCOLS] = {false};
	int			col = counter == PT_COUNTER_PARTICIPANT ? PC_PARTICIPANT
		: counter == PT_COUNTER_EVENT ? PC_EVENT : PC_MEMBERSHIP;
	int64		last;

	Assert(n >= 1);
	if (RecoveryInProgress())
		elog(ERROR, "cannot draw numbers during recovery");
	if (!LookUpCounter())
		return DrawFromSequence(counter, n, channel);
	SetCounterTag(&tag, project_id);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	rel = table_open(PtLocalTable(counter_relid, project_id), RowExclusiveLock);
	desc = RelationGetDescr(rel);
	if (desc->natts != PC_NCOLS)
		elog(ERROR, "participants.project_counter has %d columns, not %d", desc->natts, PC_NCOLS);
	tup = FindRow(rel, project_id, &dirty, &scan);
	if (!HeapTupleIsValid(tup))
	{
		systable_endscan(scan);
		if (CreateRow(project_id))
			tup = FindRow(rel, project_id, &dirty, &scan);
		if (!HeapTupleIsValid(tup))
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("project %s not found", PtUuidText(project_id))));
	}
	heap_deform_tuple(tup, desc, values, nulls);
	if (nulls[col - 1] || nulls[PC_CHANNEL - 1])
		elog(ERROR, "participants.project_counter holds a null");
	last = DatumGetInt64(values[col - 1]);
	if (last > PG_INT64_MAX - n)
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("counter of project %s reached its maximum", PtUuidText(project_id))));
	values[col - 1] = Int64GetDatum(last + n);
	repl[col - 1] = true;
	newtup = heap_modify_tuple(tup, desc, values, nulls, repl);
	newtup->t_self = tup->t_self;
	heap_inplace_update(rel, newtup);
	if (channel != NULL)
		*channel = TextDatumGetCString(values[PC_CHANNEL - 1]);
	systable_endscan(scan);
	table_close(rel, NoLock);
	LockRelease(&tag, ExclusiveLock, false);
	return last + 1;
}

/*
 * BEFORE UPDATE row trigger on participants.project_counter: the counters
 * change only in place, by drawing (a new row version would lose draws
 * made meanwhile).
 */
PT_TRIGGER_FUNCTION(participants_project_counter_guard)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "project_counter_guard: must be called as a trigger");
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("the counters of a project cannot be updated"),
			 errdetail("Generated participant numbers and event ids are drawn by the database."),
			 errhint("Delete the project to remove its counters.")));
	return (Datum) 0;
}

/*
 * AFTER INSERT row trigger on participants.project: the new project's
 * counters and notification channel (as the owner: whoever may insert a
 * project may give it counters). A restore brings them with the dump.
 */
PT_TRIGGER_FUNCTION(participants_project_counter_create)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	/*
	 * (a row may be there already when Citus copies the table's rows into
	 * its shards, in participants.distribute() after a restore)
	 */
	const char *sql = "INSERT INTO participants.project_counter (project_id) VALUES ($1) ON CONFLICT DO NOTHING";

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "project_counter_create: must fire AFTER INSERT, FOR EACH ROW");
	if (PtInRestore())
		return PointerGetDatum(NULL);
	args[0] = heap_getattr(td->tg_trigtuple, SPI_fnumber(RelationGetDescr(td->tg_relation), "id"),
						   RelationGetDescr(td->tg_relation), &isnull);
	/*
	 * On a cluster, project is a reference table and the trigger fires on
	 * its copy on every node: the node that holds the project's shards
	 * writes the row into its shard of project_counter, by name (a query on
	 * the distributed table may not run inside a shard's query); the others
	 * do nothing
	 */
	if (PtIsShardOf(RelationGetRelid(td->tg_relation), PtTableRelid("project")))
	{
		Oid			shard;

		if (isnull || !LookUpCounter() || !PtProjectIsLocal(DatumGetUUIDP(args[0])))
			return PointerGetDatum(NULL);
		shard = PtLocalTable(counter_relid, DatumGetUUIDP(args[0]));
		sql = psprintf("INSERT INTO %s (project_id) VALUES ($1) ON CONFLICT DO NOTHING",
					   quote_qualified_identifier("participants", get_rel_name(shard)));
	}
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (SPI_execute_with_args(sql, 1, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not create the project's counters");
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	return PointerGetDatum(NULL);
}

/*
 * event_channel(project_id): the channel on which the project's events are
 * announced (LISTEN to it; the events themselves are read with events_since)
 */
PT_API_FUNCTION(participants_event_channel)
{
	pg_uuid_t  *project_id;
	Relation	rel;
	SnapshotData dirty;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;
	text	   *channel;

	PtNotNull(fcinfo, 0, "project_id");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	if (!LookUpCounter())
		elog(ERROR, "participants.project_counter does not exist");
	rel = table_open(PtLocalTable(counter_relid, project_id), AccessShareLock);
	tup = FindRow(rel, project_id, &dirty, &scan);
	if (!HeapTupleIsValid(tup))
	{
		systable_endscan(scan);
		/* a project restored from an earlier release's dump: make its row */
		if (XactReadOnly || RecoveryInProgress())
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("project %s has no notification channel yet", PtUuidText(project_id)),
					 errhint("Call event_channel once in a read-write transaction (POST over HTTP).")));
		(void) PtDrawNumbers(project_id, PT_COUNTER_EVENT, 1, NULL);
		tup = FindRow(rel, project_id, &dirty, &scan);
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "project %s has no counters", PtUuidText(project_id));
	}
	channel = DatumGetTextPCopy(heap_getattr(tup, PC_CHANNEL, RelationGetDescr(rel), &isnull));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	PG_RETURN_TEXT_P(channel);
}

/*
 * The next id of a membership episode of the project. Episodes are added
 * many at a time (a refilter, a group of members), so a backend draws ids 64
 * at a time and hands them out in order, as a sequence with CACHE 64 would:
 * ids a backend drew and did not use are skipped.
 */
#define MEMBERSHIP_BLOCK 64

static int64
NextMembershipId(pg_uuid_t *project_id)
{
	MembershipBlock *b;
	bool		found;

	if (!LookUpCounter())
		return DrawFromSequence(PT_COUNTER_MEMBERSHIP, 1, NULL);
	if (membership_blocks == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(MembershipBlock);
		ctl.hcxt = TopMemoryContext;
		membership_blocks = hash_create("participants membership ids", 16, &ctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	b = hash_search(membership_blocks, project_id, HASH_ENTER, &found);
	if (!found || b->next > b->last)
	{
		int64		first;

		/* drawing may process invalidations that drop the blocks: enter again */
		b->next = 1;
		b->last = 0;
		first = PtDrawNumbers(project_id, PT_COUNTER_MEMBERSHIP, MEMBERSHIP_BLOCK, NULL);
		if (membership_blocks == NULL)
			return first;
		b = hash_search(membership_blocks, project_id, HASH_ENTER, &found);
		b->next = first;
		b->last = first + MEMBERSHIP_BLOCK - 1;
	}
	return b->next++;
}

/*
 * BEFORE INSERT row trigger on participants.segment_membership: the episode's
 * id, from its project's counter (a restore keeps the id it loads)
 */
PT_TRIGGER_FUNCTION(participants_segment_membership_number)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	int			att_project,
				att_id;
	bool		isnull;
	Datum		project;
	Datum		id;
	int			cols[1];
	bool		nulls[1] = {false};

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "segment_membership_number: must fire BEFORE INSERT, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	att_id = SPI_fnumber(desc, "id");
	(void) heap_getattr(td->tg_trigtuple, att_id, desc, &isnull);
	if (!isnull && PtInRestore())
		return PointerGetDatum(td->tg_trigtuple);
	att_project = SPI_fnumber(desc, "project_id");
	project = heap_getattr(td->tg_trigtuple, att_project, desc, &isnull);
	if (isnull)
		return PointerGetDatum(td->tg_trigtuple);	/* NOT NULL reports it */
	id = Int64GetDatum(NextMembershipId(DatumGetUUIDP(project)));
	cols[0] = att_id;
	return PointerGetDatum(heap_modify_tuple_by_cols(td->tg_trigtuple, desc, 1, cols, &id, nulls));
}
