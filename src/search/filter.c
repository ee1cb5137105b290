/*
 * search/filter.c
 *		The filter language of query_participants and dynamic segments
 *		(doc/search.md, doc/segments.md): parsed and validated once into a PtFilter,
 *		which then becomes either SQL conditions (a search, a segment
 *		rebuild) or a test of one participant record in C (the trigger that
 *		keeps dynamic segments current). Both back ends follow the same
 *		rules, and the segment tests check that they agree.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "search/search.h"

#define SEARCH_SEPARATOR '\x1f'

/* Demographic names of demographic_fields and DemographicField.NAME */
static const struct
{
	const char *name;
	PtDemo		demo;
} demo_names[] = {
	{"email", DEMO_EMAIL}, {"firstname", DEMO_FIRST_NAME},
	{"middlename", DEMO_MIDDLE_NAME}, {"lastname", DEMO_LAST_NAME},
	{"dob", DEMO_DATE_OF_BIRTH}, {"dateofbirth", DEMO_DATE_OF_BIRTH},
	{"mobilephone", DEMO_MOBILE_PHONE}, {"gender", DEMO_GENDER}, {"city", DEMO_CITY},
	{"state", DEMO_STATE}, {"postalcode", DEMO_POSTAL_CODE},
	{"preferredlanguage", DEMO_PREFERRED_LANGUAGE}, {"street1", DEMO_STREET1},
	{"street2", DEMO_STREET2}, {"utcoffset", DEMO_UTC_OFFSET}
};

/* Add a parameter; returns its number ($n) */
int
PtQueryParam(PtQuery *q, Oid type, Datum value)
{
	if (q->nparams >= PT_MAX_PARAMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many filters in one query")));
	q->types[q->nparams] = type;
	q->values[q->nparams] = value;
	return ++q->nparams;
}

/*
 * Lowercase as lower() does with the database's default collation. ASCII
 * text takes a fast path when the collation lowercases the ASCII letters to
 * their ASCII counterparts (not so in Turkish, where 'I' becomes a dotless
 * i), checked once per backend.
 */
char *
PtLower(const char *s)
{
	static int	ascii_plain = -1;
	size_t		len = strlen(s);
	size_t		i;
	char	   *res;

	if (ascii_plain < 0)
		ascii_plain = strcmp(str_tolower("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, DEFAULT_COLLATION_OID),
							 "abcdefghijklmnopqrstuvwxyz") == 0;
	for (i = 0; i < len; i++)
		if (IS_HIGHBIT_SET(s[i]))
			break;
	if (i < len || !ascii_plain)
		return str_tolower(s, len, DEFAULT_COLLATION_OID);
	res = palloc(len + 1);
	for (i = 0; i < len; i++)
		res[i] = pg_ascii_tolower((unsigned char) s[i]);
	res[len] = '\0';
	return res;
}

PtDemo
PtDemographicByName(const char *name, const char *what)
{
	char	   *lower = PtLower(name);
	int			i;

	for (i = 0; i < lengthof(demo_names); i++)
		if (strcmp(lower, demo_names[i].name) == 0)
			return demo_names[i].demo;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown demographic field \"%s\" in %s", name, what),
			 errhint("Use Email, FirstName, MiddleName, LastName, DOB (or DateOfBirth), MobilePhone, Gender, City, State, PostalCode or PreferredLanguage.")));
	return NUM_DEMO;			/* keep compiler quiet */
}

/*
 * The search text: the date of birth in ISO form (when set) and the given
 * fields, lowercased, with a control character between them that no query
 * may contain, so a match never spans two fields.
 */
char *
PtSearchText(const char *dob_iso, const char *const *fields, int nfields)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	if (dob_iso)
		appendStringInfoString(&buf, dob_iso);
	for (i = 0; i < nfields; i++)
	{
		if (fields[i] == NULL)
			continue;
		if (buf.len > 0)
			appendStringInfoChar(&buf, SEARCH_SEPARATOR);
		appendStringInfoString(&buf, fields[i]);
	}
	return PtLower(buf.data);
}

