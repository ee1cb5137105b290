/*
 * core/values.c
 *		Checks of single values, shared by body parsing, filters and the row
 *		triggers: uuid, email, phone, dates, UTC offset, enums, custom field
 *		types and values, paging arguments.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/core.h"

/* participants.max_custom_fields: custom field keys per participant */
int			pt_max_custom_fields = 200;

const char *const pt_demo_keys[NUM_DEMO] = {
	"email", "firstName", "middleName", "lastName", "dateOfBirth",
	"preferredLanguage", "gender", "street1", "street2", "city", "state",
	"postalCode", "mobilePhone", "utcOffset"
};

const char *const pt_demo_cols[NUM_DEMO] = {
	"email", "first_name", "middle_name", "last_name", "date_of_birth",
	"preferred_language", "gender", "street1", "street2", "city", "state",
	"postal_code", "mobile_phone", "utc_offset"
};

static const char *const invitation_statuses[] = {
	"pending", "declined", "cancelled", "approved", "notInvited"
};

static const char *const field_type_names[] = {
	NULL, "text", "number", "integer", "boolean", "date", "timestamp"
};

/* Parse a uuid in its canonical text form, or raise 22023 naming "what" */
void
PtParseUuid(const char *text, const char *what, pg_uuid_t *out)
{
	int			i = 0;
	const char *p = text;

	if (text == NULL)
		goto bad;
	if (*p == '{')
		p++;
	while (i < UUID_LEN)
	{
		int			hi,
					lo;

		if (i == 4 || i == 6 || i == 8 || i == 10)
		{
			if (*p == '-')
				p++;
		}
		if (!isxdigit((unsigned char) p[0]) || !isxdigit((unsigned char) p[1]))
			goto bad;
		hi = isdigit((unsigned char) p[0]) ? p[0] - '0' : (tolower((unsigned char) p[0]) - 'a' + 10);
		lo = isdigit((unsigned char) p[1]) ? p[1] - '0' : (tolower((unsigned char) p[1]) - 'a' + 10);
		out->data[i++] = (unsigned char) ((hi << 4) | lo);
		p += 2;
	}
	if (*text == '{')
	{
		if (*p != '}')
			goto bad;
		p++;
	}
	if (*p == '\0')
		return;
bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for \"%s\": not a uuid", what),
			 errdetail("The value was \"%s\".", text ? text : "null"),
			 errhint("Pass an id such as \"2f1d7c1e-8a34-4b0e-9b0a-3c2e5f6d7a81\".")));
}

/* Check that an email address looks like one */
void
PtCheckEmail(const char *value, const char *key)
{
	const char *at = strchr(value, '@');
	const char *dot;
	const char *c;
	bool		ok = true;

	if (at == NULL || at == value || strchr(at + 1, '@') != NULL ||
		strlen(value) > 254)
		ok = false;
	else
	{
		dot = strrchr(at + 1, '.');
		if (dot == NULL || dot == at + 1 || dot[1] == '\0')
			ok = false;
		for (c = value; ok && *c; c++)
		{
			if (isspace((unsigned char) *c) || iscntrl((unsigned char) *c) ||
				*c == ',' || *c == ';' || *c == '<' || *c == '>' ||
				*c == '(' || *c == ')' || *c == '"' || *c == '\\')
				ok = false;
		}
		if (ok && (strstr(at, "..") != NULL || at[1] == '.'))
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": \"%s\" is not an email address", key, value),
				 errhint("An email address has one \"@\", a local part and a domain with a dot, and no spaces.")));
}

/*
 * Normalize a phone number: keep a leading "+" and the digits, dropping
 * spaces, dots, dashes and parentheses. 7 to 15 digits are accepted.
 */
char *
PtNormalizePhone(const char *value, const char *key)
{
	StringInfoData buf;
	const char *c;
	int			digits = 0;
	bool		ok = true;

	initStringInfo(&buf);
	for (c = value; *c; c++)
	{
		if (*c == '+' && buf.len == 0 && digits == 0)
			appendStringInfoChar(&buf, '+');
		else if (isdigit((unsigned char) *c))
		{
			appendStringInfoChar(&buf, *c);
			digits++;
		}
		else if (*c == ' ' || *c == '-' || *c == '.' || *c == '(' || *c == ')')
			continue;
		else
			ok = false;
	}
	if (!ok || digits < 7 || digits > 15)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": \"%s\" is not a phone number", key, value),
				 errdetail("A phone number has 7 to 15 digits, optionally a leading \"+\", and may use spaces, dots, dashes and parentheses as separators."),
				 errhint("Send a number such as \"+1 (555) 123-4567\"; it is stored as \"+15551234567\".")));
	return buf.data;
}

