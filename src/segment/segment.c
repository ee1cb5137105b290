/*
 * segment.c
 *		Segments and participant groups (SPEC section 5): the segment
 *		functions, and the triggers that keep dynamic segments current.
 *
 *		A membership episode is a row of segment_membership: current while
 *		remove_date is null. Static segments change by add_segment_members and
 *		remove_segment_members. A dynamic segment's members are the
 *		participants its filter matches: participant_segments_sync evaluates
 *		the project's dynamic filters (in C, filter.c) against each added or
 *		changed participant row and begins or ends episodes; segment_sync
 *		rebuilds a segment's membership when its filter changes.
 *
 *		The two must not miss each other's work, and a rebuild must not hold
 *		up the project's writers while it evaluates the filter over every
 *		participant. Every participant write takes a per-project lock in
 *		share mode before it locks a participant row or reads the filters. A
 *		rebuild (RebuildMembership) goes in three steps:
 *		  1. it marks itself (a row of segment_recheck naming the segment,
 *		     with the nil participant, that only a dirty snapshot sees: the
 *		     rebuild is in progress while its inserter is),
 *		     then waits for the transactions that hold the lock now, without
 *		     making later ones wait: the writes in flight that could not see
 *		     the mark have ended;
 *		  2. with a snapshot taken then, and no lock that writers wait for,
 *		     it finds the difference between the segment's members and what
 *		     the new filter selects. Writes go on meanwhile; each sees the
 *		     marks and adds its participant to segment_recheck, once for
 *		     each segment being rebuilt;
 *		  3. it takes the lock in exclusive mode to the end of its
 *		     transaction (waiting for the writes that saw the mark), and
 *		     applies the difference plus the filter's answer for every
 *		     participant written meanwhile, from the latest snapshot.
 *		Writers therefore wait only for step 3 (proportional to the changes,
 *		not to the project) and for the end of the rebuild's transaction;
 *		after that they see the new filter.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "search/search.h"

/* The segment object of SPEC section 5, for segment s */
#define SEGMENT_JSON \
	"pg_catalog.jsonb_build_object('segmentID', s.id, 'segmentName', s.name, " \
	"'description', s.description, 'kind', s.kind, 'filter', s.filter, " \
	"'createdDate', s.created_date, 'participantCount', " \
	"(SELECT pg_catalog.count(*) FROM participants.segment_membership m " \
	"WHERE m.project_id = s.project_id AND m.segment_id = s.id AND m.remove_date IS NULL))"

#define MAX_NAME_LEN 200

static Oid	segment_relid = InvalidOid;

static Oid
SegmentRelid(void)
{
	if (!OidIsValid(segment_relid))
	{
		Oid			relid = get_relname_relid("segment",
											  get_namespace_oid("participants", false));

		if (!OidIsValid(relid))
			elog(ERROR, "table participants.segment does not exist");
		segment_relid = relid;
	}
	return segment_relid;
}

/*
 * The rebuilds in progress when this writer took the lock: the segments
 * whose marks it saw (an array in TopTransactionContext, or NULL for none)
 */
static struct
{
	LocalTransactionId lxid;
	uint64		lock_generation;	/* of the participant write lock (write_lock.c) */
	pg_uuid_t	project;
	ArrayType  *segments;
}			rebuild_seen;

/* ------------------------------------------------------------------------
 * Per-backend cache of each project's dynamic segments with their parsed
 * filters. Dropped whole when the segment table changes (a relcache
 * invalidation sent by segment_sync), and when a transaction that wrote a
 * segment rolls back.
 * ------------------------------------------------------------------------
 */
typedef struct DynamicSegment
{
	pg_uuid_t	id;
	PtFilter	filter;
} DynamicSegment;

typedef struct SegmentCacheEntry
{
	pg_uuid_t	key;
	int			n;
	DynamicSegment *segments;
} SegmentCacheEntry;

static HTAB *segment_cache = NULL;
static MemoryContext segment_cache_cxt = NULL;
static bool segment_callbacks = false;
static bool segment_written_in_xact = false;

static void
SegmentCacheReset(Oid relid)
{
	if (relid != InvalidOid && relid != segment_relid)
		return;
	/* looked up again: the extension may have been dropped and created again */
	segment_relid = InvalidOid;
	if (segment_cache == NULL)
		return;

	/*
	 * A trigger may be evaluating filters of the old cache while an
	 * invalidation arrives: inside a transaction the old cache lives on
	 * until the transaction ends.
	 */
	if (IsTransactionState())
		MemoryContextSetParent(segment_cache_cxt, TopTransactionContext);
	else
		MemoryContextDelete(segment_cache_cxt);
	segment_cache_cxt = NULL;
	segment_cache = NULL;
}

static void
SegmentXactCallback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) &&
		segment_written_in_xact)
		SegmentCacheReset(InvalidOid);
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		segment_written_in_xact = false;
}

static void
SegmentSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && segment_written_in_xact)
		SegmentCacheReset(InvalidOid);
}

static void
InitSegmentCache(void)
{
	if (!segment_callbacks)
	{
		PtCacheRegister(SegmentCacheReset);
		RegisterXactCallback(SegmentXactCallback, NULL);
		RegisterSubXactCallback(SegmentSubXactCallback, NULL);
		segment_callbacks = true;
	}
}

/*
 * The project's dynamic segments, read with the latest snapshot (a filter
 * change that committed while this statement waited for the project lock
 * is seen)
 */
