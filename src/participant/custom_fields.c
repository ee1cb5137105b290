/*
 * participant/custom_fields.c
 *		Custom field definitions (doc/custom-fields.md): define_custom_field,
 *		custom_fields and drop_custom_field. Defining a field converts the
 *		values participants already hold to its type, or refuses.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "participant/participant.h"

/* participants.max_sortable_fields: sortable custom fields per project (each has two indexes on the shared table) */
int			pt_max_sortable_fields = 5;

/*
 * Check a definition's options object: "description" (a string) and
 * "sortable" (a boolean: keep indexes that sort the project by the field)
 */
void
PtCheckFieldOptions(Jsonb *options)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	PtCheckObject(options, "\"options\"", "an object");
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		(void) JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "description") != 0 && strcmp(key, "sortable") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"options.%s\"", key),
					 errhint("The known options are description and sortable.")));
		if (key[0] == 'd' && v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"options.description\": expected a string, got %s",
							PtJsonbTypeName(&v))));
		if (key[0] == 's' && v.type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"options.sortable\": expected a boolean, got %s",
							PtJsonbTypeName(&v))));
	}
}

/* options.sortable of a definition */
static bool
IsSortable(Jsonb *options)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = "sortable";
	k.val.string.len = 8;
	v = findJsonbValueFromContainer(&options->root, JB_FOBJECT, &k);
	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/*
 * The sort key of a declared field as SQL: column is the custom_fields
 * column as written in the statement, name the field name as a literal or a
 * parameter. Numbers sort as numbers, dates and timestamps by their ISO
 * text, text and booleans as text. query_participants orders by it, and a
 * sortable field's indexes are built on it, so the two always match.
 */
char *
PtFieldSortKey(PtFieldType type, const char *column, const char *name)
{
	switch (type)
	{
		case CF_NUMBER:
		case CF_INTEGER:
			return psprintf("participants.custom_field_sort_number(%s -> %s)", column, name);
		case CF_DATE:
		case CF_TIMESTAMP:
			return psprintf("participants.custom_field_sort_date(%s -> %s)", column, name);
		default:
			return psprintf("(%s ->> %s)", column, name);
	}
}

/*
 * Name of a sortable field's index (per project and field): a hash keeps
 * it within NAMEDATALEN whatever the field's name
 */
static char *
SortIndexName(pg_uuid_t *project_id, const char *name, bool ascending)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (char *) project_id->data, UUID_LEN);
	appendStringInfoString(&buf, name);
	return psprintf("participant_sort_%016" INT64_MODIFIER "x_%s",
					DatumGetUInt64(hash_any_extended((unsigned char *) buf.data, buf.len, 0)),
					ascending ? "asc" : "desc");
}

/*
 * Create (or drop) the two indexes of a sortable field: its sort key in each
 * direction, rows without it last, then insertion order, only for the
 * field's project. DDL runs as the owner of the extension's tables, in a
 * restricted security context, like an index build by REFRESH or VACUUM.
 * Its caller, the custom_field_indexes trigger, runs with search_path pinned
 * (PT_TRIGGER_FUNCTION), so no operator of the caller's schemas can take
 * part in it.
 */
static void
SortIndexes(pg_uuid_t *project_id, const char *name, PtFieldType type, bool create)
{
	Oid			save_userid;
	int			save_sec_context;
	int			dir;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(PtOwner(), save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	for (dir = 0; dir < 2; dir++)
	{
		char	   *index = SortIndexName(project_id, name, dir == 0);
		char	   *sql;

		if (create)
			sql = psprintf("CREATE INDEX IF NOT EXISTS %s ON participants.participant "
						   "(%s %s NULLS LAST, inserted_date, id) WHERE project_id = %s::uuid",
						   quote_identifier(index),
						   PtFieldSortKey(type, "custom_fields", quote_literal_cstr(name)),
						   dir == 0 ? "ASC" : "DESC",
						   quote_literal_cstr(DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(project_id)))));
		else
			sql = psprintf("DROP INDEX IF EXISTS participants.%s", quote_identifier(index));
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not %s index %s", create ? "create" : "drop", index);
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * Only a role that is not confined to projects may add or drop sort
 * indexes: they are built on the participant table every project shares,
 * holding a lock that stops every project's writes (SHARE, for CREATE
 * INDEX) or every access (ACCESS EXCLUSIVE, for DROP INDEX) until the
 * transaction ends, and every write of every project pays for them
 * afterwards. The caller of the API function is asked, not the owner it
 * works as.
 */
