/*
 * participant/bulk_result.c
 *		The result of upsert_participants, {"results": [...], "totalAdded": n,
 *		"totalUpdated": n}, written straight into jsonb's binary layout: each
 *		element's finished jsonb is appended as its chunk completes, so the
 *		output costs its own size once, never a tree of values per element.
 *		The layout follows PostgreSQL's convertJsonbObject/convertJsonbArray.
 */
#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "participant/participant.h"

static void
PadToInt(StringInfo buf)
{
	while (buf->len % sizeof(int32) != 0)
		appendStringInfoCharMacro(buf, '\0');
}

static void
PutJEntry(StringInfo buf, int at, JEntry e)
{
	memcpy(buf->data + at, &e, sizeof(JEntry));
}

static void
CheckSize(int len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bulk result exceeds the maximum jsonb size of %d bytes", JENTRY_OFFLENMASK),
				 errhint("Send fewer participants per call.")));
}

/* Start a result for n elements, in the current memory context */
void
PtBulkOutBegin(PtBulkOut *out, int n)
{
	static const char keys[] = "resultstotalAddedtotalUpdated";
	uint32		header;

	initStringInfo(&out->buf);
	out->n = n;
	out->next = 0;
	appendStringInfoSpaces(&out->buf, VARHDRSZ);
	header = 3 | JB_FOBJECT;
	appendBinaryStringInfo(&out->buf, (char *) &header, sizeof(header));
	out->obj_jentries = out->buf.len;
	appendStringInfoSpaces(&out->buf, 6 * sizeof(JEntry));
	/* keys in jsonb order (shorter first): results, totalAdded, totalUpdated */
	appendBinaryStringInfo(&out->buf, keys, strlen(keys));
	out->arr_start = out->buf.len;
	PadToInt(&out->buf);
	header = (uint32) n | JB_FARRAY;
	appendBinaryStringInfo(&out->buf, (char *) &header, sizeof(header));
	out->arr_jentries = out->buf.len;
	appendStringInfoSpaces(&out->buf, n * sizeof(JEntry));
	out->arr_data = out->buf.len;
}

/*
 * Append the next element, {"actionTaken": action, "result": participant},
 * written in place (PtJbWriteObject pads to alignment itself)
 */
void
PtBulkOutAddResult(PtBulkOut *out, const char *action, PtRecord *rec)
{
	int			start = out->buf.len;
	int			i = out->next++;
	JEntry		e;

	Assert(i < out->n);
	PtWriteActionResult(&out->buf, action, rec);
	CheckSize(out->buf.len - out->arr_data);
	if (i % JB_OFFSET_STRIDE == 0)
		e = JENTRY_ISCONTAINER | JENTRY_HAS_OFF | (out->buf.len - out->arr_data);
	else
		e = JENTRY_ISCONTAINER | (out->buf.len - start);
	PutJEntry(&out->buf, out->arr_jentries + i * sizeof(JEntry), e);
}

static int
AppendNumeric(StringInfo buf, int64 n)
{
	Numeric		num = int64_to_numeric(n);
	int			start = buf->len;

	PadToInt(buf);
	appendBinaryStringInfo(buf, (char *) num, VARSIZE(num));
	return buf->len - start;
}

/* Finish with the totals and return the jsonb */
Jsonb *
PtBulkOutFinish(PtBulkOut *out, int64 added, int64 updated)
{
	int			arr_len;
	int			added_len;
	int			updated_len;

	if (out->next != out->n)
		elog(ERROR, "bulk result has %d of %d elements", out->next, out->n);
	arr_len = out->buf.len - out->arr_start;
	added_len = AppendNumeric(&out->buf, added);
	updated_len = AppendNumeric(&out->buf, updated);
	CheckSize(out->buf.len - out->obj_jentries);

	/* keys: the first entry of a stride holds an end offset, the rest lengths */
	PutJEntry(&out->buf, out->obj_jentries, JENTRY_ISSTRING | JENTRY_HAS_OFF | 7);
	PutJEntry(&out->buf, out->obj_jentries + 4, JENTRY_ISSTRING | 10);
	PutJEntry(&out->buf, out->obj_jentries + 8, JENTRY_ISSTRING | 12);
	/* values, in key order */
	PutJEntry(&out->buf, out->obj_jentries + 12, JENTRY_ISCONTAINER | arr_len);
	PutJEntry(&out->buf, out->obj_jentries + 16, JENTRY_ISNUMERIC | added_len);
	PutJEntry(&out->buf, out->obj_jentries + 20, JENTRY_ISNUMERIC | updated_len);
	SET_VARSIZE(out->buf.data, out->buf.len);
	return (Jsonb *) out->buf.data;
}