/* The search text of a record: what participant_search_idx holds for its row */
static char *
RecordSearchText(PtRecord *rec)
{
	const char *f[16];
	JsonbValue *sec = NULL;

	if (rec->custom_fields)
	{
		JsonbValue	buf;

		sec = getKeyJsonValueFromContainer(&rec->custom_fields->root,
										   "SecondaryIdentifier", 19, &buf);
	}
	f[0] = rec->participant_identifier;
	f[1] = rec->link_identifier;
	/* custom_fields ->> 'SecondaryIdentifier': a scalar's text, null for null */
	if (sec == NULL || sec->type == jbvNull)
		f[2] = NULL;
	else if (sec->type == jbvString)
		f[2] = pnstrdup(sec->val.string.val, sec->val.string.len);
	else if (sec->type == jbvNumeric)
		f[2] = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(sec->val.numeric)));
	else if (sec->type == jbvBool)
		f[2] = sec->val.boolean ? "true" : "false";
	else
		f[2] = JsonbToCString(NULL, sec->val.binary.data, sec->val.binary.len);
	f[3] = rec->demo[DEMO_EMAIL];
	f[4] = rec->demo[DEMO_FIRST_NAME];
	f[5] = rec->demo[DEMO_MIDDLE_NAME];
	f[6] = rec->demo[DEMO_LAST_NAME];
	f[7] = rec->demo[DEMO_PREFERRED_LANGUAGE];
	f[8] = rec->demo[DEMO_GENDER];
	f[9] = rec->demo[DEMO_STREET1];
	f[10] = rec->demo[DEMO_STREET2];
	f[11] = rec->demo[DEMO_CITY];
	f[12] = rec->demo[DEMO_STATE];
	f[13] = rec->demo[DEMO_POSTAL_CODE];
	f[14] = rec->demo[DEMO_MOBILE_PHONE];
	f[15] = rec->demo[DEMO_UTC_OFFSET];
	return PtSearchText(rec->demo[DEMO_DATE_OF_BIRTH], f, 16);
}

/* Escape LIKE's wildcards so the text matches literally */
static char *
LikeLiteral(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (; *s; s++)
	{
		if (*s == '%' || *s == '_' || *s == '\\')
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, *s);
	}
	return buf.data;
}

/* Room for n more entries in a filter's array */
#define GROW(arr, used, cap) \
	do { \
		if ((used) == (cap)) \
		{ \
			(cap) = (cap) ? (cap) * 2 : 4; \
			(arr) = (arr) ? repalloc((arr), sizeof(*(arr)) * (cap)) : palloc(sizeof(*(arr)) * (cap)); \
		} \
	} while (0)

/* query: a case-insensitive substring of the search text */
void
PtFilterQuery(PtFilter *f, const char *s, const char *prefix)
{
	const char *c;

	for (c = s; *c; c++)
		if (iscntrl((unsigned char) *c))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"%squery\": control characters are not allowed", prefix)));
	f->query = *s ? PtLower(s) : NULL;
}

/*
 * custom_fields: each {"Name": value} is an equality on the value's text
 * form, so a string "1" and a number 1 match each other: the value matches
 * a stored value equal to any of its alternatives (the same text as another
 * JSON type). Null matches a missing or null value.
 */
