/*
 * access/grant.c
 *		grant_access(role, access): the privileges of one of the three kinds of
 *		role doc/access.md describes, read from the catalog, so that running it again
 *		after ALTER EXTENSION ... UPDATE grants what the new version added.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

#include "access/access.h"

/* Functions of the extension that are not API functions */
static const char *const internal_functions[] = {
	"allowed_projects", "participant_search_text", "custom_field_sort_number",
	"custom_field_sort_date", "default_status_transitions", "grant_access", "distribute",
	"forwarded_call", NULL
};

/* API functions only unconfined roles may call */
static const char *const unconfined_functions[] = {"create_project", "grant_access", NULL};

/* What row-level security policies and indexes call during raw writes */
static const char *const raw_functions[] = {
	"allowed_projects", "participant_search_text", "custom_field_sort_number",
	"custom_field_sort_date", NULL
};

/* Tables a raw writer only reads */
static const char *const read_only_tables[] = {
	"project_counter", "webhook_delivery", "contact", "consent_history", "import", "import_row",
	"erasure", "status_archive", "audit", NULL
};

static bool
InList(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* Run one GRANT statement */
static void
Grant(const char *sql)
{
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run: %s", sql);
}

static void
PushStringArray(JsonbParseState **state, const char *key, List *items)
{
	ListCell   *lc;

	PtPushKey(state, key);
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, items)
	{
		JsonbValue	v;

		v.type = jbvString;
		v.val.string.val = lfirst(lc);
		v.val.string.len = strlen(lfirst(lc));
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
}

/*
 * grant_access(role regrole, access text): grant role what an application
 * ('app'), a read-only role ('reader') or a DBA's raw SQL tools ('raw')
 * need, and return what was granted. Unconfined callers only (the entry
 * checks); the GRANTs run as the owner of the extension's objects.
 */
PT_API_FUNCTION_UNCONFINED(participants_grant_access)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *role;
	char	   *access;
	bool		app,
				reader,
				raw;
	List	   *functions = NIL;
	List	   *relations = NIL;
	List	   *relation_privileges = NIL;
	List	   *sequences = NIL;
	const char *table_privileges;
	JsonbParseState *state = NULL;
	uint64		i;

	PtNotNull(fcinfo, 0, "role");
	PtNotNull(fcinfo, 1, "access");
	role = GetUserNameFromId(PG_GETARG_OID(0), false);
	access = text_to_cstring(PG_GETARG_TEXT_PP(1));
	app = strcmp(access, "app") == 0;
	reader = strcmp(access, "reader") == 0;
	raw = strcmp(access, "raw") == 0;
	if (!app && !reader && !raw)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"access\": \"%s\"", access),
				 errhint("Use app (every API function), reader (the reading functions, and SELECT on the tables and views) or raw (table writes for a DBA's tools).")));
	table_privileges = raw ? "SELECT, INSERT, UPDATE, DELETE" : reader ? "SELECT" : NULL;

	SPI_connect();
	/*
	 * On a cluster Citus passes each GRANT on to the nodes; by default it
	 * does so over parallel connections for a distributed table, after which
	 * it refuses a GRANT on a reference table in the same transaction
	 */
	if (PtDistributed())
		(void) set_config_option("citus.multi_shard_modify_mode", "sequential",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	Grant(psprintf("GRANT USAGE ON SCHEMA participants TO %s", quote_identifier(role)));

	/* the extension's functions, as they are in this version */
	if (SPI_execute("SELECT p.proname::text, p.oid::pg_catalog.regprocedure::text, p.provolatile = 's' "
					"FROM pg_catalog.pg_proc p "
					"JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass "
					"AND d.objid = p.oid AND d.deptype = 'e' "
					"JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid AND x.extname = 'participants' "
					"WHERE p.prorettype <> 'pg_catalog.trigger'::pg_catalog.regtype "
					"ORDER BY 1, 2", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the extension's functions");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(t, d, 1);
		bool		isnull;
		bool		stable = DatumGetBool(SPI_getbinval(t, d, 3, &isnull));
		bool		api = !InList(internal_functions, name);
		bool		grant;

		if (app)
			grant = api && !InList(unconfined_functions, name);
		else if (reader)
			grant = (api && stable && !InList(unconfined_functions, name)) ||
				strcmp(name, "allowed_projects") == 0;
		else
			grant = InList(raw_functions, name);
		if (grant)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			functions = lappend(functions, SPI_getvalue(t, d, 2));
			MemoryContextSwitchTo(old);
		}
	}
	{
		ListCell   *lc;

		foreach(lc, functions)
			Grant(psprintf("GRANT EXECUTE ON FUNCTION %s TO %s",
						   (char *) lfirst(lc), quote_identifier(role)));
	}

	if (table_privileges)
	{
		/*
		 * readers read every table and view; raw writers write every table
		 * (but segment_recheck, the rebuilds' internal list, and
		 * webhook_secret and project_secret, which no role but the owner reads)
		 */
		if (SPI_execute("SELECT c.relname::text, c.relkind::text FROM pg_catalog.pg_class c "
						"WHERE c.relnamespace = 'participants'::pg_catalog.regnamespace "
						"AND c.relkind IN ('r', 'p', 'v', 'S') "
						"AND c.relname NOT IN ('segment_recheck', 'webhook_secret', 'project_secret') ORDER BY 1", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the extension's relations");
		for (i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			char	   *kind = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

			if (kind[0] == 'S')
			{
				if (raw)
					sequences = lappend(sequences, name);
			}
			else
			{
				/*
				 * project_counter's numbers are drawn by the database: even a
				 * raw writer only reads it (a deleted row would be made
				 * again from what the project holds, and could hand out an
				 * id a consumer has seen); webhook_delivery is the delivery
				 * workers' record of what they attempted; contact and
				 * consent_history are what the contact rules count and the
				 * record of consent; imports, erasures, the status archive and
				 * the audit log: all written by the database only
				 */
				bool		writes = raw && kind[0] != 'v' && !InList(read_only_tables, name);

				relations = lappend(relations, name);
				relation_privileges = lappend(relation_privileges,
											  writes ? (char *) table_privileges : "SELECT");
			}
			MemoryContextSwitchTo(old);
		}
		{
			ListCell   *lc1,
					   *lc2;

			forboth(lc1, relations, lc2, relation_privileges)
				Grant(psprintf("GRANT %s ON participants.%s TO %s", (char *) lfirst(lc2),
							   quote_identifier(lfirst(lc1)), quote_identifier(role)));
			foreach(lc1, sequences)
				Grant(psprintf("GRANT USAGE ON SEQUENCE participants.%s TO %s",
							   quote_identifier(lfirst(lc1)), quote_identifier(role)));
		}
	}
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "role", role);
	PtPushString(&state, "access", access);
	PtPushString(&state, "schema", "USAGE");
	PushStringArray(&state, "functions", functions);
	PtPushKey(&state, "tables");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	{
		ListCell   *lc1,
				   *lc2;

		forboth(lc1, relations, lc2, relation_privileges)
			PtPushString(&state, lfirst(lc1), lfirst(lc2));
	}
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PushStringArray(&state, "sequences", sequences);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}
