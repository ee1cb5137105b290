/*
 * project/projects.c
 *		Projects: create_project (and what other parts register for a new
 *		project), a per-backend cache of each project's settings and custom
 *		field definitions, invalidated across backends by a statement trigger
 *		on the project and custom_field tables, and the lock of a project's
 *		participant adds.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "common/hashfn.h"
#include "storage/lock.h"
#include "miscadmin.h"

#include "access/access.h"
#include "project/project.h"

static HTAB *project_cache = NULL;
static MemoryContext project_cache_cxt = NULL;
static uint64 project_cache_resets = 0;	/* to spot one during a load */
static bool cache_callback_registered = false;
static bool cache_written_in_xact = false;
static Oid	project_relid = InvalidOid;
static Oid	field_relid = InvalidOid;

typedef struct ProjectCacheEntry
{
	pg_uuid_t	key;
	PtProject	project;
} ProjectCacheEntry;

/* Drop the whole cache when the project or custom_field table changes */
static void
ProjectCacheReset(Oid relid)
{
	if (relid != InvalidOid && relid != project_relid && relid != field_relid)
		return;
	project_cache_resets++;
	/* the extension may have been dropped and created again: look up anew */
	project_relid = InvalidOid;
	field_relid = InvalidOid;
	if (project_cache == NULL)
		return;

	/*
	 * A caller may still hold a PtProject of the old cache (invalidations
	 * arrive during any catalog access or SPI call): inside a transaction
	 * the old cache lives on until the transaction ends.
	 */
	if (IsTransactionState())
		MemoryContextSetParent(project_cache_cxt, TopTransactionContext);
	else
		MemoryContextDelete(project_cache_cxt);
	project_cache_cxt = NULL;
	project_cache = NULL;
}

/*
 * A transaction that wrote project settings or definitions may have cached
 * what it wrote; if it rolls back (wholly or to a savepoint), forget it.
 */
static void
ProjectXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		if (cache_written_in_xact)
			ProjectCacheReset(InvalidOid);
	}
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
		cache_written_in_xact = false;
}

static void
ProjectSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && cache_written_in_xact)
		ProjectCacheReset(InvalidOid);
}

/* Register the invalidation callbacks once per backend */
void
PtInitProjectCache(void)
{
	if (!cache_callback_registered)
	{
		PtCacheRegister(ProjectCacheReset);
		RegisterXactCallback(ProjectXactCallback, NULL);
		RegisterSubXactCallback(ProjectSubXactCallback, NULL);
		cache_callback_registered = true;
	}
}

/* The tables whose invalidations empty the cache */
static void
LookUpCacheTables(void)
{
	Oid			nsp;

	if (OidIsValid(project_relid) && OidIsValid(field_relid))
		return;
	nsp = get_namespace_oid("participants", false);
	project_relid = get_relname_relid("project", nsp);
	field_relid = get_relname_relid("custom_field", nsp);
}

static void
CreateCache(void)
{
	project_cache = PtCacheCreate("participants project cache", sizeof(pg_uuid_t),
								  sizeof(ProjectCacheEntry), &project_cache_cxt);
}

static bool
SettingBool(Jsonb *settings, const char *key, bool dflt)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&settings->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvBool)
		return dflt;
	return v->val.boolean;
}

/* Deep-copy a project into the given memory context */
static PtProject *
CopyProject(PtProject *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PtProject  *p = palloc(sizeof(PtProject));
	int			i;

	*p = *src;
	p->identifier_prefix = pstrdup(src->identifier_prefix);
	p->fields = palloc0(sizeof(PtFieldDef) * Max(src->nfields, 1));
	for (i = 0; i < src->nfields; i++)
	{
		p->fields[i].name = pstrdup(src->fields[i].name);
		p->fields[i].type = src->fields[i].type;
	}
	MemoryContextSwitchTo(old);
	return p;
}

/*
 * Load a project from the tables into the current memory context; false
 * when it does not exist. Nothing is written into the cache here: an
 * invalidation may arrive (and drop the cache) while the queries run.
 */
