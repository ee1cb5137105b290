/*
 * participant/object.c
 *		The participant object: reading a record from a row, merging a body
 *		into its custom fields, comparing two records, and writing the
 *		participant JSON object (doc/participants.md) and action results.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "participant/participant.h"

static char *
TextOrNull(Datum *values, bool *nulls, int col)
{
	char	   *s;

	if (nulls[col])
		return NULL;
	s = TextDatumGetCString(values[col]);
	if (s[0] == '\0')
		return NULL;
	return s;
}

/*
 * Fill a record from column values; map[i] is the index in values of the
 * i-th column of PT_RECORD_COLUMNS. Strings and jsonb are copied into the
 * current memory context.
 */
void
PtRecordFromValues(PtRecord *rec, Datum *values, bool *nulls, const int *map)
{
	Datum		v[PT_RECORD_NCOLS];
	bool		n[PT_RECORD_NCOLS];
	int			i;

	for (i = 0; i < PT_RECORD_NCOLS; i++)
	{
		v[i] = values[map[i]];
		n[i] = nulls[map[i]];
	}
	memset(rec, 0, sizeof(PtRecord));
	memcpy(rec->id.data, DatumGetUUIDP(v[0])->data, UUID_LEN);
	rec->participant_identifier = TextOrNull(v, n, 1);
	rec->link_identifier = TextOrNull(v, n, 2);
	rec->invitation_status = TextOrNull(v, n, 3);
	for (i = 0; i < NUM_DEMO; i++)
	{
		if (i == DEMO_DATE_OF_BIRTH)
		{
			if (!n[4 + i])
			{
				int			y,
							m,
							dd;

				rec->dob = DatumGetDateADT(v[4 + i]);
				j2date(rec->dob + POSTGRES_EPOCH_JDATE, &y, &m, &dd);
				rec->demo[i] = psprintf("%04d-%02d-%02d", y, m, dd);
			}
		}
		else
			rec->demo[i] = TextOrNull(v, n, 4 + i);
	}
	rec->custom_fields = n[18] ? NULL : DatumGetJsonbPCopy(v[18]);
	rec->exclude_from_export = DatumGetBool(v[19]);
	rec->institution_code = TextOrNull(v, n, 20);
	rec->has_enrollment = !n[21];
	rec->enrollment_date = n[21] ? 0 : DatumGetTimestampTz(v[21]);
	rec->has_withdraw = !n[22];
	rec->withdraw_date = n[22] ? 0 : DatumGetTimestampTz(v[22]);
	rec->inserted_date = DatumGetTimestampTz(v[23]);
	rec->opted_out = DatumGetBool(v[24]);
}

/* Fill a record from a row whose first columns are PT_RECORD_COLUMNS */
void
PtRecordFromTuple(PtRecord *rec, HeapTuple tuple, TupleDesc desc)
{
	static const int identity[PT_RECORD_NCOLS] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
		20, 21, 22, 23, 24
	};
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);

	if (desc->natts < PT_RECORD_NCOLS)
		elog(ERROR, "participant row has %d columns, expected at least %d",
			 desc->natts, PT_RECORD_NCOLS);
	heap_deform_tuple(tuple, desc, values, nulls);
	PtRecordFromValues(rec, values, nulls, identity);
	pfree(values);
	pfree(nulls);
}