/* True when a stored phone number is in normalized form */
bool
PtPhoneIsNormalized(const char *value)
{
	const char *c = value;
	int			digits = 0;

	if (*c == '+')
		c++;
	for (; *c; c++)
	{
		if (!isdigit((unsigned char) *c))
			return false;
		digits++;
	}
	return digits >= 7 && digits <= 15;
}

/* Parse a strict YYYY-MM-DD date that exists in the calendar */
DateADT
PtParseIsoDate(const char *value, const char *key)
{
	int			y,
				m,
				d;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			i;

	for (i = 0; i < 10; i++)
	{
		if (i == 4 || i == 7)
		{
			if (value[i] != '-')
				break;
		}
		else if (!isdigit((unsigned char) value[i]))
			break;
	}
	if (i < 10 || value[10] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("invalid value for key \"%s\": \"%s\" is not a date in YYYY-MM-DD form", key, value)));
	y = atoi(value);
	m = atoi(value + 5);
	d = atoi(value + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 ||
		d > mdays[m - 1] + ((m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) ? 1 : 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("invalid value for key \"%s\": \"%s\" is not a real date", key, value),
				 errdetail("The month or day is out of range for that month.")));
	return date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

/* Check a date of birth: a real date, not in the future */
DateADT
PtCheckDateOfBirth(const char *value, const char *key)
{
	DateADT		dob = PtParseIsoDate(value, key);

	if (dob > GetSQLCurrentDate())
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
				 errmsg("invalid value for key \"%s\": \"%s\" is in the future", key, value),
				 errhint("A date of birth must be today or earlier.")));
	return dob;
}

/* Check a UTC offset of the form [+-]HH:MM:SS */
void
PtCheckUtcOffset(const char *value, const char *key)
{
	const char *p = value;
	bool		ok = true;

	if (*p == '+' || *p == '-')
		p++;
	if (strlen(p) != 8 || p[2] != ':' || p[5] != ':' ||
		!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1]) ||
		!isdigit((unsigned char) p[3]) || !isdigit((unsigned char) p[4]) ||
		!isdigit((unsigned char) p[6]) || !isdigit((unsigned char) p[7]))
		ok = false;
	else if (atoi(p) > 14 || atoi(p + 3) > 59 || atoi(p + 6) > 59)
		ok = false;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": \"%s\" is not a UTC offset", key, value),
				 errhint("Use the form ±HH:MM:SS with hours up to 14, e.g. \"-04:00:00\".")));
}

/* Check a gender value: M, F or O */
void
PtCheckGender(const char *value, const char *key)
{
	if (strcmp(value, "M") != 0 && strcmp(value, "F") != 0 && strcmp(value, "O") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": \"%s\"", key, value),
				 errhint("Use \"M\", \"F\", \"O\" or null.")));
}

/* Check an invitation status against the closed set */
void
PtCheckInvitationStatus(const char *value, const char *key)
{
	int			i;

	for (i = 0; i < lengthof(invitation_statuses); i++)
		if (strcmp(value, invitation_statuses[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"%s\": \"%s\"", key, value),
			 errhint("Use one of \"pending\", \"declined\", \"cancelled\", \"approved\", \"notInvited\", or null.")));
}

/* Map a custom field type name to its enum, or CF_UNDECLARED */
PtFieldType
PtFieldTypeFromName(const char *name)
{
	int			i;

	for (i = 1; i < lengthof(field_type_names); i++)
		if (strcmp(name, field_type_names[i]) == 0)
			return (PtFieldType) i;
	return CF_UNDECLARED;
}

/* Name of a custom field type */
const char *
PtFieldTypeName(PtFieldType type)
{
	return type == CF_UNDECLARED ? "undeclared" : field_type_names[type];
}

/* Check a custom field name against ^[A-Za-z][A-Za-z0-9_]*$ */
void
PtCheckFieldName(const char *name)
{
	const char *c = name;
	bool		ok = isalpha((unsigned char) *c) && (*c & 0x80) == 0;

	for (c++; ok && *c; c++)
		if (!(isalnum((unsigned char) *c) || *c == '_') || (*c & 0x80))
			ok = false;
	if (!ok || strlen(name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid custom field name \"%s\"", name),
				 errhint("A name starts with a letter and has only letters, digits and underscores, at most 63 characters.")));
}

