/*
 * spi.c
 *		SPI helpers shared by every file: statements prepared once per backend
 *		and executed with the caller's memory context restored. (Participant
 *		rows are found through access.c's index probes, never through a plan.)
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "pt.h"

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
