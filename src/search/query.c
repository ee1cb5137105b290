/*
 * search/query.c
 *		query_participants (doc/search.md): validates its arguments, builds
 *		one parameterized statement (values and custom field names only ever
 *		as parameters), runs it and returns a page of participants with the
 *		total. Also the immutable helpers the statement (and its indexes) use.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "common/jsonapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/array.h"
#include "utils/typcache.h"

#include "search/search.h"

/* PT_RECORD_COLUMNS with each column qualified by "p." */
static const char *
RecordColumnsOfP(void)
{
	static char *cols = NULL;

	if (cols == NULL)
	{
		StringInfoData buf;
		const char *c = PT_RECORD_COLUMNS;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "p.");
		for (; *c; c++)
		{
			appendStringInfoChar(&buf, *c);
			if (*c == ' ')
				appendStringInfoString(&buf, "p.");
		}
		cols = MemoryContextStrdup(TopMemoryContext, buf.data);
		pfree(buf.data);
	}
	return cols;
}

/*
 * ORDER BY for sort_by: rows without the key last in either direction, and
 * insertion order then id as the last keys, so pages never overlap or skip.
 * Key words and declared custom field names match in any case; an
 * undeclared field's name must match exactly. True when the order is a
 * declared field's, which a sortable field's partial index (for one
 * project) may serve.
 */
static bool
AddOrderBy(PtQuery *q, const char *sort_by, bool ascending, PtProject *project)
{
	const char *dir = ascending ? "ASC" : "DESC";
	char	   *lower = PtLower(sort_by);

	appendStringInfoString(&q->sql, " ORDER BY ");
	if (strcmp(lower, "inserteddate") == 0)
	{
		/* participant_inserted_idx, read forwards or backwards */
		appendStringInfo(&q->sql, "p.inserted_date %s, p.id %s", dir, dir);
		return false;
	}
	else if (strcmp(lower, "enrollmentdate") == 0)
		appendStringInfo(&q->sql, "p.enrollment_date %s NULLS LAST", dir);
	else if (strcmp(lower, "participantidentifier") == 0)
		appendStringInfo(&q->sql, "p.participant_identifier %s", dir);
	else if (strcmp(lower, "invitationstatus") == 0)
		appendStringInfo(&q->sql, "p.invitation_status %s NULLS LAST", dir);
	else if (strcmp(lower, "secondaryidentifier") == 0 ||
			 strncmp(lower, "customfield.", 12) == 0)
	{
		const char *name = lower[0] == 's' ? "SecondaryIdentifier" : sort_by + 12;
		PtFieldType type = CF_UNDECLARED;
		int			i,
					n;

		if (name[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"sort_by\": \"%s\" names no custom field", sort_by)));
		/* a declared field's name in any case */
		for (i = 0; i < project->nfields; i++)
			if (pg_strcasecmp(project->fields[i].name, name) == 0)
			{
				name = project->fields[i].name;
				type = project->fields[i].type;
			}
		if (type != CF_UNDECLARED)
		{
			/*
			 * A declared field holds values of its type only: one key, the
			 * one a sortable field's indexes hold. Its name (checked against
			 * ^[A-Za-z][A-Za-z0-9_]*$ when declared) is a quoted literal, so
			 * that a cached plan matches the index expression too.
			 */
			appendStringInfo(&q->sql, "%s %s NULLS LAST",
							 PtFieldSortKey(type, "p.custom_fields", quote_literal_cstr(name)), dir);
			appendStringInfoString(&q->sql, ", p.inserted_date ASC, p.id ASC");
			return true;
		}
		n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(name));
			/* numbers as numbers, then ISO dates in time order, then other text */
			appendStringInfo(&q->sql,
						 "participants.custom_field_sort_number(p.custom_fields -> $%d) %s NULLS LAST, "
						 "participants.custom_field_sort_date(p.custom_fields -> $%d) %s NULLS LAST, "
						 "(p.custom_fields ->> $%d) %s NULLS LAST",
						 n, dir, n, dir, n, dir);
	}
	else if (strncmp(lower, "demographicfield.", 17) == 0)
	{
		PtDemo		d = PtDemographicByName(sort_by + 17, "sort_by");

		if (d == DEMO_DATE_OF_BIRTH)
			appendStringInfo(&q->sql, "p.date_of_birth %s NULLS LAST", dir);
		else
			appendStringInfo(&q->sql, "pg_catalog.lower(p.%s) %s NULLS LAST, p.%s %s",
							 pt_demo_cols[d], dir, pt_demo_cols[d], dir);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"sort_by\": \"%s\"", sort_by),
				 errhint("Use InsertedDate, EnrollmentDate, ParticipantIdentifier, SecondaryIdentifier, InvitationStatus, CustomField.NAME or DemographicField.NAME.")));
	/* ties in insertion order; the id makes the order total */
	appendStringInfoString(&q->sql, ", p.inserted_date ASC, p.id ASC");
	return false;
}