void
PtFilterCustomFields(PtFilter *f, Jsonb *filters, const char *prefix)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			cap = f->ncf;

	PtCheckObject(filters, psprintf("\"%scustom_fields\"", prefix),
				  "an object of field names and values");
	it = JsonbIteratorInit(&filters->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		PtFilterField *cf;
		char	   *textform = NULL;

		if (tok != WJB_KEY)
			continue;
		GROW(f->cf, f->ncf, cap);
		cf = &f->cf[f->ncf++];
		memset(cf, 0, sizeof(*cf));
		cf->name = pnstrdup(k.val.string.val, k.val.string.len);
		(void) JsonbIteratorNext(&it, &v, true);
		if (v.type == jbvNull)
		{
			cf->isnull = true;
			continue;
		}
		if (v.type == jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%scustom_fields.%s\": expected a string, number or boolean",
							prefix, cf->name)));
		cf->alt[cf->nalt++] = v;
		if (v.type == jbvString)
		{
			cf->alt[0].val.string.val = pnstrdup(v.val.string.val, v.val.string.len);
			textform = cf->alt[0].val.string.val;
		}
		else if (v.type == jbvNumeric)
		{
			cf->alt[0].val.numeric = DatumGetNumericCopy(NumericGetDatum(v.val.numeric));
			textform = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		}
		else if (v.type == jbvBool)
			textform = pstrdup(v.val.boolean ? "true" : "false");
		if (v.type != jbvString)
		{
			JsonbValue *alt = &cf->alt[cf->nalt++];

			alt->type = jbvString;
			alt->val.string.val = textform;
			alt->val.string.len = strlen(textform);
		}
		else
		{
			Datum		num = PtTextToNumeric(textform);

			if (num != (Datum) 0)
			{
				JsonbValue *alt = &cf->alt[cf->nalt++];

				alt->type = jbvNumeric;
				alt->val.numeric = DatumGetNumeric(num);
			}
			if (strcmp(textform, "true") == 0 || strcmp(textform, "false") == 0)
			{
				JsonbValue *alt = &cf->alt[cf->nalt++];

				alt->type = jbvBool;
				alt->val.boolean = textform[0] == 't';
			}
		}
	}
}

/*
 * demographic_fields: case-insensitive equality on each named demographic;
 * an empty string matches an empty field
 */
void
PtFilterDemographics(PtFilter *f, Jsonb *filters, const char *prefix)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int			cap = f->ndemo;
	char	   *what = psprintf("%sdemographic_fields", prefix);

	PtCheckObject(filters, psprintf("\"%s\"", what), "an object of demographic names and values");
	it = JsonbIteratorInit(&filters->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		PtFilterDemo *fd;
		char	   *name;
		char	   *key;
		char	   *value;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		(void) JsonbIteratorNext(&it, &v, true);
		GROW(f->demo, f->ndemo, cap);
		fd = &f->demo[f->ndemo++];
		memset(fd, 0, sizeof(*fd));
		fd->demo = PtDemographicByName(name, what);
		key = psprintf("%s.%s", what, name);
		if (v.type == jbvNumeric)
			value = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		else if (v.type == jbvString)
			value = pnstrdup(v.val.string.val, v.val.string.len);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": expected a string", key)));
		if (value[0] == '\0')
			fd->empty = true;
		else if (fd->demo == DEMO_DATE_OF_BIRTH)
		{
			int			y,
						m,
						day;

			fd->dob = PtParseIsoDate(value, key);
			j2date(fd->dob + POSTGRES_EPOCH_JDATE, &y, &m, &day);
			fd->value = psprintf("%04d-%02d-%02d", y, m, day);
		}
		else if (fd->demo == DEMO_MOBILE_PHONE)
			fd->value = PtNormalizePhone(value, key);
		else
			fd->value = PtLower(value);
	}
}

static const char *const segment_filter_keys =
"query, custom_fields, demographic_fields, invitation_status, enrolled, withdrawn";

/*
 * A dynamic segment's filter: an object with the keys of
 * segment_filter_keys; errors name the key as "filter.KEY".
 */
void
PtFilterSegment(PtFilter *f, Jsonb *filter)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	memset(f, 0, sizeof(*f));
	f->enrolled = f->withdrawn = -1;
	PtCheckObject(filter, "\"filter\"", "an object");
	it = JsonbIteratorInit(&filter->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "query") == 0)
		{
			if (v.type == jbvString)
				PtFilterQuery(f, pnstrdup(v.val.string.val, v.val.string.len), "filter.");
			else if (v.type != jbvNull)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"filter.query\": expected a string, got %s",
								PtJsonbTypeName(&v))));
		}
		else if (strcmp(key, "custom_fields") == 0 || strcmp(key, "demographic_fields") == 0)
		{
			Jsonb	   *obj;

			if (v.type != jbvBinary)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"filter.%s\": expected an object, got %s",
								key, PtJsonbTypeName(&v))));
			obj = JsonbValueToJsonb(&v);
			if (key[0] == 'c')
				PtFilterCustomFields(f, obj, "filter.");
			else
				PtFilterDemographics(f, obj, "filter.");
		}
		else if (strcmp(key, "invitation_status") == 0)
		{
			f->has_invitation = true;
			if (v.type == jbvString)
			{
				f->invitation = pnstrdup(v.val.string.val, v.val.string.len);
				PtCheckInvitationStatus(f->invitation, "filter.invitation_status");
			}
			else if (v.type != jbvNull)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"filter.invitation_status\": expected a string or null, got %s",
								PtJsonbTypeName(&v))));
		}
		else if (strcmp(key, "enrolled") == 0 || strcmp(key, "withdrawn") == 0)
		{
			if (v.type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"filter.%s\": expected a boolean, got %s",
								key, PtJsonbTypeName(&v))));
			if (key[0] == 'e')
				f->enrolled = v.val.boolean;
			else
				f->withdrawn = v.val.boolean;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"filter.%s\"", key),
					 errhint("A segment filter may hold %s.", segment_filter_keys)));
	}
}