static SegmentCacheEntry *
DynamicSegments(pg_uuid_t *project_id)
{
	static SPIPlanPtr plan = NULL;
	SegmentCacheEntry *entry;
	DynamicSegment *segments;
	bool		found;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	MemoryContext old;
	uint64		i;

	InitSegmentCache();
	(void) SegmentRelid();
	if (segment_cache == NULL)
	{
		HASHCTL		ctl;

		segment_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
												  "participants segment cache",
												  ALLOCSET_SMALL_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(pg_uuid_t);
		ctl.entrysize = sizeof(SegmentCacheEntry);
		ctl.hcxt = segment_cache_cxt;
		segment_cache = hash_create("participants segment cache", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(segment_cache, project_id, HASH_FIND, NULL);
	if (entry)
		return entry;

	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT id, filter FROM participants.segment "
					  "WHERE project_id = $1 AND filter IS NOT NULL ORDER BY id", 1, types);
	args[0] = UUIDPGetDatum(project_id);
	if (SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read dynamic segments");
	/* the cache may have been dropped by invalidations SPI accepted */
	if (segment_cache == NULL)
	{
		SPI_finish();
		return DynamicSegments(project_id);
	}
	/* parse first: an error leaves no half-made entry behind */
	old = MemoryContextSwitchTo(segment_cache_cxt);
	segments = palloc0(sizeof(DynamicSegment) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		Datum		filter = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		memcpy(segments[i].id.data, DatumGetUUIDP(id)->data, UUID_LEN);
		PtFilterSegment(&segments[i].filter, DatumGetJsonbP(filter));
	}
	entry = hash_search(segment_cache, project_id, HASH_ENTER, &found);
	entry->n = (int) SPI_processed;
	entry->segments = segments;
	MemoryContextSwitchTo(old);
	SPI_finish();
	return entry;
}

static void
SegmentNotFound(pg_uuid_t *segment_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("segment %s not found", PtUuidText(segment_id)),
			 errhint("list_segments(project_id) lists the project's segments.")));
}

/*
 * The segment's kind ('s' or 'd'), its row locked against deletion (FOR
 * KEY SHARE) when "lock"; PT404 when there is none
 */
static char
SegmentKind(pg_uuid_t *project_id, pg_uuid_t *segment_id, bool lock)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	char		kind = 0;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	SPI_connect();
	if (PtRunValue(&plans[lock], lock ?
				   "SELECT kind FROM participants.segment WHERE project_id = $1 AND id = $2 FOR KEY SHARE" :
				   "SELECT kind FROM participants.segment WHERE project_id = $1 AND id = $2",
				   2, types, args, NULL, !lock, &v, &isnull))
		kind = TextDatumGetCString(v)[0];
	SPI_finish();
	if (kind == 0)
		SegmentNotFound(segment_id);
	return kind;
}

/* The segment object, or NULL */
static Jsonb *
SegmentObject(pg_uuid_t *project_id, pg_uuid_t *segment_id, bool read_only)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	return PtJsonbStatement(&plan, "SELECT " SEGMENT_JSON " FROM participants.segment s "
						  "WHERE s.project_id = $1 AND s.id = $2", 2, types, args, NULL, read_only);
}

/* 23505 when another segment of the project has this name (in any case) */
static void
CheckNameFree(pg_uuid_t *project_id, const char *name, pg_uuid_t *self)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, TEXTOID, UUIDOID};
	Datum		args[3];
	Datum		v;
	bool		isnull;
	bool		taken;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	args[2] = self ? UUIDPGetDatum(self) : (Datum) 0;
	SPI_connect();
	taken = PtRunValue(&plan, "SELECT 1 FROM participants.segment WHERE project_id = $1 "
					   "AND pg_catalog.lower(name) = pg_catalog.lower($2) "
					   "AND id IS DISTINCT FROM $3", 3, types,
					   args, self ? "   " : "  n", true, &v, &isnull);
	SPI_finish();
	if (taken)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("segment name \"%s\" is already taken in this project", name),
				 errhint("Segment names are unique within a project, in any case.")));
}

/* ------------------------------------------------------------------------
 * Rebuilds that writers do not wait for (see the top of the file)
 * ------------------------------------------------------------------------
 */

/* The participant_id of the row of segment_recheck that marks a rebuild */
static const pg_uuid_t rebuild_mark = {{0}};

static Oid	recheck_relid = InvalidOid;
static Oid	recheck_index = InvalidOid;

static void
RecheckReset(Oid relid)
{
	if (relid == InvalidOid || relid == recheck_relid)
	{
		recheck_relid = InvalidOid;
		recheck_index = InvalidOid;
	}
}

/* Find segment_recheck; false while the tables are an earlier release's */
static bool
LookUpRecheck(void)
{
	Oid			nsp;

	if (OidIsValid(recheck_relid))
		return true;
	PtCacheRegister(RecheckReset);
	nsp = get_namespace_oid("participants", false);
	recheck_index = get_relname_relid("segment_recheck_pkey", nsp);
	recheck_relid = OidIsValid(recheck_index) ? get_relname_relid("segment_recheck", nsp) : InvalidOid;
	return OidIsValid(recheck_relid);
}

/*
 * Under REPEATABLE READ or SERIALIZABLE: 40001 when a dynamic segment of
 * the project changed (a rebuild committed) after the transaction's
 * snapshot. The filters are read from the latest snapshot but episodes
 * are written with the transaction's, which cannot see what the rebuild
 * wrote: going on would leave episodes the new filter does not give. Asked
 * with the project lock held in share mode, after which no rebuild can
 * commit until this transaction ends.
 */
static void
CheckFiltersUnchanged(pg_uuid_t *project_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	Datum		then,
				now;
	bool		isnull;
	Oid			save_userid;
	int			save_sec;
	int			pass;

	args[0] = UUIDPGetDatum(project_id);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT pg_catalog.array_agg(ctid ORDER BY ctid)::text FROM participants.segment "
					  "WHERE project_id = $1 AND filter IS NOT NULL", 1, types);
	for (pass = 0; pass < 2; pass++)
	{
		if (SPI_execute_snapshot(plan, args, NULL, pass == 0 ? GetTransactionSnapshot() : GetLatestSnapshot(),
								 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the project's dynamic segments");
		if (pass == 0)
			then = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		else
			now = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
		{
			if (pass == 0)
				then = (Datum) 0;
			else
				now = (Datum) 0;
		}
	}
	isnull = (then == (Datum) 0) != (now == (Datum) 0) ||
		(then != (Datum) 0 && !DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, then, now)));
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent change of a dynamic segment"),
				 errdetail("A dynamic segment of project %s was created, changed or deleted after this transaction's snapshot was taken.",
						   PtUuidText(project_id)),
				 errhint("Retry the transaction.")));
}

