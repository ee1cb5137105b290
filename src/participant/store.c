/*
 * participant/store.c
 *		The participant table, read and written without a planned statement:
 *		lookups by
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
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "participant/participant.h"

/* The participant table's oid */
Oid
PtParticipantRelid(void)
{
	return PtTableRelid("participant");
}

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
	elog(ERROR, "table has no column \"%s\"", name);
	return -1;					/* keep compiler quiet */
}

/*
 * Open the participant table and its unique indexes, after checking the
 * privileges (need) the equivalent SQL would check. Row-level security
 * cannot be applied on this path, so a table that has it enabled for the
 * caller is refused rather than silently bypassed.
 */
void
PtAccessOpen(PtAccess *a, pg_uuid_t *project, AclMode need, LOCKMODE lockmode)
{
	Oid			relid = PtParticipantRelid();
	TupleDesc	desc;
	int			k;

	if (pg_class_aclmask(relid, GetUserId(), need, ACLMASK_ALL) != need)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, "participant");
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on participants.participant is not supported by this extension's functions")));

	/* the project's rows: this table, or its shard on a cluster */
	a->relid = relid;
	a->rel = table_open(PtLocalTable(relid, project), lockmode);
	/* indexes are opened when first probed: most calls probe one */
	for (k = 0; k < PT_NUM_KEYS; k++)
		a->idx[k] = NULL;
	a->lockmode = lockmode;
	desc = RelationGetDescr(a->rel);
	for (k = 0; k < PT_RECORD_NCOLS; k++)
		a->map[k] = AttNum(desc, record_columns[k]);
	a->att_updated = AttNum(desc, "updated_date");
	a->att_project = AttNum(desc, "project_id");
	a->slot = table_slot_create(a->rel, NULL);
}

