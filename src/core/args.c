/*
 * core/args.c
 *		Arguments of SQL-callable functions: required ones, uuids in messages,
 *		names of segments and studies.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "core/core.h"

#define MAX_NAME_LEN 200

/* 22023 naming the argument when a required one is SQL NULL */
void
PtNotNull(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null", name)));
}

/* A uuid as text, for messages */
char *
PtUuidText(pg_uuid_t *id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(id)));
}

/*
 * A segment's or study's name: not blank, at most MAX_NAME_LEN characters,
 * no control characters
 */
char *
PtCheckName(text *name, const char *what)
{
	char	   *s = text_to_cstring(name);
	const char *c;
	bool		blank = true;

	for (c = s; *c; c++)
	{
		if ((unsigned char) *c < 0x20 || *c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"name\": control characters are not allowed")));
		if (*c != ' ')
			blank = false;
	}
	if (blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"name\": a %s needs a name", what)));
	if (pg_mbstrlen(s) > MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"name\": longer than %d characters", MAX_NAME_LEN)));
	return s;
}