/*
 * The dynamic segments of the project that other transactions are
 * rebuilding (NULL for none): their marks are there, inserted by
 * transactions in progress. Asked after taking the project lock in share
 * mode. While this transaction holds that lock the answer cannot change for
 * it (a rebuild that starts waits for this transaction before it takes its
 * snapshot, one in progress waits for it before it ends), so it is asked
 * again when the lock was newly taken (each new hold of it has a new
 * generation: at the first write, or after a rolled-back subtransaction let
 * the lock go). NULL while the tables are an earlier release's.
 */
static ArrayType *
RebuildsInProgress(pg_uuid_t *project_id)
{
	Relation	rel;
	SnapshotData dirty;
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Datum	   *segs = NULL;
	int			n = 0;
	int			size = 0;

	if (rebuild_seen.lxid == MyProc->lxid &&
		rebuild_seen.lock_generation == PtParticipantWriteLockGeneration() &&
		memcmp(&rebuild_seen.project, project_id, sizeof(pg_uuid_t)) == 0)
		return rebuild_seen.segments;
	if (IsolationUsesXactSnapshot())
		CheckFiltersUnchanged(project_id);
	if (!LookUpRecheck())
		return NULL;
	rel = table_open(recheck_relid, AccessShareLock);
	InitDirtySnapshot(dirty);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(&rebuild_mark));
	scan = systable_beginscan(rel, recheck_index, true, &dirty, 2, keys);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		pg_uuid_t  *seg;

		/* dirty.xmin: the inserter, when it is another transaction in progress */
		if (!TransactionIdIsValid(dirty.xmin))
			continue;
		if (n == size)
		{
			size = Max(4, size * 2);
			segs = segs ? repalloc(segs, sizeof(Datum) * size) : palloc(sizeof(Datum) * size);
		}
		seg = palloc(sizeof(pg_uuid_t));
		*seg = *DatumGetUUIDP(heap_getattr(tup, 3, RelationGetDescr(rel), &isnull));
		segs[n++] = UUIDPGetDatum(seg);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	rebuild_seen.lxid = MyProc->lxid;
	rebuild_seen.lock_generation = PtParticipantWriteLockGeneration();
	rebuild_seen.project = *project_id;
	rebuild_seen.segments = NULL;
	if (n > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		rebuild_seen.segments = construct_array(segs, n, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR);
		MemoryContextSwitchTo(old);
	}
	return rebuild_seen.segments;
}

/* Run SQL of the rebuild machinery as the owner (a raw write's trigger calls it) */
static int
RunAsOwner(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, Datum *args,
		   Snapshot snap)
{
	Oid			save_userid;
	int			save_sec;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (*plan == NULL)
		PtPreparePlan(plan, sql, nargs, types);
	ret = SPI_execute_snapshot(*plan, args, NULL, snap, InvalidSnapshot, false, true, 0);
	SetUserIdAndSecContext(save_userid, save_sec);
	if (ret < 0)
		elog(ERROR, "segment rebuild failed: %s", SPI_result_code_string(ret));
	return ret;
}

/* A participant written while segments were rebuilt: evaluated again by each */
static void
AddRecheck(pg_uuid_t *project_id, pg_uuid_t *participant_id, ArrayType *segments)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	Datum		args[3];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(participant_id);
	args[2] = PointerGetDatum(segments);
	SPI_connect();
	(void) RunAsOwner(&plan, "INSERT INTO participants.segment_recheck (project_id, participant_id, segment_id) "
					  "SELECT $1, $2, s FROM pg_catalog.unnest($3) s ON CONFLICT DO NOTHING",
					  3, types, args, InvalidSnapshot);
	SPI_finish();
}

/*
 * The uuid[] value of a column of a one-row result (empty for null),
 * copied into cxt (SPI_finish frees the result)
 */
static Datum
ArrayResult(MemoryContext cxt, int col)
{
	bool		isnull;
	Datum		v;
	MemoryContext old;
	Datum		res;

	if (SPI_processed != 1)
		elog(ERROR, "segment rebuild: expected one row");
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	old = MemoryContextSwitchTo(cxt);
	res = isnull ? PointerGetDatum(construct_empty_array(UUIDOID)) : PointerGetDatum(DatumGetArrayTypePCopy(v));
	MemoryContextSwitchTo(old);
	return res;
}