/* Close what PtAccessOpen opened (locks are kept to the end of the transaction) */
void
PtAccessClose(PtAccess *a)
{
	int			k;

	ExecDropSingleTupleTableSlot(a->slot);
	for (k = 0; k < PT_NUM_KEYS; k++)
		if (a->idx[k] != NULL)
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

	if (a->idx[kind] == NULL)
	{
		Oid			idx = PtLocalIndexRelid(index_names[kind], a->relid, RelationGetRelid(a->rel));

		a->idx[kind] = index_open(idx, a->lockmode);
	}
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

/* Lock a row as FOR UPDATE does, in its latest version; false if deleted meanwhile */
static bool
LockRow(PtAccess *a, ItemPointer tid, Snapshot snap)
{
	TM_FailureData tmfd;
	TM_Result	res;

	res = table_tuple_lock(a->rel, tid, snap, a->slot, GetCurrentCommandId(false),
						   LockTupleExclusive, LockWaitBlock,
						   TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (res == TM_Deleted)
		return false;
	if (res != TM_Ok)
		elog(ERROR, "could not lock participant row: result %d", (int) res);
	return true;
}

/* Copy the row in a->slot into *row (record in the current memory context) */
static void
KeepRow(PtAccess *a, PtRow *row)
{
	slot_getallattrs(a->slot);
	PtRecordFromValues(&row->rec, a->slot->tts_values, a->slot->tts_isnull, a->map);
	row->tuple = ExecCopySlotHeapTuple(a->slot);
	row->tuple->t_self = a->slot->tts_tid;
}

/*
 * The row of the project whose key of the given kind equals value, locked
 * when "lock" (then in its latest version, which must still carry the key).
 * False when there is none.
 */
bool
PtAccessFetch(PtAccess *a, Datum project_id, int kind, Datum value, Snapshot snap,
			  bool lock, PtRow *row)
{
	ItemPointerData tid;

	if (!Probe(a, kind, project_id, value, snap, &tid))
		return false;
	if (lock)
	{
		if (!LockRow(a, &tid, snap))
			return false;
		KeepRow(a, row);
		/* an update meanwhile may have given the participant another identifier */
		if (kind == PT_KEY_IDENTIFIER &&
			strcmp(row->rec.participant_identifier, TextDatumGetCString(value)) != 0)
			return false;
		return true;
	}
	KeepRow(a, row);
	return true;
}

/* True when a row of the project has this participantIdentifier */
bool
PtAccessIdentifierTaken(PtAccess *a, Datum project_id, const char *identifier, Snapshot snap)
{
	ItemPointerData tid;

	return Probe(a, PT_KEY_IDENTIFIER, project_id, CStringGetTextDatum(identifier), snap, &tid);
}


/* A row found by a lookup: its id (stable) and the version seen (its TID) */
typedef struct FoundRow
{
	pg_uuid_t	id;
	ItemPointerData tid;
} FoundRow;

static int
CompareFound(const void *x, const void *y)
{
	const FoundRow *a = x;
	const FoundRow *b = y;
	int			c = memcmp(a->id.data, b->id.data, UUID_LEN);

	return c != 0 ? c : ItemPointerCompare((ItemPointer) &a->tid, (ItemPointer) &b->tid);
}

/*
 * Find and lock (as FOR UPDATE does) every row of the project whose id,
 * identifier, lower(email) or phone is among the given keys. Rows are locked
 * in the order of their ids, which no update changes (a row's place in the
 * table does change, and two calls that saw different versions would lock
 * in different orders): overlapping calls lock in the same order and cannot
 * deadlock on each other's rows. A row updated meanwhile is locked in its
 * latest version, one deleted meanwhile is skipped. Returns the rows, each
 * with its locked tuple, in *rows.
 */
int
PtAccessLookup(PtAccess *a, Datum project_id, Datum *keys[PT_NUM_KEYS],
			   int nkeys[PT_NUM_KEYS], Snapshot snap, PtRow **rows)
{
	int			total = 0;
	int			nfound = 0;
	int			nrows = 0;
	int			k,
				i;
	FoundRow   *found;
	int			att_id = a->map[0] + 1;

	for (k = 0; k < PT_NUM_KEYS; k++)
		total += nkeys[k];
	found = palloc(sizeof(FoundRow) * Max(total, 1));
	for (k = 0; k < PT_NUM_KEYS; k++)
		for (i = 0; i < nkeys[k]; i++)
			if (Probe(a, k, project_id, keys[k][i], snap, &found[nfound].tid))
			{
				bool		isnull;

				found[nfound].id = *DatumGetUUIDP(slot_getattr(a->slot, att_id, &isnull));
				nfound++;
			}
	qsort(found, nfound, sizeof(FoundRow), CompareFound);

	*rows = palloc(sizeof(PtRow) * Max(nfound, 1));
	for (i = 0; i < nfound; i++)
	{
		ItemPointerData tid = found[i].tid;

		if (i > 0 && memcmp(found[i].id.data, found[i - 1].id.data, UUID_LEN) == 0)
			continue;
		if (!LockRow(a, &tid, snap))
			continue;
		KeepRow(a, &(*rows)[nrows++]);
	}
	return nrows;
}

/* Executor state for writing one chunk's rows */
typedef struct Modify
{
	PtRowWrites w;
	TupleTableSlot *oldslot;	/* a locked row's stored version */
	TupleTableSlot *newslot;	/* the version to write */
	int			ndefaults;		/* columns an add leaves to their defaults */
	int		   *default_att;
	ExprState **default_expr;	/* NULL: no default, the column is null */
} Modify;

static void
BeginModify(PtAccess *a, Modify *m, Snapshot snap)
{
	TupleDesc	desc = RelationGetDescr(a->rel);
	bool	   *set = palloc0(sizeof(bool) * desc->natts);
	int			i;

	PtBeginRowWrites(&m->w, a->rel, snap);
	m->oldslot = ExecInitExtraTupleSlot(m->w.estate, desc, &TTSOpsHeapTuple);
	m->newslot = ExecInitExtraTupleSlot(m->w.estate, desc, &TTSOpsVirtual);

	/* an add sets the record's writable columns, its dates, and project_id */
	for (i = 0; i < PT_RECORD_NCOLS; i++)
		set[a->map[i]] = true;
	set[a->map[21]] = set[a->map[22]] = set[a->map[24]] = false;	/* enrollment, withdraw, opted_out */
	set[a->att_updated] = set[a->att_project] = true;
	m->ndefaults = 0;
	m->default_att = palloc(sizeof(int) * desc->natts);
	m->default_expr = palloc(sizeof(ExprState *) * desc->natts);
	for (i = 0; i < desc->natts; i++)
	{
		Node	   *def;

		if (set[i] || TupleDescAttr(desc, i)->attisdropped)
			continue;
		def = build_column_default(a->rel, i + 1);
		m->default_att[m->ndefaults] = i;
		m->default_expr[m->ndefaults++] = def ? ExecInitExpr((Expr *) expression_planner((Expr *) def), NULL) : NULL;
	}
}

static void
EndModify(Modify *m)
{
	PtEndRowWrites(&m->w);
}

/*
 * Write a chunk: add new participants and update locked rows, through the
 * executor's single-row paths (BEFORE and AFTER row triggers, constraints,
 * index maintenance). An add takes the record's values and every other
 * column's default; an update changes the writable columns and keeps every
 * other column's stored value.
 */
void
PtAccessWrite(PtAccess *a, pg_uuid_t *project_id, PtRecord **adds, int nadd,
			  PtRow **targets, PtRecord **recs, int nupd, Snapshot snap)
{
	TupleDesc	desc = RelationGetDescr(a->rel);
	TimestampTz now = GetCurrentTimestamp();
	ExprContext *econtext;
	Modify		m;
	int			i,
				j;

	BeginModify(a, &m, snap);
	econtext = GetPerTupleExprContext(m.w.estate);
	for (i = 0; i < nadd; i++)
	{
		PtRecord   *r = adds[i];
		Datum	   *values = m.newslot->tts_values;
		bool	   *nulls = m.newslot->tts_isnull;

		ExecClearTuple(m.newslot);
		for (j = 0; j < m.ndefaults; j++)
		{
			int			att = m.default_att[j];

			if (m.default_expr[j] == NULL)
			{
				values[att] = (Datum) 0;
				nulls[att] = true;
			}
			else
				values[att] = ExecEvalExprSwitchContext(m.default_expr[j], econtext, &nulls[att]);
		}
		values[a->att_project] = UUIDPGetDatum(project_id);
		nulls[a->att_project] = false;
		values[a->map[0]] = UUIDPGetDatum(&r->id);
		nulls[a->map[0]] = false;
		values[a->map[2]] = r->link_identifier ? CStringGetTextDatum(r->link_identifier) : (Datum) 0;
		nulls[a->map[2]] = (r->link_identifier == NULL);
		PtRecordToValues(r, values, nulls, a->map);
		values[a->map[23]] = TimestampTzGetDatum(r->inserted_date);
		nulls[a->map[23]] = false;
		values[a->att_updated] = TimestampTzGetDatum(r->inserted_date);
		nulls[a->att_updated] = false;
		ExecStoreVirtualTuple(m.newslot);
		ExecSimpleRelationInsert(m.w.rri, m.w.estate, m.newslot);
		ResetPerTupleExprContext(m.w.estate);
	}
	for (i = 0; i < nupd; i++)
	{
		ExecStoreHeapTuple(targets[i]->tuple, m.oldslot, false);
		slot_getallattrs(m.oldslot);
		ExecClearTuple(m.newslot);
		memcpy(m.newslot->tts_values, m.oldslot->tts_values, sizeof(Datum) * desc->natts);
		memcpy(m.newslot->tts_isnull, m.oldslot->tts_isnull, sizeof(bool) * desc->natts);
		PtRecordToValues(recs[i], m.newslot->tts_values, m.newslot->tts_isnull, a->map);
		m.newslot->tts_values[a->att_updated] = TimestampTzGetDatum(now);
		m.newslot->tts_isnull[a->att_updated] = false;
		ExecStoreVirtualTuple(m.newslot);
		EvalPlanQualSetSlot(&m.w.epq, m.newslot);
		ExecSimpleRelationUpdate(m.w.rri, m.w.estate, &m.w.epq, m.oldslot, m.newslot);
		ResetPerTupleExprContext(m.w.estate);
	}
	EndModify(&m);
}