static void
CheckMayChangeIndexes(const char *name, bool sortable, bool dropped)
{
	Oid			caller = PtCaller();

	if (PtUnconfined(caller))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 dropped ? errmsg("permission denied to drop sortable custom field \"%s\"", name)
			 : errmsg("permission denied to make custom field \"%s\" %s", name,
					  sortable ? "sortable" : "not sortable"),
			 errdetail("Role \"%s\" is confined to projects, and sort indexes are built on the table all projects share.",
					   GetUserNameFromId(caller, false)),
			 errhint(sortable ? "Ask an operator (a role not confined to projects) to make the field sortable; it can be sorted by without the index."
					 : "Keep \"sortable\": true in the options, or ask an operator (a role not confined to projects) to change it.")));
}

/* PT409 when the project already has participants.max_sortable_fields sortable fields */
static void
CheckSortableLimit(pg_uuid_t *project_id, const char *name)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	bool		isnull;
	int64		n;

	args[0] = UUIDPGetDatum(project_id);
	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_catalog.count(*) FROM participants.custom_field "
							  "WHERE project_id = $1 AND options OPERATOR(pg_catalog.@>) '{\"sortable\": true}'",
							  1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not count sortable fields");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (n > pt_max_sortable_fields)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot make custom field \"%s\" sortable: the project has %d sortable fields already",
						name, pt_max_sortable_fields),
				 errdetail("The server setting participants.max_sortable_fields is %d.", pt_max_sortable_fields),
				 errhint("Make another field not sortable first, or have a superuser raise the setting.")));
}

/*
 * AFTER INSERT OR UPDATE OR DELETE row trigger on participants.custom_field:
 * a sortable field has its indexes, and a field that stops being sortable
 * (or is dropped) loses them; only unconfined roles may do either, and a
 * project has at most participants.max_sortable_fields sortable fields.
 * Restoring a dump inserts the definitions, so the indexes come back with
 * them (a restore is not held to the limit).
 */
PT_TRIGGER_FUNCTION(participants_custom_field_indexes)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL,
				newtup = NULL;
	bool		was = false,
				is = false;
	HeapTuple	t;
	bool		isnull;
	char	   *name;
	pg_uuid_t  *project_id;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "custom_field_indexes: must fire AFTER, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	else
		oldtup = td->tg_trigtuple;
	if (oldtup)
		was = IsSortable(DatumGetJsonbP(heap_getattr(oldtup, SPI_fnumber(desc, "options"), desc, &isnull)));
	if (newtup)
		is = IsSortable(DatumGetJsonbP(heap_getattr(newtup, SPI_fnumber(desc, "options"), desc, &isnull)));
	t = newtup ? newtup : oldtup;
	name = TextDatumGetCString(heap_getattr(t, SPI_fnumber(desc, "name"), desc, &isnull));
	project_id = DatumGetUUIDP(heap_getattr(t, SPI_fnumber(desc, "project_id"), desc, &isnull));
	if (is != was && !PtInRestore())
	{
		CheckMayChangeIndexes(name, is, newtup == NULL);
		if (is)
			CheckSortableLimit(project_id, name);
	}
	/*
	 * On a cluster the trigger fires on a shard, on a worker, where no DDL of
	 * the distributed table may run: sortable fields sort without an index
	 * of their own there (doc/scaling-out.md)
	 */
	if (PtIsShardOf(RelationGetRelid(td->tg_relation), PtTableRelid("custom_field")))
		return PointerGetDatum(NULL);
	if (is && !was)
		SortIndexes(project_id, name,
					PtFieldTypeFromName(TextDatumGetCString(heap_getattr(t, SPI_fnumber(desc, "type"), desc, &isnull))),
					true);
	else if (was && !is)
		SortIndexes(project_id, name, CF_UNDECLARED, false);
	return PointerGetDatum(NULL);
}