/* Two uuid[] values as one */
static Datum
JoinArrays(Datum a, Datum b)
{
	Datum	   *ea,
			   *eb,
			   *all;
	int			na,
				nb;

	deconstruct_array(DatumGetArrayTypeP(a), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &ea, NULL, &na);
	deconstruct_array(DatumGetArrayTypeP(b), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &eb, NULL, &nb);
	all = palloc(sizeof(Datum) * Max(na + nb, 1));
	memcpy(all, ea, sizeof(Datum) * na);
	memcpy(all + na, eb, sizeof(Datum) * nb);
	return PointerGetDatum(construct_array(all, na + nb, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
}

/* Run one statement of a rebuild (filter conditions inside), latest snapshot */
static int
RebuildStatement(PtQuery *q, const char *sql)
{
	SPIPlanPtr	plan = SPI_prepare(sql, q->nparams, q->types);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, q->values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							   false, true, 0);
	if (ret < 0)
		elog(ERROR, "segment rebuild failed: %s", SPI_result_code_string(ret));
	SPI_freeplan(plan);
	return ret;
}

/*
 * Rebuild a dynamic segment's membership from its filter: episodes end for
 * members the filter no longer matches and begin for new matches; members
 * that still match keep their episode. In three steps, so that participant
 * writes wait only for the last (see the top of the file). Rebuilds of
 * different segments of a project overlap but for their last steps; two of
 * the same segment take turns (the second waits for the first's
 * transaction to end). A participant deleted meanwhile is skipped.
 */
static void
RebuildMembership(pg_uuid_t *project_id, pg_uuid_t *segment_id, Jsonb *filter_jb)
{
	static SPIPlanPtr mark_plan = NULL;
	static SPIPlanPtr take_plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	PtFilter	filter;
	PtQuery		q;
	char	   *cond;
	int			changes;
	Datum		ending,
				adding,
				written;
	MemoryContext cxt = CurrentMemoryContext;
	bool		marked;

	PtFilterSegment(&filter, filter_jb);
	memset(&q, 0, sizeof(q));
	initStringInfo(&q.sql);
	(void) PtQueryParam(&q, UUIDOID, UUIDPGetDatum(project_id));
	(void) PtQueryParam(&q, UUIDOID, UUIDPGetDatum(segment_id));
	PtFilterSql(&q, &filter, false);
	cond = pstrdup(q.sql.data);
	/* the third parameter: a uuid[] of the participants a statement looks at */
	changes = PtQueryParam(&q, UUIDARRAYOID, (Datum) 0);

	/*
	 * 1. the mark, then no write in flight that could have missed it. With
	 * an earlier release's tables (until ALTER EXTENSION ... UPDATE), no
	 * mark: the lock is taken here and held, and writers wait throughout.
	 */
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(&rebuild_mark);
	args[2] = UUIDPGetDatum(segment_id);
	marked = LookUpRecheck();
	if (marked)
	{
		SPI_connect();
		(void) RunAsOwner(&mark_plan, "INSERT INTO participants.segment_recheck (project_id, participant_id, segment_id) "
						  "VALUES ($1, $2, $3)", 3, types, args, InvalidSnapshot);
		SPI_finish();
		PtWaitForParticipantWriters(project_id);
	}
	else
		PtLockParticipantWrites(project_id, ExclusiveLock);

	/*
	 * 2. the difference, from a snapshot taken now; writers go on. One
	 * statement, whose full join cannot become a nested loop however stale
	 * the statistics of a membership that just changed are.
	 */
	SPI_connect();
	(void) RebuildStatement(&q, psprintf(
							"SELECT pg_catalog.array_agg(m.participant_id) FILTER (WHERE s.id IS NULL), "
							"pg_catalog.array_agg(s.id) FILTER (WHERE m.participant_id IS NULL) "
							"FROM (SELECT p.id FROM participants.participant p WHERE p.project_id = $1%s) s "
							"FULL JOIN (SELECT c.participant_id FROM participants.segment_membership c "
							"WHERE c.project_id = $1 AND c.segment_id = $2 AND c.remove_date IS NULL) m "
							"ON m.participant_id = s.id", cond));
	ending = ArrayResult(cxt, 1);
	adding = ArrayResult(cxt, 2);
	SPI_finish();

	/*
	 * 3. under the lock to the end: the participants written meanwhile (the
	 * writers that saw the mark have ended), evaluated again with the rest
	 */
	PtLockParticipantWrites(project_id, ExclusiveLock);
	SPI_connect();
	if (marked)
	{
		(void) RunAsOwner(&take_plan, "WITH d AS (DELETE FROM participants.segment_recheck "
						  "WHERE project_id = $1 AND segment_id = $3 RETURNING participant_id) "
						  "SELECT pg_catalog.array_agg(participant_id) FROM d WHERE participant_id <> $2",
						  3, types, args, GetLatestSnapshot());
		written = ArrayResult(cxt, 1);
	}
	else
		written = PointerGetDatum(construct_empty_array(UUIDOID));
	q.values[changes - 1] = JoinArrays(ending, written);
	(void) RebuildStatement(&q, psprintf(
							"UPDATE participants.segment_membership c "
							"SET remove_date = GREATEST(pg_catalog.now(), c.add_date) "
							"WHERE c.project_id = $1 AND c.segment_id = $2 AND c.remove_date IS NULL "
							"AND c.participant_id = ANY ($%d) "
							"AND NOT EXISTS (SELECT 1 FROM participants.participant p "
							"WHERE p.project_id = $1 AND p.id = c.participant_id%s)", changes, cond));
	/*
	 * FOR KEY SHARE, in id order: a participant deleted by a raw DELETE
	 * meanwhile (which does not take the project lock) is skipped once
	 * its deletion commits, rather than failing the membership's key
	 */
	q.values[changes - 1] = JoinArrays(adding, written);
	(void) RebuildStatement(&q, psprintf(
						"INSERT INTO participants.segment_membership "
						"(project_id, segment_id, participant_id, add_date) "
						"SELECT a.project_id, $2, a.id, pg_catalog.now() FROM "
						"(SELECT p.project_id, p.id FROM participants.participant p "
						"WHERE p.project_id = $1 AND p.id = ANY ($%d)%s "
						"AND NOT EXISTS (SELECT 1 FROM participants.segment_membership c "
						"WHERE c.project_id = $1 AND c.segment_id = $2 "
						"AND c.participant_id = p.id AND c.remove_date IS NULL) "
						"ORDER BY p.id FOR KEY SHARE OF p) a "
						"ON CONFLICT (project_id, segment_id, participant_id) "
						"WHERE remove_date IS NULL DO NOTHING", changes, cond));
	SPI_finish();
}

/* ------------------------------------------------------------------------
 * Segment functions
 * ------------------------------------------------------------------------
 */

/* create_segment(project_id, name, description, filter) */
PT_API_FUNCTION(participants_create_segment)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	char	   *name;
	Oid			types[5] = {UUIDOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = "     ";
	Datum		v;
	bool		isnull;
	pg_uuid_t  *segment_id = palloc(sizeof(pg_uuid_t));
	bool		dynamic = !PG_ARGISNULL(3);
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "name");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	name = PtCheckName(PG_GETARG_TEXT_PP(1), "segment");
	if (dynamic)
	{
		PtFilter	f;

		PtFilterSegment(&f, PG_GETARG_JSONB_P(3));
	}
	CheckNameFree(project_id, name, NULL);

	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	args[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = (PG_ARGISNULL(2) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(2)) == 0) ? 'n' : ' ';
	args[3] = dynamic ? PG_GETARG_DATUM(3) : (Datum) 0;
	nulls[3] = dynamic ? ' ' : 'n';
	args[4] = CStringGetTextDatum(dynamic ? "dynamic" : "static");
	SPI_connect();
	if (!PtRunValue(&plan, "INSERT INTO participants.segment (project_id, id, name, description, filter, kind) "
					"VALUES ($1, pg_catalog.gen_random_uuid(), $2, $3, $4, $5) RETURNING id", 5, types,
					args, nulls, false, &v, &isnull))
		elog(ERROR, "segment insert returned no row");
	memcpy(segment_id->data, DatumGetUUIDP(v)->data, UUID_LEN);
	SPI_finish();
	if (dynamic)
		RebuildMembership(project_id, segment_id, PG_GETARG_JSONB_P(3));
	res = SegmentObject(project_id, segment_id, false);
	PG_RETURN_JSONB_P(res);
}