static bool
LoadProject(pg_uuid_t *id, PtProject *out)
{
	static SPIPlanPtr settings_plan = NULL;
	static SPIPlanPtr fields_plan = NULL;
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1];
	Jsonb	   *settings;
	JsonbValue *prefix;
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext oldcxt;
	uint64		i;

	args[0] = UUIDPGetDatum(id);
	SPI_connect();
	if (fields_plan == NULL)
	{
		PtPreparePlan(&settings_plan, "SELECT settings FROM participants.project WHERE id = $1",
									  1, argtypes);
		PtPreparePlan(&fields_plan, "SELECT name, type FROM participants.custom_field "
									"WHERE project_id = $1 ORDER BY name",
									1, argtypes);
	}
	/*
	 * Read with the latest snapshot, not the statement's: after waiting for a
	 * lock on the participant table, a project deleted meanwhile must be seen
	 * as gone (under REPEATABLE READ too), or a participant would outlive it.
	 */
	if (SPI_execute_snapshot(settings_plan, args, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read project settings");
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	settings = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	oldcxt = MemoryContextSwitchTo(cxt);
	out->id = *id;
	prefix = getKeyJsonValueFromContainer(&settings->root, "participantIdentifierPrefix",
										  strlen("participantIdentifierPrefix"), NULL);
	out->identifier_prefix = (prefix && prefix->type == jbvString)
		? pnstrdup(prefix->val.string.val, prefix->val.string.len) : pstrdup("");
	out->link_identifiers = SettingBool(settings, "linkIdentifiers", true);
	out->strict_custom_fields = SettingBool(settings, "strictCustomFields", false);
	MemoryContextSwitchTo(oldcxt);

	if (SPI_execute_snapshot(fields_plan, args, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read custom field definitions");
	oldcxt = MemoryContextSwitchTo(cxt);
	out->nfields = (int) SPI_processed;
	out->fields = palloc0(sizeof(PtFieldDef) * Max(out->nfields, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *type = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		out->fields[i].name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		out->fields[i].type = PtFieldTypeFromName(type);
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	return true;
}

/*
 * The project's settings and definitions, as a private copy in the current
 * memory context (the cache may be dropped at any lock acquisition); PT404
 * when the project does not exist.
 */
PtProject *
PtGetProject(pg_uuid_t *project_id)
{
	ProjectCacheEntry *entry;
	bool		found;
	PtProject	loaded;
	uint64		resets;

	PtInitProjectCache();
	LookUpCacheTables();
	resets = project_cache_resets;
	if (project_cache != NULL)
	{
		entry = hash_search(project_cache, project_id, HASH_FIND, NULL);
		if (entry)
			return CopyProject(&entry->project, CurrentMemoryContext);
	}
	if (!LoadProject(project_id, &loaded))
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("project %s not found",
						DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(project_id))))));
	/* an invalidation during the load may predate what it read: use it once */
	if (resets != project_cache_resets)
		return CopyProject(&loaded, CurrentMemoryContext);
	if (project_cache == NULL)
		CreateCache();
	entry = hash_search(project_cache, project_id, HASH_ENTER, &found);
	entry->project = *CopyProject(&loaded, project_cache_cxt);
	return CopyProject(&loaded, CurrentMemoryContext);
}

/* The declared type of a custom field, or CF_UNDECLARED */
PtFieldType
PtProjectFieldType(PtProject *project, const char *name)
{
	int			i;

	for (i = 0; i < project->nfields; i++)
		if (strcmp(project->fields[i].name, name) == 0)
			return project->fields[i].type;
	return CF_UNDECLARED;
}

/*
 * Statement trigger: every other backend reloads project settings after our
 * commit (a relcache invalidation); this backend forgets them at once, as it
 * does not get its own invalidation back for the last command of a
 * transaction.
 */
PT_TRIGGER_FUNCTION(participants_cache_invalidate)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		elog(ERROR, "participants_cache_invalidate: not called as a statement trigger");
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	/* on a cluster, the trigger fires on a shard: the caches know the table */
	if (PtShellOf(RelationGetRelid(trigdata->tg_relation)) != RelationGetRelid(trigdata->tg_relation))
		CacheInvalidateRelcacheByRelid(PtShellOf(RelationGetRelid(trigdata->tg_relation)));
	PtInitProjectCache();
	ProjectCacheReset(InvalidOid);
	cache_written_in_xact = true;
	return PointerGetDatum(NULL);
}