/*
 * Plans of the statements this backend ran, by text. A statement's text is
 * its shape (which filters, which sort); values are parameters, so calls of
 * the same shape share a plan, and the plan cache decides between a plan for
 * each call's values and a generic one. Most shapes take the generic plan:
 * the shape already says which index serves them (the GIN indexes, a unique
 * index for email and phone, participant_inserted_idx for the default
 * order), and planning for each call's values cost more than it saved
 * (the participant table's index expressions are large). Kept plans are
 * replanned when the table or its indexes change. Bounded: when full, all
 * are released.
 */
#define PLAN_CACHE_SIZE 64
static struct
{
	char	   *sql;
	SPIPlanPtr	plan;
}			plan_cache[PLAN_CACHE_SIZE];
static int	plan_cache_used = 0;

static SPIPlanPtr
ShapePlan(const char *sql, int nparams, Oid *types, bool generic)
{
	SPIPlanPtr	plan;
	int			i;

	for (i = 0; i < plan_cache_used; i++)
		if (strcmp(plan_cache[i].sql, sql) == 0)
			return plan_cache[i].plan;
	if (plan_cache_used == PLAN_CACHE_SIZE)
	{
		for (i = 0; i < plan_cache_used; i++)
		{
			SPI_freeplan(plan_cache[i].plan);
			pfree(plan_cache[i].sql);
		}
		plan_cache_used = 0;
	}
	plan = PtKeepPlan(sql, nparams, types,
					  CURSOR_OPT_PARALLEL_OK | (generic ? CURSOR_OPT_GENERIC_PLAN : 0));
	plan_cache[plan_cache_used].sql = MemoryContextStrdup(TopMemoryContext, sql);
	plan_cache[plan_cache_used++].plan = plan;
	return plan;
}

/*
 * A page of participants: {"pageNumber", "pageSize", "totalParticipants",
 * "participants": [rows]}
 */
Jsonb *
PtParticipantPage(int32 page_number, int32 page_size, int64 total, Jsonb **rows, int nrows)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "pageNumber", page_number);
	PtPushNumber(&state, "pageSize", page_size);
	PtPushNumber(&state, "totalParticipants", total);
	PtPushKey(&state, "participants");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < nrows; i++)
	{
		v.type = jbvBinary;
		v.val.binary.data = &rows[i]->root;
		v.val.binary.len = VARSIZE(rows[i]) - VARHDRSZ;
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * A jsonb argument; a JSON string is taken as the JSON text it holds, since
 * that is what an HTTP GET query parameter becomes through PostgREST
 * (?custom_fields={"Smoker":"1"} arrives as the string "{\"Smoker\":\"1\"}").
 */
static Jsonb *
JsonbArg(FunctionCallInfo fcinfo, int arg)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(arg);
	JsonbValue	v;
	char	   *text;
	JsonLexContext *lex;

	if (!JB_ROOT_IS_SCALAR(jb) || !JsonbExtractScalar(&jb->root, &v) || v.type != jbvString)
		return jb;
	text = pnstrdup(v.val.string.val, v.val.string.len);
	lex = makeJsonLexContextCstringLen(text, v.val.string.len, GetDatabaseEncoding(), false);
	/* a string that is not JSON text stays a string, which the caller refuses */
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return jb;
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/* PT404 unless the segment is one of the project's (the segment_id argument) */
static void
CheckSegment(pg_uuid_t *project_id, pg_uuid_t *segment_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(segment_id);
	if (!PtRowExists(&plan, "SELECT 1 FROM participants.segment "
					 "WHERE project_id = $1 AND id = $2", 2, types, args, NULL, true))
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("segment %s not found", PtUuidText(segment_id)),
				 errhint("list_segments(project_id) lists the project's segments.")));
}