/* The search text contains s (lowercased): the trigram index serves it */
static void
AddSearchTextLike(PtQuery *q, const char *s)
{
	int			n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(psprintf("%%%s%%", LikeLiteral(s))));

	appendStringInfo(&q->sql, " AND " PT_SEARCH_TEXT " LIKE $%d", n);
	q->filtered = true;
}

/* A {"name": value} object as jsonb */
static Datum
OneKeyObject(const char *name, JsonbValue *value)
{
	JsonbParseState *state = NULL;
	JsonbValue	k;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = (char *) name;
	k.val.string.len = strlen(name);
	pushJsonbValue(&state, WJB_KEY, &k);
	pushJsonbValue(&state, WJB_VALUE, value);
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}

/*
 * Append a filter's conditions on participant p (" AND ..."), values as
 * parameters. Each custom field equality is a set of containments
 * (custom_fields @> {"Name": alternative}), which the GIN index on
 * custom_fields serves; "query" and demographic equalities of three
 * characters or more are LIKEs on the search text, which the trigram index
 * serves. With query_custom_fields, "query" also matches the text of any
 * custom field value.
 */
void
PtFilterSql(PtQuery *q, PtFilter *f, bool query_custom_fields)
{
	int			i,
				j,
				n;

	if (f->query)
	{
		if (query_custom_fields)
		{
			n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(psprintf("%%%s%%", LikeLiteral(f->query))));
			appendStringInfo(&q->sql,
							 " AND (" PT_SEARCH_TEXT " LIKE $%d OR EXISTS (SELECT 1 FROM "
							 "pg_catalog.jsonb_each_text(p.custom_fields) e "
							 "WHERE pg_catalog.lower(e.value) LIKE $%d))", n, n);
			q->filtered = true;
		}
		else
			AddSearchTextLike(q, f->query);
	}
	for (i = 0; i < f->ncf; i++)
	{
		PtFilterField *cf = &f->cf[i];

		q->filtered = true;
		if (cf->isnull)
		{
			n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(cf->name));
			appendStringInfo(&q->sql,
							 " AND coalesce(pg_catalog.jsonb_typeof(p.custom_fields -> $%d), 'null') = 'null'", n);
			continue;
		}
		appendStringInfoString(&q->sql, " AND (");
		for (j = 0; j < cf->nalt; j++)
		{
			n = PtQueryParam(q, JSONBOID, OneKeyObject(cf->name, &cf->alt[j]));
			appendStringInfo(&q->sql, "%sp.custom_fields @> $%d", j ? " OR " : "", n);
		}
		appendStringInfoChar(&q->sql, ')');
	}
	for (i = 0; i < f->ndemo; i++)
	{
		PtFilterDemo *fd = &f->demo[i];
		const char *col = pt_demo_cols[fd->demo];
		const char *c;
		bool		plain = true;

		q->filtered = true;
		if (fd->empty)
		{
			appendStringInfo(&q->sql, " AND coalesce(p.%s::text, '') = ''", col);
			continue;
		}
		if (fd->demo == DEMO_DATE_OF_BIRTH)
		{
			n = PtQueryParam(q, DATEOID, DateADTGetDatum(fd->dob));
			appendStringInfo(&q->sql, " AND p.date_of_birth = $%d", n);
			/* the search text holds the date in ISO form */
			AddSearchTextLike(q, fd->value);
			continue;
		}
		if (fd->demo == DEMO_MOBILE_PHONE)
		{
			/* participant_mobile_phone_key */
			n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(fd->value));
			appendStringInfo(&q->sql, " AND p.mobile_phone = $%d", n);
			continue;
		}
		n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(fd->value));
		appendStringInfo(&q->sql, " AND pg_catalog.lower(p.%s) = $%d", col, n);

		/*
		 * An equal field is a substring of the search text: that condition
		 * lets the trigram index find the candidates. Email has its own
		 * index; a value under three characters has no trigram; one with a
		 * control character cannot be stored.
		 */
		for (c = fd->value; *c; c++)
			if (iscntrl((unsigned char) *c))
				plain = false;
		if (fd->demo != DEMO_EMAIL && plain && pg_mbstrlen(fd->value) >= 3)
			AddSearchTextLike(q, fd->value);
	}
	if (f->has_invitation)
	{
		q->filtered = true;
		if (f->invitation)
		{
			n = PtQueryParam(q, TEXTOID, CStringGetTextDatum(f->invitation));
			appendStringInfo(&q->sql, " AND p.invitation_status = $%d", n);
		}
		else
			appendStringInfoString(&q->sql, " AND coalesce(p.invitation_status, '') = ''");
	}
	if (f->enrolled >= 0)
	{
		q->filtered = true;
		appendStringInfo(&q->sql, " AND p.enrollment_date IS %sNULL", f->enrolled ? "NOT " : "");
	}
	if (f->withdrawn >= 0)
	{
		q->filtered = true;
		appendStringInfo(&q->sql, " AND p.withdraw_date IS %sNULL", f->withdrawn ? "NOT " : "");
	}
}