/* The definition row of (project, name) as jsonb in cxt, or NULL */
static Jsonb *
DefinitionJson(MemoryContext cxt, pg_uuid_t *project_id, text *name, const char *sql, int expect)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	Jsonb	   *res = NULL;
	int			ret;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(name);
	/* no row limit: a limit would stop a DELETE before its statement triggers */
	ret = SPI_execute_with_args(sql, 2, types, args, NULL, false, 0);
	if (ret != expect)
		elog(ERROR, "custom field statement failed: %s", SPI_result_code_string(ret));
	/*
	 * Copy into the memory the caller had before connecting to SPI, expanded:
	 * a short value read from a tuple has a one-byte header, and expanding it
	 * in SPI's memory would leave the result to be freed by SPI_finish.
	 */
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		res = DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContextSwitchTo(old);
	}
	return res;
}

#define DEF_JSON "pg_catalog.jsonb_build_object('name', name, 'type', type, " \
	"'options', options, 'createdDate', created_date)"

/*
 * Convert the values participants already hold for a newly declared field
 * to its type; 22023 naming the participant when one cannot be converted.
 */
static void
ConvertExistingValues(pg_uuid_t *project_id, const char *name, PtFieldType type)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		args[3];
	uint64		i,
				n;
	Datum	   *ids;
	Datum	   *vals;
	int			nchanged = 0;

	/* a participant writer: the lock order of doc/concurrency.md */
	PtLockParticipantWrites(project_id, ShareLock);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT id, participant_identifier, custom_fields OPERATOR(pg_catalog.->) $2 "
							  "FROM participants.participant "
							  "WHERE project_id OPERATOR(pg_catalog.=) $1 "
							  "AND custom_fields OPERATOR(pg_catalog.?) $2 "
							  "ORDER BY id FOR UPDATE",
							  2, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read custom field values");
	n = SPI_processed;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	vals = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		bool		isnull;
		Datum		d = SPI_getbinval(t, SPI_tuptable->tupdesc, 3, &isnull);
		Jsonb	   *old;
		JsonbValue	v;
		char	   *key;

		if (isnull)
			continue;			/* the key holds a JSON null: nothing to convert */
		old = DatumGetJsonbP(d);
		if (!JsonbExtractScalar(&old->root, &v))
			v.type = jbvBinary;
		key = psprintf("customFields.%s", name);
		if (v.type == jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("participant \"%s\" holds a non-scalar value for custom field \"%s\"",
							SPI_getvalue(t, SPI_tuptable->tupdesc, 2), name)));
		PG_TRY();
		{
			PtCoerceFieldValue(type, &v, key);
		}
		PG_CATCH();
		{
			errcontext("converting the value of participant \"%s\" to the declared type",
					   SPI_getvalue(t, SPI_tuptable->tupdesc, 2));
			PG_RE_THROW();
		}
		PG_END_TRY();
		{
			Jsonb	   *conv = JsonbValueToJsonb(&v);

			/* a string "1" and a number 1 differ here; 1 and 1.0 do not */
			if (compareJsonbContainers(&conv->root, &old->root) != 0)
			{
				ids[nchanged] = SPI_getbinval(t, SPI_tuptable->tupdesc, 1, &isnull);
				vals[nchanged++] = JsonbPGetDatum(conv);
			}
		}
	}
	if (nchanged > 0)
	{
		Oid			utypes[3] = {UUIDOID, UUIDARRAYOID, JSONBARRAYOID};
		int			dims[1] = {nchanged};
		int			lbs[1] = {1};

		args[1] = PointerGetDatum(construct_md_array(ids, NULL, 1, dims, lbs, UUIDOID, 16, false, TYPALIGN_CHAR));
		args[2] = PointerGetDatum(construct_md_array(vals, NULL, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
		args[0] = UUIDPGetDatum(project_id);
		/* jsonb_set: IMMUTABLE, as Citus wants an UPDATE's functions to be */
		if (SPI_execute_with_args("UPDATE participants.participant p "
								  "SET custom_fields = pg_catalog.jsonb_set(p.custom_fields, "
								  "ARRAY[$4::text], u.v) "
								  "FROM unnest($2::uuid[], $3::jsonb[]) AS u(id, v) "
								  "WHERE p.project_id = $1 AND p.id = u.id",
								  4, (Oid[]) {utypes[0], utypes[1], utypes[2], TEXTOID},
								  (Datum[]) {args[0], args[1], args[2], CStringGetTextDatum(name)},
								  NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not convert custom field values");
	}
}

/* define_custom_field(project_id, name, type, options) */
PT_API_FUNCTION(participants_define_custom_field)
{
	MemoryContext cxt = CurrentMemoryContext;
	pg_uuid_t  *project_id;
	text	   *name;
	char	   *cname;
	char	   *ctype;
	PtFieldType type;
	Jsonb	   *options;
	Jsonb	   *res;
	Oid			types[4] = {UUIDOID, TEXTOID, TEXTOID, JSONBOID};
	Datum		args[4];
	PtProject  *project;
	PtFieldType existing;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null",
						PG_ARGISNULL(0) ? "project_id" : PG_ARGISNULL(1) ? "name" : "type")));
	project_id = PG_GETARG_UUID_P(0);
	name = PG_GETARG_TEXT_PP(1);
	cname = text_to_cstring(name);
	ctype = text_to_cstring(PG_GETARG_TEXT_PP(2));
	options = PG_ARGISNULL(3) ? DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")))
		: PG_GETARG_JSONB_P(3);
	PtCheckFieldName(cname);
	type = PtFieldTypeFromName(ctype);
	if (type == CF_UNDECLARED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"type\": \"%s\"", ctype),
				 errhint("Use one of text, number, integer, boolean, date, timestamp.")));
	PtCheckFieldOptions(options);
	project = PtGetProject(project_id);
	existing = PtProjectFieldType(project, cname);
	if (existing != CF_UNDECLARED && existing != type)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("custom field \"%s\" is already defined as %s", cname, PtFieldTypeName(existing)),
				 errdetail("A custom field's type never changes once defined."),
				 errhint("Drop the field and define it again to change its type.")));

	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(name);
	args[2] = CStringGetTextDatum(ctype);
	args[3] = JsonbPGetDatum(options);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO participants.custom_field AS f "
							  "(project_id, name, type, options, created_date) "
							  "VALUES ($1, $2, $3, $4, pg_catalog.statement_timestamp()) "
							  "ON CONFLICT (project_id, name) DO UPDATE SET options = EXCLUDED.options",
							  4, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not define custom field");
	if (existing == CF_UNDECLARED)
		ConvertExistingValues(project_id, cname, type);
	res = DefinitionJson(cxt, project_id, name,
						 "SELECT " DEF_JSON " FROM participants.custom_field "
						 "WHERE project_id = $1 AND name = $2", SPI_OK_SELECT);
	SPI_finish();
	PG_RETURN_JSONB_P(res);
}