/* Check that a jsonb argument or column is an object; label names it in the message */
void
PtCheckObject(Jsonb *jb, const char *label, const char *expected)
{
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s: expected %s", label, expected)));
}

/* Name of a JSON value's type, for messages */
char *
PtJsonbTypeName(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		default:
			return "a nested value";
	}
}

static char *
JbvText(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static void
WrongFieldType(PtFieldType type, JsonbValue *v, const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"%s\": expected %s, got %s",
					key, PtFieldTypeName(type), PtJsonbTypeName(v)),
			 errhint("The custom field is declared as %s.", PtFieldTypeName(type))));
}

/* Parse text as a finite numeric; false when it is not one */
static bool
TextToNumeric(const char *s, Numeric *out)
{
	const char *c = s;
	bool		digit = false;

	/* cheap syntax check first, so numeric_in never raises */
	if (*c == '-' || *c == '+')
		c++;
	while (isdigit((unsigned char) *c))
		c++, digit = true;
	if (*c == '.')
		for (c++; isdigit((unsigned char) *c); c++)
			digit = true;
	if (digit && (*c == 'e' || *c == 'E'))
	{
		int			exponent = 0;

		c++;
		if (*c == '-' || *c == '+')
			c++;
		if (!isdigit((unsigned char) *c))
			return false;
		while (isdigit((unsigned char) *c))
		{
			exponent = Min(exponent * 10 + (*c - '0'), 100000);
			c++;
		}

		/*
		 * numeric holds about 1e131071 down to 1e-16383: beyond an exponent
		 * of 1000 (the mantissa has at most 100 digits) the text is not taken
		 * as a number, rather than overflow
		 */
		if (exponent > 1000)
			return false;
	}
	if (!digit || *c != '\0' || strlen(s) > 100)
		return false;
	*out = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	return true;
}

/* A finite numeric parsed from text, or (Datum) 0 when the text is not one */
Datum
PtTextToNumeric(const char *s)
{
	Numeric		n;

	return TextToNumeric(s, &n) ? NumericGetDatum(n) : (Datum) 0;
}

/* Parse an ISO 8601 timestamp; false when it is not one */
static bool
ParseTimestamp(const char *s, TimestampTz *out)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tz = 0;
	fsec_t		fsec;
	struct pg_tm tt,
			   *tm = &tt;

	if (strlen(s) >= MAXDATELEN || strlen(s) < 10 || !isdigit((unsigned char) s[0]))
		return false;
	if (ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0)
		return false;
	if (DecodeDateTime(field, ftype, nf, &dtype, tm, &fsec, &tz) != 0 || dtype != DTK_DATE)
		return false;
	return tm2timestamp(tm, fsec, &tz, out) == 0 && IS_VALID_TIMESTAMP(*out);
}

/*
 * Validate a custom field value from a body and coerce it to the field's
 * stored form: numbers and booleans sent as strings become JSON numbers and
 * booleans; timestamps are stored in ISO 8601 form. Undeclared fields take
 * any scalar.
 */
void
PtCoerceFieldValue(PtFieldType type, JsonbValue *v, const char *key)
{
	if (v->type == jbvNull)
		return;
	switch (type)
	{
		case CF_UNDECLARED:
			if (v->type != jbvString && v->type != jbvNumeric && v->type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for key \"%s\": expected a string, number or boolean, got %s",
								key, PtJsonbTypeName(v)),
						 errhint("Custom field values are scalars.")));
			break;
		case CF_TEXT:
			if (v->type != jbvString)
				WrongFieldType(type, v, key);
			break;
		case CF_NUMBER:
		case CF_INTEGER:
			if (v->type == jbvString)
			{
				Numeric		n;

				if (!TextToNumeric(JbvText(v), &n))
					WrongFieldType(type, v, key);
				v->type = jbvNumeric;
				v->val.numeric = n;
			}
			if (v->type != jbvNumeric)
				WrongFieldType(type, v, key);
			PtCheckStoredFieldValue(type, v, key);
			break;
		case CF_BOOLEAN:
			if (v->type == jbvString)
			{
				char	   *s = JbvText(v);

				if (pg_strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
					v->val.boolean = true;
				else if (pg_strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
					v->val.boolean = false;
				else
					WrongFieldType(type, v, key);
				v->type = jbvBool;
			}
			if (v->type != jbvBool)
				WrongFieldType(type, v, key);
			break;
		case CF_DATE:
			if (v->type != jbvString)
				WrongFieldType(type, v, key);
			(void) PtParseIsoDate(JbvText(v), key);
			break;
		case CF_TIMESTAMP:
			{
				TimestampTz ts;
				char		buf[MAXDATELEN + 1];
				char	   *iso;

				if (v->type != jbvString)
					WrongFieldType(type, v, key);
				if (!ParseTimestamp(JbvText(v), &ts))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
							 errmsg("invalid value for key \"%s\": \"%s\" is not an ISO 8601 timestamp",
									key, JbvText(v)),
							 errhint("Send a timestamp such as \"2021-03-04T05:06:07Z\".")));
				iso = pstrdup(JsonEncodeDateTime(buf, TimestampTzGetDatum(ts), TIMESTAMPTZOID, NULL));
				v->val.string.val = iso;
				v->val.string.len = strlen(iso);
			}
			break;
	}
}