/* update_segment(project_id, segment_id, name, description, filter) */
PT_API_FUNCTION(participants_update_segment)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	char	   *name = NULL;
	Oid			types[5] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		args[5];
	char		nulls[5] = "     ";
	Datum		v;
	bool		isnull;
	char		kind;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	if (!PG_ARGISNULL(2))
		name = PtCheckName(PG_GETARG_TEXT_PP(2), "segment");
	if (!PG_ARGISNULL(4))
	{
		PtFilter	f;

		PtFilterSegment(&f, PG_GETARG_JSONB_P(4));
	}
	kind = SegmentKind(project_id, segment_id, false);
	if (kind == 's' && !PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is static: it has no filter", PtUuidText(segment_id)),
				 errhint("A static segment's members are added and removed by hand; create a dynamic segment for a filter.")));
	if (name)
		CheckNameFree(project_id, name, segment_id);

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[2] = name ? ' ' : 'n';
	args[3] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[3] = PG_ARGISNULL(3) ? 'n' : ' ';
	args[4] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	nulls[4] = PG_ARGISNULL(4) ? 'n' : ' ';
	SPI_connect();
	/* segment_sync rebuilds the membership when the filter changed */
	if (!PtRunValue(&plan, "UPDATE participants.segment SET "
					"name = coalesce($3, name), "
					"description = CASE WHEN $4 IS NULL THEN description "
					"WHEN $4 = '' THEN NULL ELSE $4 END, "
					"filter = coalesce($5, filter) "
					"WHERE project_id = $1 AND id = $2 RETURNING 1", 5, types,
					args, nulls, false, &v, &isnull))
	{
		SPI_finish();
		SegmentNotFound(segment_id);
	}
	SPI_finish();
	PG_RETURN_JSONB_P(SegmentObject(project_id, segment_id, false));
}

/* delete_segment(project_id, segment_id): the segment as it was */
PT_API_FUNCTION(participants_delete_segment)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	res = PtJsonbStatement(&plan, "DELETE FROM participants.segment s "
						 "WHERE s.project_id = $1 AND s.id = $2 RETURNING " SEGMENT_JSON,
						 2, types, args, NULL, false);
	if (res == NULL)
		SegmentNotFound(segment_id);
	PG_RETURN_JSONB_P(res);
}

/* get_segment(project_id, segment_id) */
PT_API_FUNCTION(participants_get_segment)
{
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	res = SegmentObject(project_id, segment_id, true);
	if (res == NULL)
		SegmentNotFound(segment_id);
	PG_RETURN_JSONB_P(res);
}

/* list_segments(project_id, page_number, page_size): by name */
PT_API_FUNCTION(participants_list_segments)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	int32		page_number = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
	int32		page_size = PG_ARGISNULL(2) ? 20 : PG_GETARG_INT32(2);
	Oid			types[4] = {UUIDOID, INT4OID, INT4OID, INT8OID};
	Datum		args[4];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "segments");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = Int32GetDatum(page_number);
	args[2] = Int32GetDatum(page_size);
	args[3] = Int64GetDatum((int64) page_number * page_size);
	res = PtJsonbStatement(&plan,
					  "SELECT pg_catalog.jsonb_build_object('pageNumber', $2, 'pageSize', $3, "
					  "'totalSegments', (SELECT pg_catalog.count(*) FROM participants.segment "
					  "WHERE project_id = $1), "
					  "'segments', coalesce((SELECT pg_catalog.jsonb_agg(page.j ORDER BY page.n) FROM "
					  "(SELECT " SEGMENT_JSON " AS j, "
					  "pg_catalog.row_number() OVER (ORDER BY pg_catalog.lower(s.name), s.id) AS n "
					  "FROM participants.segment s WHERE s.project_id = $1 "
					  "ORDER BY pg_catalog.lower(s.name), s.id LIMIT $3 OFFSET $4) page), '[]'))",
					  4, types, args, NULL, true);
	if (res == NULL)
		elog(ERROR, "segment list returned no row");
	PG_RETURN_JSONB_P(res);
}

/*
 * The participants named by a JSON array (participantIdentifiers, or ids
 * with query_by_id), as a sorted array of distinct ids (PT404 naming the
 * first one that is not in the project). *ndistinct receives their number.
 */
