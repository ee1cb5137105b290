/*
 * participant/body.c
 *		Parse and validate a participant body (doc/participants.md) into a PtInput:
 *		closed key sets, JSON types, enums, dates, email, phone, custom fields.
 *		Every error names the full key path, e.g. participants[3].demographics.email.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "participant/participant.h"

#define MAX_IDENTIFIER_LEN	255
#define MAX_TEXT_LEN		1000

/* keys that a read returns but a write may not send, with where they come from */
static const struct
{
	const char *key;
	const char *hint;
}			readonly_keys[] = {
	{"enrolled", "Remove it from the body; enroll_participant and withdraw_participant set it."},
	{"enrollmentDate", "Remove it from the body; enroll_participant sets it."},
	{"withdrawDate", "Remove it from the body; withdraw_participant sets it."},
	{"insertedDate", "Remove it from the body; the database sets it when the participant is added."},
	{"linkIdentifier", "Remove it from the body; the database generates it when the participant is added (the project setting linkIdentifiers)."},
	{"addedToSegmentDate", "Remove it from the body; a search by segment returns it, from the participant's membership of that segment."}
};

#define KEY_BUF_LEN 512

/*
 * The full key path for messages, written into buf (the loops reuse one
 * buffer per key instead of allocating; a very long key is cut short).
 */
static char *
KeyPath(char *buf, const char *path, const char *section, const char *key)
{
	if (section)
		snprintf(buf, KEY_BUF_LEN, "%s%s.%s", path, section, key);
	else
		snprintf(buf, KEY_BUF_LEN, "%s%s", path, key);
	return buf;
}

static char *
JbvString(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Reject a value whose JSON type is not the expected one */
static void
CheckJsonType(JsonbValue *v, enum jbvType type, bool nullable, const char *key)
{
	const char *want = type == jbvString ? "a string" :
		type == jbvBool ? "a boolean" : "an object";

	if (v->type == type || (nullable && v->type == jbvNull))
		return;
	if (type == jbvObject && v->type == jbvBinary &&
		JsonContainerIsObject(v->val.binary.data))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"%s\": expected %s%s, got %s",
					key, want, nullable ? " or null" : "",
					v->type == jbvBinary
					? (JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object")
					: PtJsonbTypeName(v))));
}

/* Reject a string longer than max characters */
static void
CheckLength(JsonbValue *v, int max, const char *key)
{
	if (v->type == jbvString && v->val.string.len > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": longer than %d bytes", key, max)));
}

static void
UnknownKey(const char *key, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown key \"%s\"", key),
			 errhint("%s", hint)));
}

/* Parse the demographics object */
static void
ParseDemographics(JsonbContainer *obj, const char *path, PtInput *in)
{
	char		keybuf[KEY_BUF_LEN];
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *key;
		int			d;
		char	   *value;

		if (tok != WJB_KEY)
			continue;
		name = JbvString(&v);
		key = KeyPath(keybuf, path, "demographics", name);
		(void) JsonbIteratorNext(&it, &v, true);
		for (d = 0; d < NUM_DEMO; d++)
			if (strcmp(name, pt_demo_keys[d]) == 0)
				break;
		if (d == NUM_DEMO)
			UnknownKey(key, "Demographics are email, firstName, middleName, lastName, dateOfBirth, preferredLanguage, gender, street1, street2, city, state, postalCode, mobilePhone and utcOffset.");
		CheckJsonType(&v, jbvString, true, key);
		CheckLength(&v, (d == DEMO_EMAIL || d == DEMO_MOBILE_PHONE) ? MAX_IDENTIFIER_LEN : MAX_TEXT_LEN, key);
		in->has_demo[d] = true;
		value = v.type == jbvNull || v.val.string.len == 0 ? NULL : JbvString(&v);
		if (value != NULL)
		{
			switch (d)
			{
				case DEMO_EMAIL:
					PtCheckEmail(value, key);
					break;
				case DEMO_MOBILE_PHONE:
					value = PtNormalizePhone(value, key);
					break;
				case DEMO_DATE_OF_BIRTH:
					in->dob = PtCheckDateOfBirth(value, key);
					break;
				case DEMO_GENDER:
					PtCheckGender(value, key);
					break;
				case DEMO_UTC_OFFSET:
					PtCheckUtcOffset(value, key);
					break;
				default:
					break;
			}
		}
		in->demo[d] = value;
	}
}

