/*
 * core/json_write.c
 *		A writer of jsonb objects straight into their binary layout, for the
 *		participant objects every call returns: the caller lists the keys in
 *		jsonb's order (shorter first, then bytewise), so nothing is sorted
 *		and no tree of values is built. Layout as in PostgreSQL's
 *		convertJsonbObject: header, one JEntry per key and per value (every
 *		JB_OFFSET_STRIDE'th an end offset, the others lengths), keys, values.
 */
#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "core/core.h"

static void
PadToInt(StringInfo buf)
{
	while (buf->len % sizeof(int32) != 0)
		appendStringInfoCharMacro(buf, '\0');
}

/* Append one value's data; returns its JEntry type bits */
static JEntry
WriteValue(StringInfo buf, PtJbField *f)
{
	switch (f->type)
	{
		case PT_JB_NULL:
			return JENTRY_ISNULL;
		case PT_JB_BOOL:
			return f->boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
		case PT_JB_STRING:
			appendBinaryStringInfo(buf, f->str, strlen(f->str));
			return JENTRY_ISSTRING;
		case PT_JB_NUMERIC:
			PadToInt(buf);
			appendBinaryStringInfo(buf, (char *) f->num, VARSIZE(f->num));
			return JENTRY_ISNUMERIC;
		case PT_JB_CONTAINER:
			PadToInt(buf);
			appendBinaryStringInfo(buf, (char *) f->container, f->container_len);
			return JENTRY_ISCONTAINER;
		case PT_JB_OBJECT:
			PtJbWriteObject(buf, f->fields, f->nfields);
			return JENTRY_ISCONTAINER;
		case PT_JB_SKIP:
			break;
	}
	elog(ERROR, "unknown jsonb field type %d", f->type);
	return 0;					/* keep compiler quiet */
}

/*
 * Append an object with the given fields, whose keys must be distinct and in
 * jsonb order. Fields of type PT_JB_SKIP are left out.
 */
void
PtJbWriteObject(StringInfo buf, PtJbField *fields, int n)
{
	int			nkept = 0;
	int			i,
				k;
	int			jentries;
	int			data;
	uint32		header;
	int			start;
	PtJbField  *kept[64];

	for (i = 0; i < n; i++)
	{
		if (fields[i].type == PT_JB_SKIP)
			continue;
		Assert(nkept < lengthof(kept));
		Assert(nkept == 0 || strlen(kept[nkept - 1]->key) < strlen(fields[i].key) ||
			   (strlen(kept[nkept - 1]->key) == strlen(fields[i].key) &&
				strcmp(kept[nkept - 1]->key, fields[i].key) < 0));
		kept[nkept++] = &fields[i];
	}
	PadToInt(buf);
	header = (uint32) nkept | JB_FOBJECT;
	appendBinaryStringInfo(buf, (char *) &header, sizeof(header));
	jentries = buf->len;
	appendStringInfoSpaces(buf, 2 * nkept * sizeof(JEntry));
	data = buf->len;
	for (k = 0; k < 2 * nkept; k++)
	{
		PtJbField  *f = kept[k % nkept];
		JEntry		e;

		start = buf->len;
		if (k < nkept)
		{
			appendBinaryStringInfo(buf, f->key, strlen(f->key));
			e = JENTRY_ISSTRING;
		}
		else
			e = WriteValue(buf, f);
		if (buf->len - data > JENTRY_OFFLENMASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("participant object exceeds the maximum jsonb size")));
		if (k % JB_OFFSET_STRIDE == 0)
			e |= JENTRY_HAS_OFF | (buf->len - data);
		else
			e |= (buf->len - start);
		memcpy(buf->data + jentries + k * sizeof(JEntry), &e, sizeof(JEntry));
	}
}

/* A jsonb value holding one object with the given fields */
Jsonb *
PtJbObject(PtJbField *fields, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	PtJbWriteObject(&buf, fields, n);
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/* ------------------------------------------------------------------------
 * Building jsonb with pushJsonbValue
 * ------------------------------------------------------------------------
 */

/* Push an object key */
void
PtPushKey(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

/* Push "key": n */
void
PtPushNumber(JsonbParseState **state, const char *key, int64 n)
{
	JsonbValue	v;

	PtPushKey(state, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* Push "key": "s" (null when s is NULL) */
void
PtPushString(JsonbParseState **state, const char *key, const char *s)
{
	JsonbValue	v;

	PtPushKey(state, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(state, WJB_VALUE, &v);
}
