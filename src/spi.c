/*
 * spi.c
 *		SPI helpers shared by every file: statements prepared once per backend
 *		(and re-prepared as the participant table grows), executed with the
 *		caller's memory context restored.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "pt.h"

#define MAX_PLANS 64

static SPIPlanPtr *plan_slots[MAX_PLANS];
static int	nplan_slots = 0;
static BlockNumber planned_at_blocks = 0;

/* The participant table's oid */
Oid
PtParticipantRelid(void)
{
	Oid			relid = get_relname_relid("participant",
										  get_namespace_oid("participants", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table participants.participant does not exist");
	return relid;
}

/* Prepare a statement into *slot and keep it for the life of the backend */
void
PtPreparePlan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	int			i;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	*slot = plan;
	for (i = 0; i < nplan_slots; i++)
		if (plan_slots[i] == slot)
			return;
	if (nplan_slots >= MAX_PLANS)
		elog(ERROR, "too many kept plans");
	plan_slots[nplan_slots++] = slot;
}

/*
 * Drop every kept plan once the participant table has more than doubled
 * since they were made (SPI must be connected).
 *
 * A generic plan made while the table was tiny sees every index as equally
 * cheap and may scan a whole project for a one-row lookup; it would stay
 * until autovacuum's next ANALYZE. Re-preparing on growth bounds that: a
 * plan is always made at no less than half the table's current size.
 */
void
PtRefreshPlans(void)
{
	Oid			relid = PtParticipantRelid();
	Relation	rel;
	BlockNumber blocks;
	int			i;

	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	blocks = RelationGetNumberOfBlocks(rel);
	table_close(rel, AccessShareLock);
	if (blocks <= planned_at_blocks * 2 + 8 && blocks >= planned_at_blocks / 2)
		return;
	for (i = 0; i < nplan_slots; i++)
	{
		if (*plan_slots[i] != NULL)
			SPI_freeplan(*plan_slots[i]);
		*plan_slots[i] = NULL;
	}
	planned_at_blocks = blocks;
}

/*
 * Execute a kept plan. With PT_PLAN_CUSTOM, the statement is planned for
 * this execution's values (bulk chunks: the real array sizes matter, and
 * planning costs little next to a thousand rows); otherwise the cached plan
 * is used. PT_PLAN_NO_SEQSCAN keeps the planner on the indexes where its
 * costing of many-valued "= ANY" probes would prefer scanning the table.
 *
 * SPI leaves its own procedure context current, which lives until
 * SPI_finish; the caller's context is restored so per-chunk work stays in
 * the chunk's context.
 */
int
PtExecutePlan(SPIPlanPtr plan, Datum *args, const char *nulls, bool read_only,
			  long count, int flags)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			nestlevel = -1;
	int			ret;

	if (flags != 0)
	{
		nestlevel = NewGUCNestLevel();
		if (flags & PT_PLAN_CUSTOM)
			(void) set_config_option("plan_cache_mode", "force_custom_plan",
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		if (flags & PT_PLAN_NO_SEQSCAN)
			(void) set_config_option("enable_seqscan", "off",
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
	}
	ret = SPI_execute_plan(plan, args, nulls, read_only, count);
	if (flags != 0)
		AtEOXact_GUC(true, nestlevel);
	MemoryContextSwitchTo(cxt);
	return ret;
}
