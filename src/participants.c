/*
 * participants.c
 *		Module entry of the participants extension: PG_MODULE_MAGIC, and
 *		_PG_init, which defines the settings (each kept by the part that
 *		reads it) and wires the parts together. The source is grouped by what
 *		it is about, each folder building on those before it: core (shared
 *		helpers) <- access (who may do what) <- project <- participant <-
 *		search <- segment <- study <- governance (consent, incentives) and
 *		webhook; this file alone sees them all.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "access/access.h"
#include "core/core.h"
#include "participant/participant.h"
#include "project/project.h"
#include "study/study.h"
#include "webhook/webhook.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Define the settings, register the project cache, let studies seed new projects */
void
_PG_init(void)
{
	DefineCustomIntVariable("participants.bulk_batch_size",
							"Elements a bulk upsert processes per chunk.",
							"Each chunk runs one lookup, one INSERT and one UPDATE, in a memory context reset between chunks.",
							&pt_bulk_batch_size,
							1000, 1, 10000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("participants.jwt_project_claim",
							   "The JWT claim that lists the projects a confined caller may use.",
							   "When set (to e.g. project_ids), a confined role may also use the projects this claim of request.jwt.claims lists, as PostgREST sets it. Only superusers can set it, typically with ALTER ROLE for PostgREST's login role, so a role that can run SQL cannot widen its own projects.",
							   &pt_jwt_project_claim,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("participants.max_sortable_fields",
							"Custom fields per project that may be sortable.",
							"Each sortable field keeps two indexes on the participant table that every project shares, and every write of every project maintains them. Only superusers can change it.",
							&pt_max_sortable_fields,
							5, 0, 100,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("participants.max_custom_fields",
							"Custom field keys one participant may hold.",
							"A write that would leave a participant with more keys in customFields is refused (22023). Only superusers can change it.",
							&pt_max_custom_fields,
							200, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("participants.deadlock_retries",
							"Times a writing API call starts over after PostgreSQL chose it as a deadlock's victim.",
							"Each writing call runs in a subtransaction, rolled back and run again after a deadlock. 0 runs calls without a subtransaction (a deadlock then reaches the caller): for a transaction that makes many writing calls, where each subtransaction's id would otherwise be kept to its end.",
							&pt_deadlock_retries,
							4, 0, 100,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	PtWebhookInit();
	MarkGUCPrefixReserved("participants");
	PtInitProjectCache();
	PtStatusInit();
	pt_event_written_hook = PtWebhookEventWritten;
}