#define KNOWN_SETTINGS "Known settings are participantIdentifierPrefix, linkIdentifiers, strictCustomFields, incentiveYearlyLimit, retention and allowReaddAfterErasure."

static void
SettingError(const char *key, const char *expected, JsonbValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"settings.%s\": expected %s, got %s",
					key, expected, PtJsonbTypeName(v))));
}

static void
UnknownSettingKey(const char *key, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown key \"settings.%s\"", key),
			 errhint("%s", hint)));
}

/* The numeric n compared with the integer i: < 0, 0 or > 0 */
static int
NumericCmpInt(Numeric n, int32 i)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
											 DirectFunctionCall1(int4_numeric, Int32GetDatum(i))));
}

/* incentiveYearlyLimit: {"amount": a number > 0, "currency": three capital letters} */
static void
CheckYearlyLimit(JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken tok;
	bool		amount = false,
				currency = false;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		SettingError("incentiveYearlyLimit", "an object {\"amount\", \"currency\"}", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;
		JsonbValue	val;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		(void) JsonbIteratorNext(&it, &val, true);
		if (strcmp(key, "amount") == 0)
		{
			if (val.type != jbvNumeric || NumericCmpInt(val.val.numeric, 0) <= 0)
				SettingError("incentiveYearlyLimit.amount", "a number greater than 0", &val);
			amount = true;
		}
		else if (strcmp(key, "currency") == 0)
		{
			if (val.type != jbvString || val.val.string.len != 3 ||
				!isupper((unsigned char) val.val.string.val[0]) ||
				!isupper((unsigned char) val.val.string.val[1]) ||
				!isupper((unsigned char) val.val.string.val[2]))
				SettingError("incentiveYearlyLimit.currency", "an ISO 4217 code (three capital letters)", &val);
			currency = true;
		}
		else
			UnknownSettingKey(psprintf("incentiveYearlyLimit.%s", key),
							  "The limit is {\"amount\": 600, \"currency\": \"USD\"}.");
	}
	if (!amount || !currency)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"settings.incentiveYearlyLimit\": \"%s\" is missing",
						amount ? "currency" : "amount"),
				 errhint("The limit is {\"amount\": 600, \"currency\": \"USD\"}.")));
}

/* retention: {"withdrawnDays", "eventDays", "deliveryDays", "auditDays"}, each optional, whole days >= 1 */
static void
CheckRetention(JsonbValue *v)
{
	static const char *const keys[] = {"withdrawnDays", "eventDays", "deliveryDays", "auditDays"};
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		SettingError("retention", "an object", v);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;
		JsonbValue	val;
		int			i;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		(void) JsonbIteratorNext(&it, &val, true);
		for (i = 0; i < (int) lengthof(keys); i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == (int) lengthof(keys))
			UnknownSettingKey(psprintf("retention.%s", key),
							  "Retention keys are withdrawnDays, eventDays, deliveryDays and auditDays.");
		if (val.type != jbvNumeric ||
			!PtNumericIsWhole(val.val.numeric) ||
			NumericCmpInt(val.val.numeric, 1) < 0 || NumericCmpInt(val.val.numeric, 36500) > 0)
			SettingError(psprintf("retention.%s", key), "a whole number of days from 1 to 36500", &val);
	}
}

/*
 * Check a project's settings object: the keys of the closed set, each of
 * its shape; 22023 naming the key otherwise (create_project,
 * update_project, and raw writes through project_settings_guard)
 */