/*
 * Check a stored custom field value against its declared type, as the
 * guard trigger sees it (no coercion: the stored form must already be right).
 */
void
PtCheckStoredFieldValue(PtFieldType type, JsonbValue *v, const char *key)
{
	if (v->type == jbvNull)
		return;
	switch (type)
	{
		case CF_UNDECLARED:
		case CF_TEXT:
		case CF_BOOLEAN:
		case CF_DATE:
			if (type == CF_UNDECLARED)
				PtCoerceFieldValue(type, v, key);
			else if ((type == CF_TEXT || type == CF_DATE) && v->type != jbvString)
				WrongFieldType(type, v, key);
			else if (type == CF_BOOLEAN && v->type != jbvBool)
				WrongFieldType(type, v, key);
			if (type == CF_DATE)
				(void) PtParseIsoDate(JbvText(v), key);
			break;
		case CF_NUMBER:
		case CF_INTEGER:
			if (v->type != jbvNumeric)
				WrongFieldType(type, v, key);
			if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric))
				WrongFieldType(type, v, key);
			if (type == CF_INTEGER)
			{
				Numeric		n = v->val.numeric;
				Numeric		r = DatumGetNumeric(DirectFunctionCall2(numeric_round,
																	NumericGetDatum(n),
																	Int32GetDatum(0)));
				bool		overflow = false;

				if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
													  NumericGetDatum(r))))
					overflow = true;
				else if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
														   NumericGetDatum(int64_to_numeric(PG_INT64_MAX)))) > 0 ||
						 DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
														   NumericGetDatum(int64_to_numeric(PG_INT64_MIN)))) < 0)
					overflow = true;
				if (overflow)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for key \"%s\": expected an integer", key),
							 errhint("The custom field is declared as integer (a whole number that fits in 64 bits).")));
			}
			break;
		case CF_TIMESTAMP:
			{
				TimestampTz ts;

				if (v->type != jbvString)
					WrongFieldType(type, v, key);
				if (!ParseTimestamp(JbvText(v), &ts))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
							 errmsg("invalid value for key \"%s\": \"%s\" is not an ISO 8601 timestamp",
									key, JbvText(v))));
			}
			break;
	}
}

/* page_size 1..1000 and page_number from 0; "items" names what a page holds */
void
PtCheckPaging(int32 page_number, int32 page_size, const char *items)
{
	if (page_size < 1 || page_size > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"page_size\": %d", page_size),
				 errhint("A page holds 1 to 1000 %s.", items)));
	if (page_number < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"page_number\": %d", page_number),
				 errhint("Pages are numbered from 0.")));
}

/*
 * 22023 when a participant would hold more than participants.max_custom_fields
 * custom fields; path prefixes the key ("" or "participants[3].")
 */
void
PtCheckCustomFieldCount(int n, const char *path)
{
	if (n > pt_max_custom_fields)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%scustomFields\": %d custom fields, at most %d are allowed",
						path, n, pt_max_custom_fields),
				 errhint("The server setting participants.max_custom_fields limits the custom fields of one participant.")));
}

/* Whether a numeric is a whole number */
bool
PtNumericIsWhole(Numeric n)
{
	return !numeric_is_nan(n) &&
		DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
										 DirectFunctionCall2(numeric_trunc, NumericGetDatum(n), Int32GetDatum(0))));
}