/* A search being built and run: its statement and what shaped it */
typedef struct Search
{
	PtQuery		q;				/* parameters $1 project, [$2 segment], filters... */
	char	   *where;			/* " FROM ... WHERE ..." with the filters */
	bool		in_segment;		/* segment_id was given */
	bool		segment_only;	/* ... and no other filter */
	bool		windowed;		/* the page carries the total (a window count) */
	int32		page_number;
	int32		page_size;
} Search;

/* The filters of the arguments query, custom_fields and demographic_fields */
static void
ParseSearchFilters(FunctionCallInfo fcinfo, PtFilter *filter)
{
	memset(filter, 0, sizeof(*filter));
	filter->enrolled = filter->withdrawn = -1;
	if (!PG_ARGISNULL(1))
		PtFilterQuery(filter, text_to_cstring(PG_GETARG_TEXT_PP(1)), "");
	if (!PG_ARGISNULL(3))
		PtFilterCustomFields(filter, JsonbArg(fcinfo, 3), "");
	if (!PG_ARGISNULL(4))
		PtFilterDemographics(filter, JsonbArg(fcinfo, 4), "");
}

/* The FROM and WHERE of the search: the project's participants, or the segment's members */
static void
BuildWhere(Search *s, pg_uuid_t *project_id, Datum segment_id, PtFilter *filter)
{
	int			before;

	memset(&s->q, 0, sizeof(s->q));
	initStringInfo(&s->q.sql);
	(void) PtQueryParam(&s->q, UUIDOID, UUIDPGetDatum(project_id));
	if (s->in_segment)
	{
		/* the segment's current members, with the date each joined */
		(void) PtQueryParam(&s->q, UUIDOID, segment_id);
		appendStringInfoString(&s->q.sql,
							   " FROM participants.segment_membership m"
							   " JOIN participants.participant p ON p.project_id = m.project_id"
							   " AND p.id = m.participant_id"
							   " WHERE m.project_id = $1 AND m.segment_id = $2 AND m.remove_date IS NULL"
							   " AND p.project_id = $1");
		s->q.filtered = true;
	}
	else
		appendStringInfoString(&s->q.sql, " FROM participants.participant p WHERE p.project_id = $1");
	/* within a segment, "query" also matches custom field values (doc/search.md) */
	before = s->q.sql.len;
	PtFilterSql(&s->q, filter, s->in_segment);
	s->where = pstrdup(s->q.sql.data);
	s->segment_only = s->in_segment && s->q.sql.len == before;
	s->windowed = s->q.filtered && !s->segment_only;
}

/*
 * The statement of the page. With filters, one pass over the matches gives
 * the page and (by a window count) the total. Without, the page comes from
 * an index in sort order when there is one (participant_inserted_idx, a
 * sortable field's), and the total from a count of the project's rows. A
 * segment without other filters is read the second way: its page may come
 * from walking an index in sort order and probing the membership (a large
 * segment), or from its members sorted (a small one), and its total from
 * the membership index alone. Returns whether one generic plan serves it.
 */
