/*
 * segment/dynamic.c
 *		Keeping dynamic segments current: a per-backend cache of each
 *		project's dynamic filters, and the triggers. participant_segments_sync
 *		evaluates the filters (in C, search/filter.c) against each added or
 *		changed participant row and begins or ends its episodes;
 *		segment_guard checks segment rows; segment_sync drops the caches and
 *		rebuilds a segment whose filter changed (rebuild.c).
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

static Oid	segment_relid = InvalidOid;

static Oid
SegmentRelid(void)
{
	if (!OidIsValid(segment_relid))
		segment_relid = PtTableRelid("segment");
	return segment_relid;
}

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
		segment_cache = PtCacheCreate("participants segment cache", sizeof(pg_uuid_t),
									  sizeof(SegmentCacheEntry), &segment_cache_cxt);
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
	rebuilds = PtRebuildsInProgress(&project_id);
	if (rebuilds != NULL)
		PtAddRecheck(&project_id, &newrec.id, rebuilds);
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
			PtForgetRebuilds(project_id, DatumGetUUIDP(heap_getattr(oldt, SPI_fnumber(desc, "id"),
																	desc, &isnull)));
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
	/* the segment table (on a cluster, the trigger fires on its shard) */
	segment_relid = PtShellOf(RelationGetRelid(td->tg_relation));
	CacheInvalidateRelcacheByRelid(segment_relid);
	InitSegmentCache();
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

			PtRebuildMembership(project_id, segment_id, filter);
		}
	}
	return PointerGetDatum(NULL);
}

