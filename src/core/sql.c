/*
 * core/sql.c
 *		SQL from C, shared by every part: statements prepared once per
 *		backend and executed with the caller's memory context restored,
 *		work run in a subtransaction, single-row writes through the
 *		executor, and table oids. (Participant rows are found through
 *		participant/store.c's index probes, never through a plan.)
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "executor/spi.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "core/core.h"

/*
 * Prepare a statement with the given cursor options (CURSOR_OPT_*) and keep
 * it for the life of the backend
 */
SPIPlanPtr
PtKeepPlan(const char *sql, int nargs, Oid *types, int cursor_options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/* Prepare a statement into *slot and keep it for the life of the backend */
void
PtPreparePlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	*slot = PtKeepPlan(sql, nargs, types, 0);
}

/*
 * Execute a kept plan and come back to the caller's memory context: SPI
 * leaves its own procedure context current, which lives until SPI_finish,
 * and per-chunk work must stay in the chunk's context.
 */
int
PtExecutePlan(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only,
			  long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			ret = SPI_execute_plan(plan, args, nulls, read_only, count);

	MemoryContextSwitchTo(cxt);
	return ret;
}

/*
 * Run a statement (prepared into *slot on first use) and return its first
 * row's first value in *value; false when it returns no row. The caller is
 * connected to SPI; the value lives in SPI's memory.
 */
bool
PtRunValue(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *args,
		   const char *nulls, bool read_only, Datum *value, bool *isnull)
{
	int			ret;

	if (*slot == NULL)
		PtPreparePlan(slot, sql, nargs, types);
	ret = PtExecutePlan(*slot, args, nulls, read_only, 0);
	if (ret < 0)
		elog(ERROR, "statement failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	*value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	return true;
}

/*
 * Whether a statement (prepared into *slot on first use) returns a row, in
 * an SPI connection of its own: the existence checks and row locks that
 * take a row or an error
 */
bool
PtRowExists(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *args,
			const char *nulls, bool read_only)
{
	Datum		v;
	bool		isnull;
	bool		found;

	SPI_connect();
	found = PtRunValue(slot, sql, nargs, types, args, nulls, read_only, &v, &isnull);
	SPI_finish();
	return found;
}

/*
 * Run a statement (prepared into *slot on first use) that returns one jsonb
 * value, copied into the caller's memory; NULL when it returns no row (or a
 * null)
 */
Jsonb *
PtJsonbStatement(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types,
				 Datum *args, const char *nulls, bool read_only)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum		v;
	bool		isnull;
	Jsonb	   *res = NULL;

	SPI_connect();
	if (PtRunValue(slot, sql, nargs, types, args, nulls, read_only, &v, &isnull) && !isnull)
	{
		MemoryContextSwitchTo(cxt);
		res = DatumGetJsonbPCopy(v);
	}
	SPI_finish();
	return res;
}

/*
 * Run fn(arg) in a subtransaction. NULL when it succeeded (the
 * subtransaction is kept); otherwise the subtransaction is rolled back
 * (undoing everything fn did, its locks included) and the error is returned,
 * copied into the caller's memory context, for the caller to handle or
 * rethrow (ReThrowError).
 */
ErrorData *
PtSubtransaction(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	return edata;
}

/* The oid of one of the extension's tables; ERROR when it does not exist */
Oid
PtTableRelid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("participants", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table participants.%s does not exist", name);
	return relid;
}

/*
 * Whether the extension's tables are those of 0.5.0 or later (consent,
 * contact rules, incentives): until ALTER EXTENSION ... UPDATE, the library
 * serves an older release's tables, and leaves out what they do not have
 */
bool
PtHaveGovernance(void)
{
	return OidIsValid(get_relname_relid("contact_rule", get_namespace_oid("participants", false)));
}

/* Whether the extension's tables are those of 0.6.0 or later (audit, imports, erasure) */
bool
PtHaveLifecycle(void)
{
	return OidIsValid(get_relname_relid("audit", get_namespace_oid("participants", false)));
}

/*
 * A trigger's tuple column by name (the tables' governance triggers, which
 * run once per row of rarely written tables: no cached attribute numbers)
 */
Datum
PtTupleCol(HeapTuple t, TupleDesc desc, const char *col, bool *isnull)
{
	int			att = SPI_fnumber(desc, col);

	if (att <= 0)
		elog(ERROR, "table has no column \"%s\"", col);
	return heap_getattr(t, att, desc, isnull);
}

/* Whether column col differs between two versions of a row */
bool
PtTupleColChanged(HeapTuple a, HeapTuple b, TupleDesc desc, const char *col)
{
	bool		n1,
				n2;
	Datum		x = PtTupleCol(a, desc, col, &n1);
	Datum		y = PtTupleCol(b, desc, col, &n2);
	Form_pg_attribute att = TupleDescAttr(desc, SPI_fnumber(desc, col) - 1);

	if (n1 || n2)
		return n1 != n2;
	return !datumIsEqual(x, y, att->attbyval, att->attlen);
}

