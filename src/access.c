/*
 * access.c
 *		Direct access to the participant table for bulk upserts: lookups by
 *		probing its unique indexes, row locks taken like SELECT ... FOR UPDATE,
 *		and updates through the executor's single-row path (the one logical
 *		replication uses), which fires row triggers, checks constraints and
 *		maintains indexes. No planner is involved, so a statement plan made
 *		while the table was small can never turn a large call quadratic.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "pt.h"

static const char *const index_names[PT_NUM_KEYS] = {
	"participant_pkey", "participant_identifier_key",
	"participant_email_key", "participant_mobile_phone_key"
};

static const char *const record_columns[PT_RECORD_NCOLS] = {
	"id", "participant_identifier", "link_identifier", "invitation_status",
	"email", "first_name", "middle_name", "last_name", "date_of_birth",
	"preferred_language", "gender", "street1", "street2", "city", "state",
	"postal_code", "mobile_phone", "utc_offset", "custom_fields",
	"exclude_from_export", "institution_code", "enrollment_date",
	"withdraw_date", "inserted_date", "opted_out"
};

static int
AttNum(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	elog(ERROR, "participant table has no column \"%s\"", name);
	return -1;					/* keep compiler quiet */
}

/*
 * Open the participant table and its unique indexes for a bulk call, after
 * the privilege checks the equivalent SQL would make. Row-level security
 * cannot be applied on this path, so a table that has it enabled for the
 * caller is refused rather than silently bypassed.
 */
void
PtAccessOpen(PtAccess *a)
{
	Oid			nsp = get_namespace_oid("participants", false);
	Oid			relid = PtParticipantRelid();
	TupleDesc	desc;
	AclMode		need = ACL_SELECT | ACL_UPDATE;
	int			k;

	if (pg_class_aclmask(relid, GetUserId(), need, ACLMASK_ALL) != need)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "participant");
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on participants.participant is not supported by upsert_participants")));

	a->rel = table_open(relid, RowExclusiveLock);
	for (k = 0; k < PT_NUM_KEYS; k++)
	{
		Oid			idx = get_relname_relid(index_names[k], nsp);

		if (!OidIsValid(idx))
			elog(ERROR, "index participants.%s does not exist", index_names[k]);
		a->idx[k] = index_open(idx, RowExclusiveLock);
	}
	desc = RelationGetDescr(a->rel);
	for (k = 0; k < PT_RECORD_NCOLS; k++)
		a->map[k] = AttNum(desc, record_columns[k]);
	a->att_updated = AttNum(desc, "updated_date");
	a->slot = table_slot_create(a->rel, NULL);
}

/* Close what PtAccessOpen opened (locks are kept to the end of the transaction) */
void
PtAccessClose(PtAccess *a)
{
	int			k;

	ExecDropSingleTupleTableSlot(a->slot);
	for (k = 0; k < PT_NUM_KEYS; k++)
		index_close(a->idx[k], NoLock);
	table_close(a->rel, NoLock);
}

/*
 * A snapshot for one chunk's lookups: a new one per chunk under READ
 * COMMITTED (as each SQL statement would take), seeing this transaction's
 * writes so far. Unregister it with UnregisterSnapshot.
 */
Snapshot
PtAccessSnapshot(void)
{
	Snapshot	snap = RegisterSnapshot(GetTransactionSnapshot());

	snap->curcid = GetCurrentCommandId(false);
	return snap;
}

/* TID of the row whose key of the given kind equals value, if visible */
static bool
Probe(PtAccess *a, int kind, Datum project_id, Datum value, Snapshot snap,
	  ItemPointer tid)
{
	ScanKeyData skey[2];
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_UUID_EQ, project_id);
	skey[0].sk_collation = a->idx[kind]->rd_indcollation[0];
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber,
				kind == PT_KEY_ID ? F_UUID_EQ : F_TEXTEQ, value);
	skey[1].sk_collation = a->idx[kind]->rd_indcollation[1];
	scan = index_beginscan(a->rel, a->idx[kind], snap, 2, 0);
	index_rescan(scan, skey, 2, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, a->slot);
	if (found)
		*tid = a->slot->tts_tid;
	index_endscan(scan);
	return found;
}