/* Add one custom field assignment, replacing an earlier one of the same key */
static void
AddField(PtInput *in, int *cap, const char *name, JsonbValue *v)
{
	int			i;

	for (i = 0; i < in->nfields; i++)
		if (strcmp(in->fields[i].key, name) == 0)
		{
			in->fields[i].value = *v;
			return;
		}
	if (in->nfields >= *cap)
	{
		*cap = *cap ? *cap * 2 : 8;
		in->fields = in->fields ? repalloc(in->fields, sizeof(PtFieldValue) * *cap)
			: palloc(sizeof(PtFieldValue) * *cap);
	}
	in->fields[in->nfields].key = pstrdup(name);
	in->fields[in->nfields].value = *v;
	in->nfields++;
}

/* Validate one custom field value against the project's definitions */
static void
CheckField(PtProject *project, const char *name, JsonbValue *v, const char *key)
{
	PtFieldType type = PtProjectFieldType(project, name);

	if (type == CF_UNDECLARED && project->strict_custom_fields)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown key \"%s\": custom field \"%s\" is not defined", key, name),
				 errhint("This project accepts only declared custom fields; declare it with participants.define_custom_field().")));
	if (v->type == jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for key \"%s\": expected a string, number or boolean, got %s",
						key, JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object"),
				 errhint("Custom field values are scalars.")));
	if (v->type == jbvString)
		CheckLength(v, MAX_TEXT_LEN, key);
	PtCoerceFieldValue(type, v, key);
}

/* Parse the customFields object */
static void
ParseCustomFields(JsonbContainer *obj, const char *path, PtProject *project,
				  PtInput *in, int *cap)
{
	char		keybuf[KEY_BUF_LEN];
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;

	/* before anything else: merging many keys costs their square */
	PtCheckCustomFieldCount(JsonContainerSize(obj), path);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		name = JbvString(&v);
		key = KeyPath(keybuf, path, "customFields", name);
		(void) JsonbIteratorNext(&it, &v, true);
		if (name[0] == '\0' || strlen(name) > 63)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid key \"%s\": a custom field name has 1 to 63 bytes", key)));
		CheckField(project, name, &v, key);
		AddField(in, cap, name, &v);
	}
}

/* What parsing one body carries from key to key */
typedef struct BodyParse
{
	const char *path;
	PtProject  *project;
	PtInput    *in;
	int			cap;			/* room in in->fields */
	bool		has_secondary;
	JsonbValue	secondary;		/* secondaryIdentifier, checked with customFields */
} BodyParse;

