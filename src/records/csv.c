/*
 * records/csv.c
 *		An RFC 4180 reader over text in memory, one record at a time: fields
 *		separated by commas, records by CRLF, LF or a lone CR (as old
 *		spreadsheets write them), a field in double quotes
 *		may hold commas, line breaks and doubled quotes. A UTF-8 byte order
 *		mark at the start is skipped, and so are blank lines. Each record's
 *		fields are allocated in the caller's context, which the caller resets
 *		between records or batches: reading costs the memory of the records
 *		in hand, never of the file.
 */
#include "postgres.h"

#include "records/records.h"

void
PtCsvBegin(PtCsvReader *r, const char *data, int len)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	r->line = 1;
	initStringInfo(&r->field);
	if (len >= 3 && (unsigned char) data[0] == 0xEF && (unsigned char) data[1] == 0xBB &&
		(unsigned char) data[2] == 0xBF)
		r->pos = 3;
}

static void
EndField(PtCsvReader *r, MemoryContext cxt)
{
	if (r->nfields == r->cap)
	{
		int			cap = r->cap ? r->cap * 2 : 32;
		char	  **f = MemoryContextAlloc(cxt, sizeof(char *) * cap);

		if (r->nfields > 0)
			memcpy(f, r->fields, sizeof(char *) * r->nfields);
		r->fields = f;
		r->cap = cap;
	}
	r->fields[r->nfields++] = MemoryContextStrdup(cxt, r->field.data);
	resetStringInfo(&r->field);
}

/*
 * Read the next record into r->fields/r->nfields (in cxt); false at the end.
 * r->line is the line the record starts on. A malformed record (a quote
 * left open, text after a closing quote) is an error naming the line.
 */
bool
PtCsvNext(PtCsvReader *r, MemoryContext cxt)
{
	const char *d = r->data;
	int			start_line;

	/* r->fields lives in cxt, which the caller may have reset */
	r->fields = NULL;
	r->cap = 0;

	for (;;)
	{
		if (r->pos >= r->len)
			return false;
		/* a blank line is no record (a line ends with CRLF, LF or a lone CR) */
		if (d[r->pos] == '\n' || d[r->pos] == '\r')
		{
			r->pos += (d[r->pos] == '\r' && r->pos + 1 < r->len && d[r->pos + 1] == '\n') ? 2 : 1;
			r->line++;
			continue;
		}
		break;
	}

	start_line = r->line;
	r->nfields = 0;
	resetStringInfo(&r->field);
	for (;;)
	{
		char		ch;

		if (r->pos < r->len && d[r->pos] == '"')
		{
			/* a quoted field */
			r->pos++;
			for (;;)
			{
				if (r->pos >= r->len)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid CSV: a quoted field that starts on line %d is never closed", start_line),
							 errhint("Double every quote inside a quoted field (\"\"), and close the field with a quote.")));
				ch = d[r->pos++];
				if (ch == '"')
				{
					if (r->pos < r->len && d[r->pos] == '"')
					{
						appendStringInfoCharMacro(&r->field, '"');
						r->pos++;
						continue;
					}
					break;
				}
				if (ch == '\n')
					r->line++;
				appendStringInfoCharMacro(&r->field, ch);
			}
			/* after the closing quote: a comma, the end of the record or of the file */
			if (r->pos < r->len && d[r->pos] != ',' && d[r->pos] != '\n' && d[r->pos] != '\r')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid CSV on line %d: text after the closing quote of a field", r->line),
						 errhint("Quote the whole field, and double the quotes inside it.")));
		}
		else
		{
			/* an unquoted field: up to a comma or the end of the line */
			while (r->pos < r->len)
			{
				ch = d[r->pos];
				if (ch == ',' || ch == '\n' || ch == '\r')
					break;
				appendStringInfoCharMacro(&r->field, ch);
				r->pos++;
			}
		}
		EndField(r, cxt);
		if (r->pos >= r->len)
			break;
		ch = d[r->pos];
		if (ch == ',')
		{
			r->pos++;
			continue;
		}
		/* the end of the record: CRLF, LF or a lone CR */
		r->pos += (ch == '\r' && r->pos + 1 < r->len && d[r->pos + 1] == '\n') ? 2 : 1;
		r->line++;
		break;
	}
	return true;
}
