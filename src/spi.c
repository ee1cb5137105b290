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
 * Plan this extension's statements the same way whatever the statistics say:
 * generic plans, no sequential scans, no hash or merge joins, set at a new
 * GUC nest level (returned; undone by PtPlannerEnd, or by the abort of an
 * error). Every statement finds rows by (project_id, key) through a unique
 * index, or joins a list of keys to one; so planned, each is a nested loop
 * of index probes. Left to costs, the planner prefers scanning a project the
 * statistics think small, and keeps that plan while the project grows.
 */
int
PtPlannerBegin(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("plan_cache_mode", "force_generic_plan", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_hashjoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/* Restore the planner settings of the caller */
void
PtPlannerEnd(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
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