/* drop_custom_field(project_id, name): the dropped definition */
PT_API_FUNCTION(participants_drop_custom_field)
{
	MemoryContext cxt = CurrentMemoryContext;
	pg_uuid_t  *project_id;
	text	   *name;
	Jsonb	   *res;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null", PG_ARGISNULL(0) ? "project_id" : "name")));
	project_id = PG_GETARG_UUID_P(0);
	name = PG_GETARG_TEXT_PP(1);
	(void) PtGetProject(project_id);
	SPI_connect();
	/*
	 * The definition as it is, with the row locked, then the delete (a
	 * RETURNING list of STABLE functions is one Citus does not take)
	 */
	res = DefinitionJson(cxt, project_id, name,
						 "SELECT " DEF_JSON " FROM participants.custom_field "
						 "WHERE project_id = $1 AND name = $2 FOR UPDATE",
						 SPI_OK_SELECT);
	if (res != NULL)
		(void) DefinitionJson(cxt, project_id, name,
							  "DELETE FROM participants.custom_field WHERE project_id = $1 AND name = $2",
							  SPI_OK_DELETE);
	SPI_finish();
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("custom field \"%s\" not found", text_to_cstring(name))));
	PG_RETURN_JSONB_P(res);
}

/* custom_fields(project_id): the definitions, by name */
PT_API_FUNCTION(participants_custom_fields)
{
	pg_uuid_t  *project_id;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	bool		isnull;
	Datum		res;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"project_id\": null")));
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	SPI_connect();
	if (SPI_execute_with_args("SELECT coalesce(pg_catalog.jsonb_agg(" DEF_JSON " ORDER BY name), '[]') "
							  "FROM participants.custom_field WHERE project_id = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not list custom fields");
	res = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							false, -1);
	SPI_finish();
	PG_RETURN_DATUM(res);
}