/*
 * The body of a BEFORE INSERT OR UPDATE row trigger on a table the database
 * alone writes (consent_history, contact): the row goes in when "allowed"
 * (the database is writing it, or a restore loads it); any other INSERT, and
 * every UPDATE, is PT409 with the message, detail and hint given
 */
Datum
PtDatabaseRowsOnly(FunctionCallInfo fcinfo, const char *trigger, bool allowed,
				   const char *message, const char *detail, const char *hint)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "%s: must fire BEFORE, FOR EACH ROW", trigger);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event) && allowed)
		return PointerGetDatum(td->tg_trigtuple);
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("%s", message),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * Single-row writes through the executor (constraints, indexes, triggers),
 * without a planned statement
 * ------------------------------------------------------------------------
 */

/*
 * Executor state for writing rows of rel one at a time through the
 * executor's single-row paths (ExecSimpleRelationInsert/Update: triggers,
 * constraints, indexes), as a statement of its own for AFTER triggers
 */
void
PtBeginRowWrites(PtRowWrites *w, Relation rel, Snapshot snap)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(w->estate, list_make1(rte));
	InitResultRelInfo(w->rri, rel, 1, NULL, 0);
	w->estate->es_opened_result_relations = lappend(w->estate->es_opened_result_relations, w->rri);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = snap;
	AfterTriggerBeginQuery();
	ExecOpenIndices(w->rri, false);
	EvalPlanQualInit(&w->epq, w->estate, NULL, NIL, -1);
}

void
PtEndRowWrites(PtRowWrites *w)
{
	ExecCloseIndices(w->rri);
	EvalPlanQualEnd(&w->epq);
	AfterTriggerEndQuery(w->estate);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
}

/*
 * Insert one row into one of the extension's tables (relid; on a cluster the
 * project's shard of it) through the executor's single-row path
 * (constraints, indexes, triggers), as a statement of its own, without the
 * caller's privileges: for rows the database itself writes (audit, import
 * reports, erasure receipts). cols names the columns values and nulls give,
 * in their order; the rest take NULL (not their defaults).
 */
void
PtInsertRow(Oid relid, pg_uuid_t *project, int ncols, const char *const *cols,
			Datum *values, bool *nulls)
{
	Relation	rel = table_open(PtLocalTable(relid, project), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	PtRowWrites w;
	TupleTableSlot *slot;
	int			i;

	PtBeginRowWrites(&w, rel, GetActiveSnapshot());
	slot = ExecInitExtraTupleSlot(w.estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	for (i = 0; i < desc->natts; i++)
	{
		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
	}
	for (i = 0; i < ncols; i++)
	{
		int			att = SPI_fnumber(desc, cols[i]);

		if (att <= 0)
			elog(ERROR, "table %s has no column \"%s\"", RelationGetRelationName(rel), cols[i]);
		slot->tts_values[att - 1] = values[i];
		slot->tts_isnull[att - 1] = nulls[i];
	}
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(w.rri, w.estate, slot);
	PtEndRowWrites(&w);
	table_close(rel, NoLock);
}

/* A random (version 4) uuid */
void
PtRandomUuid(pg_uuid_t *u)
{
	if (!pg_strong_random(u->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random uuid")));
	u->data[6] = (u->data[6] & 0x0f) | 0x40;
	u->data[8] = (u->data[8] & 0x3f) | 0x80;
}

/*
 * Whether attribute att differs between two versions of a row, comparing
 * varlena values by content (a packed and an unpacked header are the same
 * value); either version may be NULL, meaning absent (an INSERT's old row,
 * a DELETE's new one)
 */
bool
PtAttChanged(HeapTuple a, HeapTuple b, TupleDesc desc, int att)
{
	bool		an = true,
				bn = true;
	Datum		av = a ? heap_getattr(a, att, desc, &an) : (Datum) 0;
	Datum		bv = b ? heap_getattr(b, att, desc, &bn) : (Datum) 0;
	Form_pg_attribute attr = TupleDescAttr(desc, att - 1);

	if (an || bn)
		return an != bn;
	if (attr->attlen == -1)
	{
		struct varlena *x = PG_DETOAST_DATUM_PACKED(av);
		struct varlena *y = PG_DETOAST_DATUM_PACKED(bv);

		return VARSIZE_ANY_EXHDR(x) != VARSIZE_ANY_EXHDR(y) ||
			memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) != 0;
	}
	return !datumIsEqual(av, bv, attr->attbyval, attr->attlen);
}

/*
 * A key of one of PostgREST's request settings (request.jwt.claims,
 * request.headers: JSON objects), or NULL when the setting is unset or not
 * an object
 */
JsonbValue *
PtRequestValue(const char *setting, const char *key)
{
	const char *s = GetConfigOption(setting, true, false);
	Jsonb	   *jb;

	if (s == NULL || s[0] != '{')
		return NULL;
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}