void
PtCheckProjectSettings(Jsonb *settings)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	PtCheckObject(settings, "\"settings\"", "an object");
	it = JsonbIteratorInit(&settings->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "participantIdentifierPrefix") == 0)
		{
			if (v.type != jbvString || v.val.string.len > 32)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"settings.%s\": expected a string of at most 32 characters", key)));
		}
		else if (strcmp(key, "linkIdentifiers") == 0 || strcmp(key, "strictCustomFields") == 0 ||
				 strcmp(key, "allowReaddAfterErasure") == 0)
		{
			if (v.type != jbvBool)
				SettingError(key, "a boolean", &v);
		}
		else if (strcmp(key, "incentiveYearlyLimit") == 0)
			CheckYearlyLimit(&v);
		else if (strcmp(key, "retention") == 0)
			CheckRetention(&v);
		else
			UnknownSettingKey(key, KNOWN_SETTINGS);
	}
}

/*
 * BEFORE INSERT OR UPDATE OF settings, name row trigger on project: the
 * settings are of the closed set, for raw SQL as for the functions. A
 * restore loads rows as they were.
 */
PT_TRIGGER_FUNCTION(participants_project_settings_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		v;
	int			att;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		elog(ERROR, "project_settings_guard: must fire BEFORE INSERT OR UPDATE, FOR EACH ROW");
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (PtInRestore())
		return PointerGetDatum(row);
	desc = RelationGetDescr(td->tg_relation);
	att = SPI_fnumber(desc, "settings");
	if (att <= 0)
		elog(ERROR, "participants.project has no column \"settings\"");
	v = heap_getattr(row, att, desc, &isnull);
	if (!isnull)
		PtCheckProjectSettings(DatumGetJsonbP(v));
	return PointerGetDatum(row);
}

/* What parts built on projects need when one is created (PtOnProjectCreated) */
#define MAX_CREATED_HOOKS 4
static PtProjectCreated created[MAX_CREATED_HOOKS];
static int	n_created = 0;

/*
 * Register fn to run for every project create_project makes, after its row
 * is inserted (called from _PG_init; a project restored from a dump brings
 * what they would make)
 */
void
PtOnProjectCreated(PtProjectCreated fn)
{
	if (n_created >= MAX_CREATED_HOOKS)
		elog(ERROR, "too many functions registered for new projects");
	created[n_created++] = fn;
}

/* create_project(name, settings): a new project's id */
PT_API_FUNCTION_UNCONFINED(participants_create_project)
{
	text	   *name;
	Jsonb	   *settings;
	Datum		args[2];
	Oid			argtypes[2] = {TEXTOID, JSONBOID};
	Datum		result;
	bool		isnull;
	int			i;

	if (PG_ARGISNULL(0) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"name\": a project needs a name")));
	name = PG_GETARG_TEXT_PP(0);
	settings = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	if (settings)
		PtCheckProjectSettings(settings);

	args[0] = PointerGetDatum(name);
	args[1] = settings ? JsonbPGetDatum(settings)
		: DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO participants.project (id, name, settings) "
							  "VALUES (pg_catalog.gen_random_uuid(), $1, $2) RETURNING id",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert project");
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = SPI_datumTransfer(result, false, UUID_LEN);
	SPI_finish();
	for (i = 0; i < n_created; i++)
		created[i] (DatumGetUUIDP(result));
	PG_RETURN_DATUM(result);
}

/*
 * The lock of a project's participant writes: writers that may add a
 * participant hold it in RowExclusiveLock (self-compatible) from before they
 * check that the project exists to the end of their transaction; deleting
 * the project takes it in ShareLock. A heavyweight lock on (participant
 * table, hash of the project id, 3): another project that hashes alike only
 * waits needlessly, and no other project's writers wait at all.
 */
void
PtLockProjectWrites(pg_uuid_t *project_id, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, PtTableRelid("participant"),
					   hash_bytes(project_id->data, UUID_LEN), 3);
	(void) LockAcquire(&tag, mode, false, false);
}

/* ------------------------------------------------------------------------
 * get_project, update_project, list_projects
 * ------------------------------------------------------------------------
 */

#define PROJECT_JSON \
	"pg_catalog.jsonb_build_object('projectID', p.id, 'name', p.name, " \
	"'settings', p.settings, 'createdDate', p.created_date)"