/* One key of the body, its value in v; key is its path for messages */
static void
ParseBodyKey(BodyParse *b, const char *name, const char *key, JsonbValue *v)
{
	PtInput    *in = b->in;
	int			i;

	if (strcmp(name, "id") == 0)
	{
		CheckJsonType(v, jbvString, false, key);
		PtParseUuid(JbvString(v), key, &in->id);
		in->has_id = true;
	}
	else if (strcmp(name, "participantIdentifier") == 0)
	{
		CheckJsonType(v, jbvString, false, key);
		CheckLength(v, MAX_IDENTIFIER_LEN, key);
		if (v->val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": an identifier cannot be empty", key)));
		in->has_identifier = true;
		in->identifier = JbvString(v);
	}
	else if (strcmp(name, "secondaryIdentifier") == 0)
	{
		CheckJsonType(v, jbvString, true, key);
		CheckLength(v, MAX_IDENTIFIER_LEN, key);
		b->secondary = *v;
		b->has_secondary = true;
	}
	else if (strcmp(name, "invitationStatus") == 0)
	{
		CheckJsonType(v, jbvString, true, key);
		in->has_invitation = true;
		in->invitation = v->type == jbvNull ? NULL : JbvString(v);
		if (in->invitation)
			PtCheckInvitationStatus(in->invitation, key);
	}
	else if (strcmp(name, "demographics") == 0)
	{
		CheckJsonType(v, jbvObject, false, key);
		ParseDemographics(v->val.binary.data, b->path, in);
	}
	else if (strcmp(name, "customFields") == 0)
	{
		CheckJsonType(v, jbvObject, false, key);
		ParseCustomFields(v->val.binary.data, b->path, b->project, in, &b->cap);
	}
	else if (strcmp(name, "excludeFromExport") == 0)
	{
		CheckJsonType(v, jbvBool, false, key);
		in->has_exclude = true;
		in->exclude = v->val.boolean;
	}
	else if (strcmp(name, "institutionCode") == 0)
	{
		CheckJsonType(v, jbvString, true, key);
		CheckLength(v, MAX_IDENTIFIER_LEN, key);
		in->has_institution = true;
		in->institution = v->type == jbvNull || v->val.string.len == 0 ? NULL : JbvString(v);
	}
	else
	{
		for (i = 0; i < lengthof(readonly_keys); i++)
			if (strcmp(name, readonly_keys[i].key) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("key \"%s\" is read-only", key),
						 errhint("%s", readonly_keys[i].hint)));
		UnknownKey(key, "Participant keys are id, participantIdentifier, secondaryIdentifier, invitationStatus, demographics, customFields, excludeFromExport and institutionCode.");
	}
}

/*
 * secondaryIdentifier is the custom field SecondaryIdentifier: both may be
 * sent only with the same value
 */
static void
AddSecondaryIdentifier(BodyParse *b, char *keybuf)
{
	PtInput    *in = b->in;
	char	   *key = KeyPath(keybuf, b->path, NULL, "secondaryIdentifier");
	int			i;

	for (i = 0; i < in->nfields; i++)
		if (strcmp(in->fields[i].key, "SecondaryIdentifier") == 0)
		{
			JsonbValue *other = &in->fields[i].value;

			if (other->type != b->secondary.type ||
				(other->type == jbvString &&
				 (other->val.string.len != b->secondary.val.string.len ||
				  memcmp(other->val.string.val, b->secondary.val.string.val,
						 b->secondary.val.string.len) != 0)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("conflicting values for key \"%s\" and \"%scustomFields.SecondaryIdentifier\"",
								key, b->path),
						 errdetail("secondaryIdentifier is another name for the custom field SecondaryIdentifier."),
						 errhint("Send one of them.")));
		}
	CheckField(b->project, "SecondaryIdentifier", &b->secondary, key);
	AddField(in, &b->cap, "SecondaryIdentifier", &b->secondary);
}

/*
 * Parse a participant body. "path" prefixes every key in messages ("" for a
 * single body, "participants[3]." in a bulk call).
 */
void
PtParseBody(JsonbContainer *body, const char *path, PtProject *project, PtInput *in)
{
	char		keybuf[KEY_BUF_LEN];
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	BodyParse	b;

	memset(in, 0, sizeof(PtInput));
	in->path = path;
	if (!JsonContainerIsObject(body) || JsonContainerIsScalar(body))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": expected a participant object",
						path[0] ? pnstrdup(path, strlen(path) - 1) : "participant")));
	memset(&b, 0, sizeof(b));
	b.path = path;
	b.project = project;
	b.in = in;

	it = JsonbIteratorInit(body);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		name = JbvString(&v);
		key = KeyPath(keybuf, path, NULL, name);
		(void) JsonbIteratorNext(&it, &v, true);
		ParseBodyKey(&b, name, key, &v);
	}
	if (b.has_secondary)
		AddSecondaryIdentifier(&b, keybuf);
}
