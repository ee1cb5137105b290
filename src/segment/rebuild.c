/*
 * segment/rebuild.c
 *		Rebuilding a dynamic segment's membership when its filter is new or
 *		changes, without holding up the project's participant writes while
 *		the filter is evaluated over every participant.
 *
 *		Every participant write takes the project's participant write lock
 *		(participant/write_lock.c) in share mode before it locks a row or
 *		reads the filters. A rebuild (PtRebuildMembership) goes in three
 *		steps:
 *		  1. it marks itself (a row of segment_recheck naming the segment,
 *		     with the nil participant, that only a dirty snapshot sees: the
 *		     rebuild is in progress while its inserter is), then waits for
 *		     the transactions that hold the lock now, without making later
 *		     ones wait: the writes in flight that could not see the mark have
 *		     ended;
 *		  2. with a snapshot taken then, and no lock that writers wait for,
 *		     it finds the difference between the segment's members and what
 *		     the new filter selects. Writes go on meanwhile; each sees the
 *		     marks (PtRebuildsInProgress) and adds its participant to
 *		     segment_recheck, once for each segment being rebuilt
 *		     (PtAddRecheck);
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

#include "segment/segment.h"

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
ArrayType *
PtRebuildsInProgress(pg_uuid_t *project_id)
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
	rel = table_open(PtLocalTable(recheck_relid, project_id), AccessShareLock);
	InitDirtySnapshot(dirty);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(project_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(&rebuild_mark));
	scan = systable_beginscan(rel, PtLocalIndex(recheck_index, recheck_relid, RelationGetRelid(rel)),
							  true, &dirty, 2, keys);
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
void
PtAddRecheck(pg_uuid_t *project_id, pg_uuid_t *participant_id, ArrayType *segments)
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
void
PtRebuildMembership(pg_uuid_t *project_id, pg_uuid_t *segment_id, Jsonb *filter_jb)
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
	/*
	 * the third parameter: a uuid[] of the participants a statement looks
	 * at, empty until step 3 (a valid value even where unused: Citus copies
	 * every parameter of a statement it routes)
	 */
	changes = PtQueryParam(&q, UUIDARRAYOID, PointerGetDatum(construct_empty_array(UUIDOID)));

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
						"SELECT $1, $2, a.id, pg_catalog.now() FROM "
						"(SELECT p.id FROM participants.participant p "
						"WHERE p.project_id = $1 AND p.id = ANY ($%d)%s "
						"AND NOT EXISTS (SELECT 1 FROM participants.segment_membership c "
						"WHERE c.project_id = $1 AND c.segment_id = $2 "
						"AND c.participant_id = p.id AND c.remove_date IS NULL) "
						"ORDER BY p.id FOR KEY SHARE OF p) a "
						"ON CONFLICT (project_id, segment_id, participant_id) "
						"WHERE remove_date IS NULL DO NOTHING", changes, cond));
	SPI_finish();
}

/*
 * Deleting a dynamic segment: what a failed rebuild of it left in
 * segment_recheck goes too
 */
void
PtForgetRebuilds(pg_uuid_t *project_id, pg_uuid_t *segment_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	if (!LookUpRecheck())
		return;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	SPI_connect();
	(void) RunAsOwner(&plan, "DELETE FROM participants.segment_recheck "
					  "WHERE project_id = $1 AND segment_id = $2", 2, types, args,
					  InvalidSnapshot);
	SPI_finish();
}