static Datum
ResolveParticipants(pg_uuid_t *project_id, Jsonb *list, bool query_by_id, int *ndistinct,
					bool lock)
{
	static SPIPlanPtr plan = NULL;
	char	  **texts;
	int			n;
	Datum	   *ids = PtResolveParticipantList(project_id, list, query_by_id, &n, &texts);
	Datum	   *given = palloc(sizeof(Datum) * Max(n, 1));
	Datum		array;
	Oid			types[2] = {UUIDOID, UUIDARRAYOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;
	int			i;

	memcpy(given, ids, sizeof(Datum) * n);
	*ndistinct = PtSortDistinctIds(ids, n);
	array = PointerGetDatum(construct_array(ids, *ndistinct, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	if (!lock || *ndistinct == 0)
		return array;

	/*
	 * Lock them as the new episodes' foreign key will, in id order (README,
	 * "Concurrency"): a participant deleted since it was found is then
	 * missing here, and PT404, rather than a foreign key violation
	 */
	args[0] = UUIDPGetDatum(project_id);
	args[1] = array;
	SPI_connect();
	(void) PtRunValue(&plan, "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM participants.participant p "
					  "WHERE p.project_id = $1 AND p.id = ANY ($2) ORDER BY p.id FOR KEY SHARE) l",
					  2, types, args, NULL, false, &v, &isnull);
	SPI_finish();
	if (DatumGetInt64(v) == *ndistinct)
		return array;
	for (i = 0; i < n; i++)
	{
		PtRow		row;
		PtAccess	acc;
		bool		found;

		PtAccessOpen(&acc, ACL_SELECT, AccessShareLock);
		found = PtAccessFetch(&acc, UUIDPGetDatum(project_id), PT_KEY_ID, given[i],
							  GetLatestSnapshot(), false, &row);
		PtAccessClose(&acc);
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("participant \"%s\" not found", texts[i]),
					 errdetail("It was deleted while this call ran.")));
	}
	elog(ERROR, "a participant of the list could not be locked");
	return (Datum) 0;
}

/* Common part of add_segment_members and remove_segment_members */
static Jsonb *
ChangeMembers(FunctionCallInfo fcinfo, bool add)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};
	Datum		args[3];
	Datum		v;
	bool		isnull;
	int			ndistinct;
	int64		changed;
	JsonbParseState *state = NULL;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	PtNotNull(fcinfo, 2, "participants");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	if (SegmentKind(project_id, segment_id, true) == 'd')
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is dynamic: its members follow its filter", PtUuidText(segment_id)),
				 errhint("Change the filter with update_segment, or use a static segment.")));
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = ResolveParticipants(project_id, PG_GETARG_JSONB_P(2), query_by_id, &ndistinct, add);

	SPI_connect();
	if (!PtRunValue(&plans[add], add ?
	/* in id order, so that two overlapping calls cannot deadlock */
					"WITH ins AS (INSERT INTO participants.segment_membership "
					"(project_id, segment_id, participant_id, add_date) "
					"SELECT $1, $2, a.id, pg_catalog.now() FROM pg_catalog.unnest($3) a(id) "
					"ON CONFLICT (project_id, segment_id, participant_id) WHERE remove_date IS NULL "
					"DO NOTHING RETURNING 1) SELECT pg_catalog.count(*) FROM ins" :
					"WITH upd AS (UPDATE participants.segment_membership m "
					"SET remove_date = GREATEST(pg_catalog.now(), m.add_date) "
					"WHERE m.project_id = $1 AND m.segment_id = $2 AND m.remove_date IS NULL "
					"AND m.participant_id = ANY ($3) RETURNING 1) SELECT pg_catalog.count(*) FROM upd",
					3, types, args, NULL, false, &v, &isnull))
		elog(ERROR, "membership change returned no row");
	changed = DatumGetInt64(v);
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, add ? "added" : "removed", changed);
	PtPushNumber(&state, add ? "alreadyMembers" : "notMembers", ndistinct - changed);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* add_segment_members(project_id, segment_id, participants, query_by_id) */
PT_API_FUNCTION(participants_add_segment_members)
{
	PG_RETURN_JSONB_P(ChangeMembers(fcinfo, true));
}

/* remove_segment_members(project_id, segment_id, participants, query_by_id) */
PT_API_FUNCTION(participants_remove_segment_members)
{
	PG_RETURN_JSONB_P(ChangeMembers(fcinfo, false));
}

/* One participant's id, by identifier or id; PT404 when not in the project */
static Datum
ResolveParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id)
{
	PtRow		row;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	PtFetchParticipant(project_id, participant, query_by_id, ACL_SELECT, false, &row);
	memcpy(id->data, row.rec.id.data, UUID_LEN);
	return UUIDPGetDatum(id);
}

/* segment_history(project_id, segment_id, participant, query_by_id) */
PT_API_FUNCTION(participants_segment_history)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *segment_id;
	bool		query_by_id = !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	Oid			types[3] = {UUIDOID, UUIDOID, UUIDOID};
	Datum		args[3];
	char		nulls[3] = "  n";
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "segment_id");
	project_id = PG_GETARG_UUID_P(0);
	segment_id = PG_GETARG_UUID_P(1);
	(void) PtGetProject(project_id);
	(void) SegmentKind(project_id, segment_id, false);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	args[2] = (Datum) 0;
	if (!PG_ARGISNULL(2))
	{
		args[2] = ResolveParticipant(project_id, PG_GETARG_TEXT_PP(2), query_by_id);
		nulls[2] = ' ';
	}
	res = PtJsonbStatement(&plan,
					  "SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					  "'participantID', m.participant_id, 'addDate', m.add_date, "
					  "'removeDate', m.remove_date) ORDER BY m.add_date, m.id), '[]') "
					  "FROM participants.segment_membership m "
					  "WHERE m.project_id = $1 AND m.segment_id = $2 "
					  "AND ($3::uuid IS NULL OR m.participant_id = $3)", 3, types, args, nulls, true);
	if (res == NULL)
		elog(ERROR, "segment history returned no row");
	PG_RETURN_JSONB_P(res);
}

/* participant_segments(project_id, participant, query_by_id): current memberships */
PT_API_FUNCTION(participants_participant_segments)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	bool		query_by_id = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = ResolveParticipant(project_id, PG_GETARG_TEXT_PP(1), query_by_id);
	res = PtJsonbStatement(&plan,
					  "SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
					  "'segmentID', s.id, 'segmentName', s.name, 'addDate', m.add_date) "
					  "ORDER BY m.add_date, m.id), '[]') "
					  "FROM participants.segment_membership m "
					  "JOIN participants.segment s ON s.project_id = m.project_id AND s.id = m.segment_id "
					  "WHERE m.project_id = $1 AND m.participant_id = $2 AND m.remove_date IS NULL",
					  2, types, args, NULL, true);
	if (res == NULL)
		elog(ERROR, "participant segments returned no row");
	PG_RETURN_JSONB_P(res);
}