/* Two JSON scalars are equal, as jsonb containment compares them */
static bool
ScalarEqual(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		default:
			return false;
	}
}

/*
 * Does the filter match this participant? The same rules as PtFilterSql's
 * conditions (without query_custom_fields), evaluated on the record.
 */
bool
PtFilterMatches(PtFilter *f, PtRecord *rec)
{
	int			i,
				j;

	if (f->enrolled >= 0 && rec->has_enrollment != (bool) f->enrolled)
		return false;
	if (f->withdrawn >= 0 && rec->has_withdraw != (bool) f->withdrawn)
		return false;
	if (f->has_invitation)
	{
		if (f->invitation == NULL ? rec->invitation_status != NULL :
			(rec->invitation_status == NULL || strcmp(rec->invitation_status, f->invitation) != 0))
			return false;
	}
	for (i = 0; i < f->ndemo; i++)
	{
		PtFilterDemo *fd = &f->demo[i];
		const char *stored = rec->demo[fd->demo];

		if (fd->empty)
		{
			if (stored != NULL)
				return false;
			continue;
		}
		if (stored == NULL)
			return false;
		if (fd->demo == DEMO_DATE_OF_BIRTH)
		{
			if (rec->dob != fd->dob)
				return false;
		}
		else if (fd->demo == DEMO_MOBILE_PHONE)
		{
			if (strcmp(stored, fd->value) != 0)
				return false;
		}
		else if (strcmp(PtLower(stored), fd->value) != 0)
			return false;
	}
	for (i = 0; i < f->ncf; i++)
	{
		PtFilterField *cf = &f->cf[i];
		JsonbValue	buf;
		JsonbValue *v = NULL;
		bool		match = false;

		if (rec->custom_fields)
			v = getKeyJsonValueFromContainer(&rec->custom_fields->root, cf->name,
											 strlen(cf->name), &buf);
		if (cf->isnull)
		{
			if (v != NULL && v->type != jbvNull)
				return false;
			continue;
		}
		if (v == NULL)
			return false;
		for (j = 0; j < cf->nalt && !match; j++)
			match = ScalarEqual(v, &cf->alt[j]);
		if (!match)
			return false;
	}
	if (f->query)
	{
		/* last: the search text costs the most */
		if (strstr(RecordSearchText(rec), f->query) == NULL)
			return false;
	}
	return true;
}