static void
SetText(Datum *values, bool *nulls, int col, const char *s)
{
	nulls[col] = (s == NULL);
	values[col] = s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Store the writable columns of a record into column values (map as for
 * PtRecordFromValues): identifier, invitation status, demographics, custom
 * fields, excludeFromExport and institutionCode.
 */
void
PtRecordToValues(PtRecord *rec, Datum *values, bool *nulls, const int *map)
{
	int			i;

	SetText(values, nulls, map[1], rec->participant_identifier);
	SetText(values, nulls, map[3], rec->invitation_status);
	for (i = 0; i < NUM_DEMO; i++)
	{
		if (i == DEMO_DATE_OF_BIRTH)
		{
			nulls[map[4 + i]] = (rec->demo[i] == NULL);
			values[map[4 + i]] = DateADTGetDatum(rec->dob);
		}
		else
			SetText(values, nulls, map[4 + i], rec->demo[i]);
	}
	nulls[map[18]] = false;
	values[map[18]] = JsonbPGetDatum(rec->custom_fields);
	nulls[map[19]] = false;
	values[map[19]] = BoolGetDatum(rec->exclude_from_export);
	SetText(values, nulls, map[20], rec->institution_code ? rec->institution_code : "");
}

/* The text form of a custom field's value, or NULL when absent or null */
static char *
PtFieldText(Jsonb *custom_fields, const char *key)
{
	JsonbValue *v;

	if (custom_fields == NULL)
		return NULL;
	v = getKeyJsonValueFromContainer(&custom_fields->root, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvBool)
		return pstrdup(v->val.boolean ? "true" : "false");
	return NULL;
}

/* Demographics in jsonb key order (shorter keys first, then bytewise) */
static const PtDemo demo_order[NUM_DEMO] = {
	DEMO_CITY, DEMO_EMAIL, DEMO_STATE, DEMO_GENDER, DEMO_STREET1, DEMO_STREET2,
	DEMO_LAST_NAME, DEMO_FIRST_NAME, DEMO_UTC_OFFSET, DEMO_MIDDLE_NAME,
	DEMO_POSTAL_CODE, DEMO_DATE_OF_BIRTH, DEMO_MOBILE_PHONE, DEMO_PREFERRED_LANGUAGE
};

#define NUM_RECORD_FIELDS 14

static char *
TimestampText(TimestampTz ts)
{
	char		buf[MAXDATELEN + 1];

	return pstrdup(JsonEncodeDateTime(buf, TimestampTzGetDatum(ts), TIMESTAMPTZOID, NULL));
}

static void
SetString(PtJbField *f, const char *key, const char *s)
{
	f->key = key;
	f->type = s ? PT_JB_STRING : PT_JB_NULL;
	f->str = s;
}

/*
 * The fields of the participant object (doc/participants.md), in jsonb key
 * order; demo receives the demographics (empty ones left out).
 */
static void
RecordFields(PtRecord *rec, PtJbField *f, PtJbField *demo,
			 bool with_segment_date, TimestampTz segment_date)
{
	int			i,
				nd = 0;

	memset(f, 0, sizeof(PtJbField) * NUM_RECORD_FIELDS);
	for (i = 0; i < NUM_DEMO; i++)
	{
		PtDemo		d = demo_order[i];

		if (rec->demo[d] == NULL)
			continue;
		memset(&demo[nd], 0, sizeof(PtJbField));
		SetString(&demo[nd++], pt_demo_keys[d], rec->demo[d]);
	}
	SetString(&f[0], "id", DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&rec->id))));
	f[1].key = "enrolled";
	f[1].type = PT_JB_BOOL;
	f[1].boolean = rec->has_enrollment;
	f[2].key = "customFields";
	if (rec->custom_fields)
	{
		f[2].type = PT_JB_CONTAINER;
		f[2].container = &rec->custom_fields->root;
		f[2].container_len = VARSIZE(rec->custom_fields) - VARHDRSZ;
	}
	else
		f[2].type = PT_JB_OBJECT;
	f[3].key = "demographics";
	f[3].type = PT_JB_OBJECT;
	f[3].fields = demo;
	f[3].nfields = nd;
	SetString(&f[4], "insertedDate", TimestampText(rec->inserted_date));
	SetString(&f[5], "withdrawDate", rec->has_withdraw ? TimestampText(rec->withdraw_date) : NULL);
	SetString(&f[6], "enrollmentDate", rec->has_enrollment ? TimestampText(rec->enrollment_date) : NULL);
	SetString(&f[7], "linkIdentifier", rec->link_identifier);
	SetString(&f[8], "institutionCode", rec->institution_code ? rec->institution_code : "");
	SetString(&f[9], "invitationStatus", rec->invitation_status);
	f[10].key = "excludeFromExport";
	f[10].type = PT_JB_BOOL;
	f[10].boolean = rec->exclude_from_export;
	f[11].key = "addedToSegmentDate";
	if (with_segment_date)
		SetString(&f[11], "addedToSegmentDate", TimestampText(segment_date));
	else
		f[11].type = PT_JB_SKIP;
	SetString(&f[12], "secondaryIdentifier", PtFieldText(rec->custom_fields, "SecondaryIdentifier"));
	SetString(&f[13], "participantIdentifier", rec->participant_identifier);
}