/* ------------------------------------------------------------------------
 * Triggers
 * ------------------------------------------------------------------------
 */

/* Column numbers (0-based) of the participant table for PtRecordFromValues */
static struct
{
	Oid			relid;
	int			map[PT_RECORD_NCOLS];
	int			project_id;
} pcols;

static void
LoadParticipantColumns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *names = pstrdup(PT_RECORD_COLUMNS);
	char	   *tok;
	char	   *save;
	int			i = 0;

	if (pcols.relid == RelationGetRelid(rel))
		return;
	for (tok = strtok_r(names, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
	{
		int			n = SPI_fnumber(desc, tok);

		if (n <= 0 || i >= PT_RECORD_NCOLS)
			elog(ERROR, "participant table has no column \"%s\"", tok);
		pcols.map[i++] = n - 1;
	}
	pcols.project_id = SPI_fnumber(desc, "project_id") - 1;
	pcols.relid = RelationGetRelid(rel);
}

static void
TupleRecord(HeapTuple tuple, TupleDesc desc, PtRecord *rec, pg_uuid_t *project_id)
{
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);

	heap_deform_tuple(tuple, desc, values, nulls);
	PtRecordFromValues(rec, values, nulls, pcols.map);
	if (project_id)
		memcpy(project_id->data, DatumGetUUIDP(values[pcols.project_id])->data, UUID_LEN);
}

/*
 * AFTER INSERT OR UPDATE row trigger on participant: evaluate the project's
 * dynamic filters on the new row (and the old one), and begin or end the
 * participant's episodes where the answer changed.
 */
PT_TRIGGER_FUNCTION(participants_participant_segments_sync)
{
	static SPIPlanPtr add_plan = NULL;
	static SPIPlanPtr remove_plan = NULL;
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	pg_uuid_t	project_id;
	PtRecord	newrec,
				oldrec;
	bool		update;
	SegmentCacheEntry *entry;
	ArrayType  *rebuilds;
	Datum	   *adds,
			   *removes;
	int			nadd = 0,
				nremove = 0;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "participant_segments_sync: must fire AFTER, FOR EACH ROW");
	update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	if (!update && !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		elog(ERROR, "participant_segments_sync: must fire on INSERT or UPDATE");

	desc = RelationGetDescr(td->tg_relation);
	LoadParticipantColumns(td->tg_relation);
	TupleRecord(update ? td->tg_newtuple : td->tg_trigtuple, desc, &newrec, &project_id);
	PtLockParticipantWrites(&project_id, ShareLock);
	rebuilds = RebuildsInProgress(&project_id);
	if (rebuilds != NULL)
		AddRecheck(&project_id, &newrec.id, rebuilds);
	entry = DynamicSegments(&project_id);
	if (entry->n == 0)
		return PointerGetDatum(NULL);
	if (update)
		TupleRecord(td->tg_trigtuple, desc, &oldrec, NULL);

	adds = palloc(sizeof(Datum) * entry->n);
	removes = palloc(sizeof(Datum) * entry->n);
	for (i = 0; i < entry->n; i++)
	{
		DynamicSegment *seg = &entry->segments[i];
		bool		now_in = PtFilterMatches(&seg->filter, &newrec);
		bool		was_in = update && PtFilterMatches(&seg->filter, &oldrec);

		if (now_in && !was_in)
			adds[nadd++] = UUIDPGetDatum(&seg->id);
		else if (was_in && !now_in)
			removes[nremove++] = UUIDPGetDatum(&seg->id);
	}
	if (nadd == 0 && nremove == 0)
		return PointerGetDatum(NULL);

	SPI_connect();
	if (add_plan == NULL)
	{
		Oid			types[3] = {UUIDOID, UUIDOID, UUIDARRAYOID};

		PtPreparePlan(&add_plan, "INSERT INTO participants.segment_membership "
					  "(project_id, segment_id, participant_id, add_date) "
					  "SELECT $1, s.id, $2, pg_catalog.now() FROM pg_catalog.unnest($3) s(id) "
					  "ON CONFLICT (project_id, segment_id, participant_id) WHERE remove_date IS NULL "
					  "DO NOTHING", 3, types);
		PtPreparePlan(&remove_plan, "UPDATE participants.segment_membership m "
					  "SET remove_date = GREATEST(pg_catalog.now(), m.add_date) "
					  "WHERE m.project_id = $1 AND m.participant_id = $2 "
					  "AND m.segment_id = ANY ($3) AND m.remove_date IS NULL", 3, types);
	}
	for (i = 0; i < 2; i++)
	{
		Datum		args[3];
		int			n = i == 0 ? nadd : nremove;
		int			ret;

		if (n == 0)
			continue;
		args[0] = UUIDPGetDatum(&project_id);
		args[1] = UUIDPGetDatum(&newrec.id);
		args[2] = PointerGetDatum(construct_array(i == 0 ? adds : removes, n, UUIDOID,
												  UUID_LEN, false, TYPALIGN_CHAR));
		ret = PtExecutePlan(i == 0 ? add_plan : remove_plan, args, NULL, false, 0);
		if (ret < 0)
			elog(ERROR, "segment membership change failed: %s", SPI_result_code_string(ret));
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * The filter a write gives a dynamic segment, when it is new: an insert
 * with a filter, or an update that changes it. NULL otherwise.
 */
static Jsonb *
NewFilter(HeapTuple oldt, HeapTuple newt, TupleDesc desc)
{
	int			col = SPI_fnumber(desc, "filter");
	bool		isnull;
	Datum		filter = heap_getattr(newt, col, desc, &isnull);

	if (isnull)
		return NULL;
	if (oldt != NULL)
	{
		Datum		oldfilter = heap_getattr(oldt, col, desc, &isnull);

		if (!isnull && DatumGetInt32(DirectFunctionCall2(jsonb_cmp, filter, oldfilter)) == 0)
			return NULL;
	}
	return DatumGetJsonbP(filter);
}

/* PT409 when a study names the segment (allowlist, blocklist, completion code) */
static void
CheckSegmentUnused(pg_uuid_t *project_id, pg_uuid_t *segment_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	char	   *study = NULL;
	char	   *use = NULL;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT st.name, ss.list FROM participants.study_segment ss "
					  "JOIN participants.study st ON st.project_id = ss.project_id AND st.id = ss.study_id "
					  "WHERE ss.project_id = $1 AND ss.segment_id = $2 "
					  "UNION ALL SELECT st.name, 'completion code ' || a.code "
					  "FROM participants.completion_action a "
					  "JOIN participants.study st ON st.project_id = a.project_id AND st.id = a.study_id "
					  "WHERE a.project_id = $1 AND a.segment_id = $2 LIMIT 1", 2, types);
	if (PtExecutePlan(plan, args, NULL, false, 0) < 0)
		elog(ERROR, "could not read the studies using a segment");
	if (SPI_processed > 0)
	{
		MemoryContext spi = MemoryContextSwitchTo(CurTransactionContext);

		study = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		use = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (study)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("segment %s is used by study \"%s\" (%s)", PtUuidText(segment_id), study, use),
				 errhint("Take it out of the study with update_study first.")));
}