static int
CompareTids(const void *x, const void *y)
{
	return ItemPointerCompare((ItemPointer) x, (ItemPointer) y);
}

/*
 * Find and lock (as FOR UPDATE does) every row of the project whose id,
 * identifier, lower(email) or phone is among the given keys. Rows are locked
 * in physical order, so overlapping calls lock in the same order; a row
 * updated meanwhile is locked in its latest version, one deleted meanwhile
 * is skipped. Returns the rows, each with its locked tuple, in *rows.
 */
int
PtAccessLookup(PtAccess *a, Datum project_id, Datum *keys[PT_NUM_KEYS],
			   int nkeys[PT_NUM_KEYS], Snapshot snap, PtRow **rows)
{
	int			total = 0;
	int			ntids = 0;
	int			nrows = 0;
	int			k,
				i;
	ItemPointerData *tids;

	for (k = 0; k < PT_NUM_KEYS; k++)
		total += nkeys[k];
	tids = palloc(sizeof(ItemPointerData) * Max(total, 1));
	for (k = 0; k < PT_NUM_KEYS; k++)
		for (i = 0; i < nkeys[k]; i++)
			if (Probe(a, k, project_id, keys[k][i], snap, &tids[ntids]))
				ntids++;
	qsort(tids, ntids, sizeof(ItemPointerData), CompareTids);

	*rows = palloc(sizeof(PtRow) * Max(ntids, 1));
	for (i = 0; i < ntids; i++)
	{
		TM_FailureData tmfd;
		TM_Result	res;
		ItemPointerData tid = tids[i];

		if (i > 0 && ItemPointerEquals(&tids[i], &tids[i - 1]))
			continue;
		res = table_tuple_lock(a->rel, &tid, snap, a->slot, GetCurrentCommandId(false),
							   LockTupleExclusive, LockWaitBlock,
							   TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (res == TM_Deleted)
			continue;
		if (res != TM_Ok)
			elog(ERROR, "could not lock participant row: result %d", (int) res);
		slot_getallattrs(a->slot);
		PtRecordFromValues(&(*rows)[nrows].rec, a->slot->tts_values, a->slot->tts_isnull, a->map);
		(*rows)[nrows].tuple = ExecCopySlotHeapTuple(a->slot);
		(*rows)[nrows].tuple->t_self = a->slot->tts_tid;
		nrows++;
	}
	return nrows;
}

/*
 * Update locked rows with new values for the writable columns, through the
 * executor's single-row path: BEFORE and AFTER row triggers, constraints,
 * index maintenance. Every other column keeps its stored value.
 */
void
PtAccessUpdate(PtAccess *a, PtRow **targets, PtRecord **recs, int n, Snapshot snap)
{
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	EPQState	epq;
	TupleDesc	desc = RelationGetDescr(a->rel);
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(a->rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	InitResultRelInfo(rri, a->rel, 1, NULL, 0);
	estate->es_opened_result_relations = lappend(estate->es_opened_result_relations, rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = snap;
	AfterTriggerBeginQuery();
	ExecOpenIndices(rri, false);
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
	oldslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsHeapTuple);
	newslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);

	for (i = 0; i < n; i++)
	{
		ExecStoreHeapTuple(targets[i]->tuple, oldslot, false);
		slot_getallattrs(oldslot);
		ExecClearTuple(newslot);
		memcpy(newslot->tts_values, oldslot->tts_values, sizeof(Datum) * desc->natts);
		memcpy(newslot->tts_isnull, oldslot->tts_isnull, sizeof(bool) * desc->natts);
		PtRecordToValues(recs[i], newslot->tts_values, newslot->tts_isnull, a->map);
		newslot->tts_values[a->att_updated] = TimestampTzGetDatum(now);
		newslot->tts_isnull[a->att_updated] = false;
		ExecStoreVirtualTuple(newslot);
		EvalPlanQualSetSlot(&epq, newslot);
		ExecSimpleRelationUpdate(rri, estate, &epq, oldslot, newslot);
		ResetPerTupleExprContext(estate);
	}

	ExecCloseIndices(rri);
	EvalPlanQualEnd(&epq);
	AfterTriggerEndQuery(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}