static bool
BuildPage(Search *s, const char *sort_by, bool ascending, PtProject *project)
{
	PtQuery    *q = &s->q;
	bool		generic;
	int			nlimit,
				noffset;

	resetStringInfo(&q->sql);
	if (s->windowed)
		appendStringInfo(&q->sql, "SELECT p.* FROM (SELECT %s, %s"
						 "count(*) OVER () AS pt_total%s OFFSET 0) p",
						 RecordColumnsOfP(), s->in_segment ? "m.add_date AS pt_added, " : "", s->where);
	else if (s->segment_only)
		appendStringInfo(&q->sql, "SELECT %s, m.add_date AS pt_added%s", RecordColumnsOfP(), s->where);
	else
		appendStringInfo(&q->sql, "SELECT " PT_RECORD_COLUMNS "%s", s->where);

	/*
	 * Plans: see ShapePlan. An unfiltered page in a declared field's order
	 * is planned for its project, so that the field's partial index (if it
	 * is sortable) can serve it, and a page of a segment for the segment's
	 * size; every other shape keeps one generic plan.
	 */
	generic = (!AddOrderBy(q, sort_by, ascending, project) || s->windowed) && !s->segment_only;
	nlimit = PtQueryParam(q, INT4OID, Int32GetDatum(s->page_size));
	noffset = PtQueryParam(q, INT8OID, Int64GetDatum((int64) s->page_number * s->page_size));
	appendStringInfo(&q->sql, " LIMIT $%d OFFSET $%d", nlimit, noffset);
	return generic;
}

/*
 * The total when the page did not carry it (no window count, or it saw no
 * rows, past the last page). A segment's members are counted in the
 * membership index alone (each refers to a participant of the project: a
 * foreign key). Inside SPI.
 */