/*
 * BEFORE INSERT, UPDATE or DELETE row trigger on segment: the filter is
 * valid; a segment keeps its project, id and kind. A dynamic segment's
 * filter comes, changes and goes under the project lock in exclusive mode
 * (see the top of this file).
 */
PT_TRIGGER_FUNCTION(participants_segment_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	HeapTuple	oldt = NULL;
	bool		isnull;
	Datum		filter;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "segment_guard: must fire BEFORE, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		int			keys[3];
		int			k;

		oldt = td->tg_trigtuple;
		newt = td->tg_newtuple;
		keys[0] = SPI_fnumber(desc, "project_id");
		keys[1] = SPI_fnumber(desc, "id");
		keys[2] = SPI_fnumber(desc, "kind");
		for (k = 0; k < 3; k++)
		{
			bool		n1,
						n2;
			Datum		a = heap_getattr(oldt, keys[k], desc, &n1);
			Datum		b = heap_getattr(newt, keys[k], desc, &n2);
			Form_pg_attribute att = TupleDescAttr(desc, keys[k] - 1);

			if (n1 != n2 || (!n1 && !datumIsEqual(a, b, att->attbyval, att->attlen)))
				ereport(ERROR,
						(errcode(ERRCODE_PT_CONFLICT),
						 errmsg("cannot change the project_id, id or kind of a segment"),
						 errhint("Create a new segment instead.")));
		}
	}
	else if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newt = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		/* a dynamic segment goes under the lock: no write may be adding to it */
		oldt = td->tg_trigtuple;
		CheckSegmentUnused(DatumGetUUIDP(heap_getattr(oldt, SPI_fnumber(desc, "project_id"), desc, &isnull)),
						   DatumGetUUIDP(heap_getattr(oldt, SPI_fnumber(desc, "id"), desc, &isnull)));
		(void) heap_getattr(oldt, SPI_fnumber(desc, "filter"), desc, &isnull);
		if (!isnull)
		{
			pg_uuid_t  *project_id = DatumGetUUIDP(heap_getattr(oldt, SPI_fnumber(desc, "project_id"),
																desc, &isnull));

			PtLockParticipantWrites(project_id, ExclusiveLock);
			/* what a failed rebuild of it left behind */
			if (LookUpRecheck())
			{
				static SPIPlanPtr plan = NULL;
				Oid			types[2] = {UUIDOID, UUIDOID};
				Datum		args[2];

				args[0] = UUIDPGetDatum(project_id);
				args[1] = heap_getattr(oldt, SPI_fnumber(desc, "id"), desc, &isnull);
				SPI_connect();
				(void) RunAsOwner(&plan, "DELETE FROM participants.segment_recheck "
								  "WHERE project_id = $1 AND segment_id = $2", 2, types, args,
								  InvalidSnapshot);
				SPI_finish();
			}
		}
		return PointerGetDatum(oldt);
	}
	else
		elog(ERROR, "segment_guard: must fire on INSERT, UPDATE or DELETE");

	filter = heap_getattr(newt, SPI_fnumber(desc, "filter"), desc, &isnull);
	if (!isnull)
	{
		PtFilter	f;

		PtFilterSegment(&f, DatumGetJsonbP(filter));
	}
	/* a new filter's rebuild (segment_sync, create_segment) takes its own locks */
	return PointerGetDatum(newt);
}

/*
 * AFTER row trigger on segment (and AFTER TRUNCATE): every backend drops
 * its cached dynamic segments; a dynamic segment whose filter changed gets
 * its membership rebuilt. (A new segment's membership is built by
 * create_segment, not here: restoring a dump loads segments and their
 * membership history as they were.)
 */
PT_TRIGGER_FUNCTION(participants_segment_sync)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "segment_sync: must fire AFTER");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	InitSegmentCache();
	segment_relid = RelationGetRelid(td->tg_relation);
	SegmentCacheReset(InvalidOid);
	segment_written_in_xact = true;

	if (TRIGGER_FIRED_FOR_ROW(td->tg_event) && TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		TupleDesc	desc = RelationGetDescr(td->tg_relation);
		Jsonb	   *filter = NewFilter(td->tg_trigtuple, td->tg_newtuple, desc);
		bool		isnull;

		if (filter != NULL)
		{
			pg_uuid_t  *project_id = DatumGetUUIDP(heap_getattr(td->tg_newtuple,
																 SPI_fnumber(desc, "project_id"),
																 desc, &isnull));
			pg_uuid_t  *segment_id = DatumGetUUIDP(heap_getattr(td->tg_newtuple,
																 SPI_fnumber(desc, "id"),
																 desc, &isnull));

			RebuildMembership(project_id, segment_id, filter);
		}
	}
	return PointerGetDatum(NULL);
}