static Jsonb *
ProjectObject(pg_uuid_t *project_id, bool read_only)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	Jsonb	   *res;

	args[0] = UUIDPGetDatum(project_id);
	res = PtJsonbStatement(&plan, "SELECT " PROJECT_JSON " FROM participants.project p WHERE p.id = $1",
						   1, types, args, NULL, read_only);
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("project %s not found", PtUuidText(project_id))));
	return res;
}

/* get_project(project_id) */
PT_API_FUNCTION(participants_get_project)
{
	PtNotNull(fcinfo, 0, "project_id");
	PG_RETURN_JSONB_P(ProjectObject(PG_GETARG_UUID_P(0), true));
}

/*
 * update_project(project_id, name, settings): a new name, and the given
 * settings keys merged into the project's (a JSON null removes a key); the
 * result must be a valid settings object. On a cluster it runs on the
 * coordinator: project is a reference table, which a call delegated to a
 * worker may not write.
 */
PT_API_FUNCTION_HERE(participants_update_project)
{
	static SPIPlanPtr lock = NULL;
	static SPIPlanPtr update = NULL;
	pg_uuid_t  *project_id;
	Oid			types[3] = {UUIDOID, TEXTOID, JSONBOID};
	Datum		args[3];
	char		nulls[3] = {' ', 'n', 'n'};
	Datum		v;
	bool		isnull;

	PtNotNull(fcinfo, 0, "project_id");
	project_id = PG_GETARG_UUID_P(0);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = args[2] = (Datum) 0;
	if (!PG_ARGISNULL(1))
	{
		(void) PtCheckName(PG_GETARG_TEXT_PP(1), "project");
		args[1] = PG_GETARG_DATUM(1);
		nulls[1] = ' ';
	}
	if (!PG_ARGISNULL(2))
	{
		PtCheckObject(PG_GETARG_JSONB_P(2), "\"settings\"", "an object");
		args[2] = PG_GETARG_DATUM(2);
		nulls[2] = ' ';
	}
	SPI_connect();
	if (!PtRunValue(&lock, "SELECT settings FROM participants.project WHERE id = $1 FOR UPDATE",
					1, types, args, NULL, false, &v, &isnull))
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("project %s not found", PtUuidText(project_id))));
	/* merged: the given keys replace the stored ones, a null removes one */
	PtPreparePlan(&update,
				  "UPDATE participants.project SET name = COALESCE($2, name), "
				  "settings = CASE WHEN $3 IS NULL THEN settings ELSE "
				  "pg_catalog.jsonb_strip_nulls(settings || $3) END WHERE id = $1", 3, types);
	(void) PtExecutePlan(update, args, nulls, false, 0);
	SPI_finish();
	PG_RETURN_JSONB_P(ProjectObject(project_id, false));
}

PG_FUNCTION_INFO_V1(participants_list_projects);
/*
 * list_projects(): the projects the caller may use, by name. Not an API
 * function of one project: a confined caller gets the projects granted to
 * it (allowed_projects), an unconfined one every project; the rows are read
 * as the owner of the extension's tables.
 */
Datum
participants_list_projects(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	ArrayType  *allowed = PtAllowedProjects(GetUserId());
	Oid			types[1] = {UUIDARRAYOID};
	Datum		args[1];
	char		nulls[1];
	Oid			save_userid;
	int			save_sec;
	Jsonb	   *res;

	args[0] = allowed ? PointerGetDatum(allowed) : (Datum) 0;
	nulls[0] = allowed ? ' ' : 'n';
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	res = PtJsonbStatement(&plan, "SELECT COALESCE(pg_catalog.jsonb_agg(" PROJECT_JSON
						   " ORDER BY p.name, p.id), '[]') FROM participants.project p "
						   "WHERE $1 IS NULL OR p.id = ANY ($1)", 1, types, args, nulls, true);
	SetUserIdAndSecContext(save_userid, save_sec);
	PG_RETURN_JSONB_P(res);
}