static int64
CountMatches(Search *s)
{
	char	   *count = s->segment_only ?
		"SELECT count(*) FROM participants.segment_membership m "
		"WHERE m.project_id = $1 AND m.segment_id = $2 AND m.remove_date IS NULL" :
		psprintf("SELECT count(*)%s", s->where);
	bool		isnull;

	/* the page's two parameters, LIMIT and OFFSET, are the last */
	if (SPI_execute_plan(ShapePlan(count, s->q.nparams - 2, s->q.types, true), s->q.values,
						 NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "participant count failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* Run the search: the page's participant objects in *rows, and the total */
static int64
RunSearch(Search *s, bool generic, Jsonb ***rows, int *nrows)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		total = 0;
	uint64		n;
	uint64		i;

	SPI_connect();
	if (SPI_execute_plan(ShapePlan(s->q.sql.data, s->q.nparams, s->q.types, generic), s->q.values,
						 NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "participant query failed");
	n = SPI_processed;
	MemoryContextSwitchTo(cxt);
	*rows = palloc(sizeof(Jsonb *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PtRecord	rec;
		bool		isnull;
		TimestampTz added = 0;

		PtRecordFromTuple(&rec, t, desc);
		if (s->in_segment)
			added = DatumGetTimestampTz(SPI_getbinval(t, desc, PT_RECORD_NCOLS + 1, &isnull));
		(*rows)[i] = PtRecordToJsonb(&rec, s->in_segment, added);
		if (s->windowed)
			total = DatumGetInt64(SPI_getbinval(t, desc, PT_RECORD_NCOLS + 1 + (s->in_segment ? 1 : 0),
												&isnull));
	}
	if (!s->windowed && n > 0 && n < (uint64) s->page_size)
		total = (int64) s->page_number * s->page_size + n;	/* the last page */
	else if ((n == 0 && s->page_number > 0) || (!s->windowed && n > 0))
	{
		total = CountMatches(s);
		MemoryContextSwitchTo(cxt);
	}
	SPI_finish();
	*nrows = (int) n;
	return total;
}

/*
 * query_participants(project_id, query, segment_id, custom_fields,
 * demographic_fields, sort_by, sort_ascending, page_number, page_size)
 */
PT_API_FUNCTION(participants_query_participants)
{
	pg_uuid_t  *project_id;
	PtProject  *project;
	const char *sort_by = PG_ARGISNULL(5) ? "InsertedDate" : text_to_cstring(PG_GETARG_TEXT_PP(5));
	bool		ascending = PG_ARGISNULL(6) ? true : PG_GETARG_BOOL(6);
	Search		s;
	PtFilter	filter;
	bool		generic;
	Jsonb	  **rows;
	int			nrows;
	int64		total;

	memset(&s, 0, sizeof(s));
	s.page_number = PG_ARGISNULL(7) ? 0 : PG_GETARG_INT32(7);
	s.page_size = PG_ARGISNULL(8) ? 20 : PG_GETARG_INT32(8);
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"project_id\": null")));
	PtCheckPaging(s.page_number, s.page_size, "participants");
	project_id = PG_GETARG_UUID_P(0);
	project = PtGetProject(project_id);
	s.in_segment = !PG_ARGISNULL(2);
	if (s.in_segment)
		CheckSegment(project_id, PG_GETARG_UUID_P(2));

	ParseSearchFilters(fcinfo, &filter);
	BuildWhere(&s, project_id, s.in_segment ? PG_GETARG_DATUM(2) : (Datum) 0, &filter);
	generic = BuildPage(&s, sort_by, ascending, project);
	total = RunSearch(&s, generic, &rows, &nrows);
	PG_RETURN_JSONB_P(PtParticipantPage(s.page_number, s.page_size, total, rows, nrows));
}

PG_FUNCTION_INFO_V1(participants_participant_search_text);
/*
 * participant_search_text(date_of_birth, VARIADIC fields): the lowercased
 * text that "query" searches — the date of birth in ISO form and the other
 * demographics and identifiers, separated by a control character no query
 * may contain, so a match never spans two fields. Immutable, so an index can
 * hold it; it takes the columns one by one (not the whole row), so updates
 * of other columns can stay HOT. Not STRICT: null fields are skipped.
 */
Datum
participants_participant_search_text(PG_FUNCTION_ARGS)
{
	char	   *dob = NULL;
	const char **fields = NULL;
	int			n = 0;

	if (!PG_ARGISNULL(0))
	{
		int			y,
					m,
					d;

		j2date(PG_GETARG_DATEADT(0) + POSTGRES_EPOCH_JDATE, &y, &m, &d);
		dob = psprintf("%04d-%02d-%02d", y, m, d);
	}
	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		Datum	   *elems;
		bool	   *nulls;
		int			i;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		fields = palloc(sizeof(char *) * Max(n, 1));
		for (i = 0; i < n; i++)
			fields[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	}
	PG_RETURN_TEXT_P(cstring_to_text(PtSearchText(dob, fields, n)));
}

PG_FUNCTION_INFO_V1(participants_custom_field_sort_number);
/* custom_field_sort_number(value): a number, or a string that is one; else null */
Datum
participants_custom_field_sort_number(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	JsonbValue	v;
	Datum		num;

	if (!JsonbExtractScalar(&jb->root, &v))
		PG_RETURN_NULL();
	if (v.type == jbvNumeric)
		PG_RETURN_NUMERIC(v.val.numeric);
	if (v.type != jbvString)
		PG_RETURN_NULL();
	num = PtTextToNumeric(pnstrdup(v.val.string.val, v.val.string.len));
	if (num == (Datum) 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(num);
}

PG_FUNCTION_INFO_V1(participants_custom_field_sort_date);
/*
 * custom_field_sort_date(value): a string beginning with an ISO date
 * (YYYY-MM-DD), as text, whose order is time order; else null
 */
Datum
participants_custom_field_sort_date(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	JsonbValue	v;
	const char *s;
	int			i;

	if (!JsonbExtractScalar(&jb->root, &v) || v.type != jbvString || v.val.string.len < 10)
		PG_RETURN_NULL();
	s = v.val.string.val;
	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : !isdigit((unsigned char) s[i]))
			PG_RETURN_NULL();
	if (v.val.string.len > 10 && s[10] != 'T' && s[10] != ' ')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(s, v.val.string.len));
}