/* The participant object as jsonb */
Jsonb *
PtRecordToJsonb(PtRecord *rec, bool with_segment_date, TimestampTz segment_date)
{
	PtJbField	f[NUM_RECORD_FIELDS];
	PtJbField	demo[NUM_DEMO];

	RecordFields(rec, f, demo, with_segment_date, segment_date);
	return PtJbObject(f, NUM_RECORD_FIELDS);
}

/*
 * The fields of {"actionTaken": action, "result": participant} into top[2];
 * f and demo hold the participant's fields
 */
static void
ActionFields(const char *action, PtRecord *rec, PtJbField *top, PtJbField *f, PtJbField *demo)
{
	RecordFields(rec, f, demo, false, 0);
	memset(top, 0, sizeof(PtJbField) * 2);
	top[0].key = "result";
	top[0].type = PT_JB_OBJECT;
	top[0].fields = f;
	top[0].nfields = NUM_RECORD_FIELDS;
	SetString(&top[1], "actionTaken", action);
}

/* Append {"actionTaken": action, "result": participant} to a jsonb being written */
void
PtWriteActionResult(StringInfo buf, const char *action, PtRecord *rec)
{
	PtJbField	f[NUM_RECORD_FIELDS];
	PtJbField	demo[NUM_DEMO];
	PtJbField	top[2];

	ActionFields(action, rec, top, f, demo);
	PtJbWriteObject(buf, top, 2);
}

/* {"actionTaken": action, "result": participant} as jsonb */
Jsonb *
PtActionResult(const char *action, PtRecord *rec)
{
	PtJbField	f[NUM_RECORD_FIELDS];
	PtJbField	demo[NUM_DEMO];
	PtJbField	top[2];

	ActionFields(action, rec, top, f, demo);
	return PtJbObject(top, 2);
}

/*
 * Merge a body's custom field assignments into the stored object: keys of
 * the body replace stored ones, JSON null removes a key, other keys stay.
 */
Jsonb *
PtMergeCustomFields(Jsonb *old, PtInput *in)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			i;

	if (in->nfields == 0 && old != NULL)
		return old;
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (old != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&old->root);
		JsonbValue	k,
					v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			bool		replaced = false;

			if (tok != WJB_KEY)
				continue;
			(void) JsonbIteratorNext(&it, &v, true);
			for (i = 0; i < in->nfields; i++)
				if (strlen(in->fields[i].key) == k.val.string.len &&
					memcmp(in->fields[i].key, k.val.string.val, k.val.string.len) == 0)
					replaced = true;
			if (replaced)
				continue;
			pushJsonbValue(&state, WJB_KEY, &k);
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
	}
	for (i = 0; i < in->nfields; i++)
	{
		if (in->fields[i].value.type == jbvNull)
			continue;
		PtPushKey(&state, in->fields[i].key);
		pushJsonbValue(&state, WJB_VALUE, &in->fields[i].value);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

static bool
StrEq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* True when two records hold the same writable values */
bool
PtRecordsEqual(PtRecord *a, PtRecord *b)
{
	int			i;

	if (!StrEq(a->participant_identifier, b->participant_identifier) ||
		!StrEq(a->invitation_status, b->invitation_status) ||
		!StrEq(a->institution_code, b->institution_code) ||
		a->exclude_from_export != b->exclude_from_export)
		return false;
	for (i = 0; i < NUM_DEMO; i++)
		if (!StrEq(a->demo[i], b->demo[i]))
			return false;
	if (a->custom_fields == NULL || b->custom_fields == NULL)
		return a->custom_fields == b->custom_fields;
	return compareJsonbContainers(&a->custom_fields->root, &b->custom_fields->root) == 0;
}
