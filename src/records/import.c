/*
 * records/import.c
 *		import_participants, get_import, import_rows (doc/lifecycle.md#imports).
 *
 *		An import reads its file one row at a time (csv.c for CSV; a JSON
 *		array is one jsonb whose elements are read in place), turns each row
 *		into a participant body and hands the bodies, in batches of
 *		participants.bulk_batch_size, to the upsert path of
 *		upsert_participants (PtUpsertBodyList): the same rules, the same
 *		order semantics, the same speed. A batch runs in a subtransaction;
 *		when it fails, its rows are run again one by one, each in its own, so
 *		that every failing row is found and reported while the others apply
 *		in order. All the participant writes run inside one more
 *		subtransaction, released at the end, or rolled back for a dry run
 *		and for an import with onError abort that had a failing row.
 *
 *		The row reports wait in a tuplestore (memory up to work_mem, then a
 *		temporary file) until that outcome is known, and are then written to
 *		import_row in batches: the import runs in the memory of one batch
 *		whatever the size of the file. The import record is written first,
 *		so that a second import with the same idempotencyKey waits for the
 *		first and then returns it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "records/records.h"
#include "study/study.h"

#define MAX_FIRST_ERRORS 100

/*
 * Memory for the row reports waiting for the import's outcome before they go
 * to a temporary file: about 10,000 rows' worth, so that an import's memory
 * does not grow with its file (work_mem, if smaller)
 */
#define REPORTS_MEMORY_KB Min(work_mem, 1024)

typedef enum ColKind
{
	COL_ID,
	COL_IDENTIFIER,
	COL_SECONDARY,
	COL_INVITATION,
	COL_EXCLUDE,
	COL_INSTITUTION,
	COL_DEMO,
	COL_CUSTOM
} ColKind;

typedef struct Column
{
	ColKind		kind;
	int			demo;			/* COL_DEMO */
	char	   *field;			/* COL_CUSTOM: the field's name */
	PtFieldType type;			/* COL_CUSTOM: its declared type */
	char	   *header;			/* as the file names it */
	char	   *key;			/* the body key it fills, as messages name it */
} Column;

typedef struct Options
{
	const char *format;			/* csv or json */
	bool		dry_run;
	bool		allow_update;
	bool		skip;			/* onError skip */
	bool		empty_as_null;
	char	   *idempotency_key;
} Options;

/* One row of the batch in hand */
typedef struct BatchRow
{
	int			row;			/* its number in the file */
	JsonbContainer *body;		/* NULL when the row could not be read */
	Jsonb	   *errors;			/* its errors, NULL when none */
	const char *action;			/* add, update, none; NULL until done */
	pg_uuid_t	person;
} BatchRow;

typedef struct Import
{
	pg_uuid_t  *project_id;
	PtProject  *project;
	pg_uuid_t	import_id;
	Options		opt;
	Column	   *cols;
	int			ncols;
	/* the batch */
	BatchRow   *batch;
	int			nbatch;
	int		   *map;			/* body index -> batch index */
	JsonbContainer **bodies;
	int			nbodies;
	int			single;			/* the body run alone, or -1 */
	int			batch_size;		/* rows per batch (bulk_batch_size when it began) */
	/* the outcome */
	Tuplestorestate *reports;
	TupleDesc	report_desc;
	ResourceOwner owner;		/* the import's: it owns the tuplestore's file */
	MemoryContext cxt;
	int64		rows;
	int64		added;
	int64		updated;
	int64		unchanged;
	int64		failed;
	StringInfoData first_errors;	/* a JSON array's elements, comma separated */
	int			nfirst;
} Import;

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------
 */

static void
OptionError(const char *key, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for key \"options.%s\": %s", key, problem),
			 errhint("Options are format (csv or json), dryRun, allowUpdate, onError (abort or skip), emptyAsNull (booleans) and idempotencyKey (text).")));
}

static bool
BoolOption(JsonbValue *v, const char *key)
{
	if (v->type != jbvBool)
		OptionError(key, psprintf("expected a boolean, got %s", PtJsonbTypeName(v)));
	return v->val.boolean;
}

static char *
StringOption(JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		OptionError(key, psprintf("expected a string, got %s", PtJsonbTypeName(v)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static void
ParseOptions(Jsonb *options, const char *data, int len, Options *opt)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	const char *p;

	memset(opt, 0, sizeof(*opt));
	opt->allow_update = true;
	if (options != NULL)
	{
		PtCheckObject(options, "options", "an object of import options");
		it = JsonbIteratorInit(&options->root);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			char	   *key;

			if (tok != WJB_KEY)
				continue;
			key = pnstrdup(k.val.string.val, k.val.string.len);
			tok = JsonbIteratorNext(&it, &v, true);
			if (strcmp(key, "format") == 0)
			{
				char	   *f = StringOption(&v, key);

				if (strcmp(f, "csv") != 0 && strcmp(f, "json") != 0)
					OptionError(key, psprintf("\"%s\" is not csv or json", f));
				opt->format = f;
			}
			else if (strcmp(key, "dryRun") == 0)
				opt->dry_run = BoolOption(&v, key);
			else if (strcmp(key, "allowUpdate") == 0)
				opt->allow_update = BoolOption(&v, key);
			else if (strcmp(key, "emptyAsNull") == 0)
				opt->empty_as_null = BoolOption(&v, key);
			else if (strcmp(key, "onError") == 0)
			{
				char	   *e = StringOption(&v, key);

				if (strcmp(e, "abort") != 0 && strcmp(e, "skip") != 0)
					OptionError(key, psprintf("\"%s\" is not abort or skip", e));
				opt->skip = strcmp(e, "skip") == 0;
			}
			else if (strcmp(key, "idempotencyKey") == 0)
			{
				if (v.type != jbvNull)
				{
					opt->idempotency_key = StringOption(&v, key);
					if (strlen(opt->idempotency_key) < 1 || strlen(opt->idempotency_key) > 200)
						OptionError(key, "expected 1 to 200 characters");
				}
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown key \"options.%s\"", key),
						 errhint("Options are format, dryRun, allowUpdate, onError, emptyAsNull and idempotencyKey.")));
		}
	}
	if (opt->format == NULL)
	{
		/* json when the data starts with [ (after a BOM and white space) */
		const char *end = data + len;

		p = data;
		if (len >= 3 && (unsigned char) p[0] == 0xEF && (unsigned char) p[1] == 0xBB && (unsigned char) p[2] == 0xBF)
			p += 3;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		opt->format = (p < end && *p == '[') ? "json" : "csv";
	}
}

/* The options as the import object shows them */
static Jsonb *
OptionsJsonb(Options *opt)
{
	JsonbParseState *state = NULL;
	JsonbValue	b;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "format", opt->format);
	b.type = jbvBool;
	PtPushKey(&state, "dryRun");
	b.val.boolean = opt->dry_run;
	pushJsonbValue(&state, WJB_VALUE, &b);
	PtPushKey(&state, "allowUpdate");
	b.val.boolean = opt->allow_update;
	pushJsonbValue(&state, WJB_VALUE, &b);
	PtPushString(&state, "onError", opt->skip ? "skip" : "abort");
	PtPushKey(&state, "emptyAsNull");
	b.val.boolean = opt->empty_as_null;
	pushJsonbValue(&state, WJB_VALUE, &b);
	if (opt->idempotency_key)
		PtPushString(&state, "idempotencyKey", opt->idempotency_key);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* ------------------------------------------------------------------------
 * CSV columns and rows
 * ------------------------------------------------------------------------
 */

static const char *const top_columns[] = {
	"id", "participantIdentifier", "secondaryIdentifier", "invitationStatus",
	"excludeFromExport", "institutionCode"
};

static void
ReadHeader(Import *imp, char **fields, int n)
{
	int			i,
				j;

	imp->cols = palloc0(sizeof(Column) * Max(n, 1));
	imp->ncols = n;
	for (i = 0; i < n; i++)
	{
		Column	   *c = &imp->cols[i];
		char	   *h = fields[i];
		bool		known = false;

		c->header = pstrdup(h);
		for (j = 0; j < lengthof(top_columns) && !known; j++)
			if (pg_strcasecmp(h, top_columns[j]) == 0)
			{
				c->kind = (ColKind) j;
				c->key = (char *) top_columns[j];
				known = true;
			}
		for (j = 0; j < NUM_DEMO && !known; j++)
			if (pg_strcasecmp(h, pt_demo_keys[j]) == 0)
			{
				c->kind = COL_DEMO;
				c->demo = j;
				c->key = psprintf("demographics.%s", pt_demo_keys[j]);
				known = true;
			}
		if (!known && pg_strncasecmp(h, "customFields.", 13) == 0 && h[13] != '\0')
		{
			int			f;

			c->kind = COL_CUSTOM;
			c->field = pstrdup(h + 13);
			/* the declared field's own spelling, if any */
			for (f = 0; f < imp->project->nfields; f++)
				if (pg_strcasecmp(imp->project->fields[f].name, c->field) == 0)
					c->field = imp->project->fields[f].name;
			c->type = PtProjectFieldType(imp->project, c->field);
			c->key = psprintf("customFields.%s", c->field);
			known = true;
		}
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown column \"%s\" in the CSV header", h),
					 errdetail("Nothing was imported."),
					 errhint("Columns are id, participantIdentifier, secondaryIdentifier, invitationStatus, excludeFromExport, institutionCode, the demographic keys (email, firstName, ...) and customFields.NAME, in any case.")));
		for (j = 0; j < i; j++)
			if (pg_strcasecmp(imp->cols[j].key, c->key) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("duplicate column \"%s\" in the CSV header", h),
						 errdetail("Nothing was imported.")));
	}
}

static bool
ParseBool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "t", "yes", "y", "1"};
	static const char *const no[] = {"false", "f", "no", "n", "0"};
	int			i;

	for (i = 0; i < lengthof(yes); i++)
		if (pg_strcasecmp(s, yes[i]) == 0)
			return (*out = true);
	for (i = 0; i < lengthof(no); i++)
		if (pg_strcasecmp(s, no[i]) == 0)
		{
			*out = false;
			return true;
		}
	return false;
}

/* A decimal number as JSON writes one */
static bool
LooksNumeric(const char *s)
{
	const char *p = s;
	bool		digits = false;

	if (*p == '-' || *p == '+')
		p++;
	while (isdigit((unsigned char) *p))
		p++, digits = true;
	if (*p == '.')
	{
		p++;
		while (isdigit((unsigned char) *p))
			p++, digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0';
}

/* The JSON value of a cell of column c */
static void
CellValue(Column *c, const char *cell, JsonbValue *v)
{
	bool		b;

	if (c->kind == COL_EXCLUDE ||
		(c->kind == COL_CUSTOM && c->type == CF_BOOLEAN))
	{
		if (ParseBool(cell, &b))
		{
			v->type = jbvBool;
			v->val.boolean = b;
			return;
		}
	}
	else if (c->kind == COL_CUSTOM && (c->type == CF_NUMBER || c->type == CF_INTEGER) &&
			 LooksNumeric(cell))
	{
		Datum		n = PtTextToNumeric(cell);

		/* (Datum) 0: too long or too large a number, left as text for the check to name */
		if (n != (Datum) 0)
		{
			v->type = jbvNumeric;
			v->val.numeric = DatumGetNumeric(n);
			return;
		}
	}
	/* as text: the body's checks name what is wrong with it */
	v->type = jbvString;
	v->val.string.val = (char *) cell;
	v->val.string.len = strlen(cell);
}

/* The participant body of a CSV record; NULL when empty cells leave nothing to do */
static Jsonb *
RowBody(Import *imp, char **cells, int n, bool *has_custom_out)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	bool		custom = false;
	int			i,
				pass;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (pass = 0; pass < 3; pass++)
	{
		bool		opened = false;

		for (i = 0; i < n; i++)
		{
			Column	   *c = &imp->cols[i];
			bool		mine = pass == 0 ? (c->kind != COL_DEMO && c->kind != COL_CUSTOM) :
				pass == 1 ? c->kind == COL_DEMO : c->kind == COL_CUSTOM;

			if (!mine)
				continue;
			if (cells[i][0] == '\0')
			{
				/* an empty id or identifier selects no one: absent, even with emptyAsNull */
				if (!imp->opt.empty_as_null || c->kind == COL_ID || c->kind == COL_IDENTIFIER)
					continue;
				v.type = jbvNull;
			}
			else
				CellValue(c, cells[i], &v);
			if (pass > 0 && !opened)
			{
				PtPushKey(&state, pass == 1 ? "demographics" : "customFields");
				pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
				opened = true;
			}
			PtPushKey(&state, c->kind == COL_DEMO ? pt_demo_keys[c->demo] :
					  c->kind == COL_CUSTOM ? c->field : top_columns[c->kind]);
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
		if (opened)
			pushJsonbValue(&state, WJB_END_OBJECT, NULL);
		if (pass == 2)
			custom = opened;
	}
	*has_custom_out = custom;
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/* ------------------------------------------------------------------------
 * Row reports
 * ------------------------------------------------------------------------
 */

/* The key an error message names ("... key \"demographics.email\" ..."), or NULL */
static char *
MessageKey(const char *msg)
{
	const char *p = strstr(msg, "key \"");
	const char *end;

	if (p == NULL)
		p = strstr(msg, "for \"");
	if (p == NULL)
		return NULL;
	p = strchr(p, '"') + 1;
	end = strchr(p, '"');
	return end ? pnstrdup(p, end - p) : NULL;
}

/* The name a CSV file gives a body key (its column), or the key */
static const char *
FileKey(Import *imp, const char *key)
{
	int			i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < imp->ncols; i++)
		if (strcmp(imp->cols[i].key, key) == 0)
			return imp->cols[i].header;
	return key;
}

/* [{"key", "code", "message"}] of an error */
static Jsonb *
ErrorsOf(Import *imp, const char *key, const char *code, const char *message)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "key", FileKey(imp, key));
	PtPushString(&state, "code", code);
	PtPushString(&state, "message", message);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_ARRAY, NULL));
}

static Jsonb *
ErrorDataErrors(Import *imp, ErrorData *edata)
{
	char	   *msg = edata->message ? edata->message : "error";
	char	   *key = MessageKey(msg);

	/* a message that names no key says what it is about in its detail */
	if (key == NULL && edata->detail != NULL)
		msg = psprintf("%s: %s", msg, edata->detail);
	return ErrorsOf(imp, key, unpack_sql_state(edata->sqlerrcode), msg);
}

/* Keep a failing row's errors among the first ones of the import object */
static void
KeepFirstErrors(Import *imp, int row, Jsonb *errors)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	MemoryContext old;

	it = JsonbIteratorInit(&errors->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Jsonb	   *e;
		Jsonb	   *withrow;
		JsonbParseState *state = NULL;

		if (tok != WJB_ELEM || imp->nfirst >= MAX_FIRST_ERRORS)
			continue;
		e = JsonbValueToJsonb(&v);
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		PtPushNumber(&state, "row", row);
		{
			JsonbIterator *eit = JsonbIteratorInit(&e->root);
			JsonbValue	ek;
			JsonbIteratorToken et;

			while ((et = JsonbIteratorNext(&eit, &ek, true)) != WJB_DONE)
				if (et == WJB_KEY || et == WJB_VALUE)
					pushJsonbValue(&state, et, &ek);
		}
		withrow = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
		old = MemoryContextSwitchTo(imp->cxt);
		if (imp->nfirst > 0)
			appendStringInfoString(&imp->first_errors, ", ");
		appendStringInfoString(&imp->first_errors, JsonbToCString(NULL, &withrow->root, VARSIZE(withrow)));
		MemoryContextSwitchTo(old);
		imp->nfirst++;
	}
}

/* Put a row's report in the tuplestore (owned by the import, not the subtransaction) */
static void
PutReport(Import *imp, int row, const char *action, pg_uuid_t *person, Jsonb *errors)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, person == NULL, errors == NULL};
	ResourceOwner save = CurrentResourceOwner;
	MemoryContext old;

	values[0] = Int32GetDatum(row);
	values[1] = CStringGetTextDatum(action);
	values[2] = person ? UUIDPGetDatum(person) : (Datum) 0;
	values[3] = errors ? JsonbPGetDatum(errors) : (Datum) 0;
	CurrentResourceOwner = imp->owner;
	old = MemoryContextSwitchTo(imp->cxt);
	tuplestore_putvalues(imp->reports, imp->report_desc, values, nulls);
	MemoryContextSwitchTo(old);
	CurrentResourceOwner = save;
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------
 */

static void
Report(void *arg, int index, const char *action, PtRecord *rec)
{
	Import	   *imp = arg;
	BatchRow   *r = &imp->batch[imp->map[imp->single >= 0 ? imp->single : index]];

	r->action = action;
	r->person = rec->id;
}

static void
UpsertWork(void *arg)
{
	Import	   *imp = arg;

	if (imp->single >= 0)
		PtUpsertBodyList(imp->project_id, &imp->bodies[imp->single], 1, imp->opt.allow_update,
						 Report, imp);
	else
		PtUpsertBodyList(imp->project_id, imp->bodies, imp->nbodies, imp->opt.allow_update,
						 Report, imp);
}

/*
 * A row's own error (its data: classes 22 and 23, or a rule, PT404 and
 * PT409, or 42501) fails that row; anything else — a cancel, a timeout, a
 * deadlock, a serialization failure, an internal error — ends the import as
 * it would end any statement.
 */
static void
RethrowUnlessRowError(ErrorData *edata)
{
	int			code = edata->sqlerrcode;

	if (ERRCODE_TO_CATEGORY(code) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(code) == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		code == ERRCODE_PT_NOT_FOUND || code == ERRCODE_PT_CONFLICT ||
		code == ERRCODE_INSUFFICIENT_PRIVILEGE)
		return;
	ReThrowError(edata);
}

/* Run the batch's bodies, then report its rows in order */
static void
RunBatch(Import *imp)
{
	int			i;
	ErrorData  *edata;

	imp->nbodies = 0;
	for (i = 0; i < imp->nbatch; i++)
		if (imp->batch[i].body != NULL)
		{
			imp->map[imp->nbodies] = i;
			imp->bodies[imp->nbodies++] = imp->batch[i].body;
		}
	if (imp->nbodies > 0)
	{
		imp->single = -1;
		edata = PtSubtransaction(UpsertWork, imp);
		if (edata != NULL)
		{
			/* some row failed: run them one by one to find which */
			RethrowUnlessRowError(edata);
			FreeErrorData(edata);
			for (i = 0; i < imp->nbatch; i++)
				imp->batch[i].action = NULL;
			for (i = 0; i < imp->nbodies; i++)
			{
				imp->single = i;
				edata = PtSubtransaction(UpsertWork, imp);
				if (edata != NULL)
				{
					RethrowUnlessRowError(edata);
					imp->batch[imp->map[i]].errors = ErrorDataErrors(imp, edata);
					FreeErrorData(edata);
				}
			}
			imp->single = -1;
		}
	}
	for (i = 0; i < imp->nbatch; i++)
	{
		BatchRow   *r = &imp->batch[i];

		imp->rows++;
		if (r->errors != NULL || r->action == NULL)
		{
			if (r->errors == NULL)
				r->errors = ErrorsOf(imp, NULL, "XX000", "the row was not processed");
			imp->failed++;
			KeepFirstErrors(imp, r->row, r->errors);
			PutReport(imp, r->row, "failed", NULL, r->errors);
			continue;
		}
		if (strcmp(r->action, "add") == 0)
			imp->added++;
		else if (strcmp(r->action, "update") == 0)
			imp->updated++;
		else
			imp->unchanged++;
		/* a dry run's adds were never made: no id to show */
		PutReport(imp, r->row, r->action,
				  imp->opt.dry_run && strcmp(r->action, "add") == 0 ? NULL : &r->person, NULL);
	}
	imp->nbatch = 0;
}

static BatchRow *
NextBatchRow(Import *imp, int row)
{
	BatchRow   *r = &imp->batch[imp->nbatch++];

	memset(r, 0, sizeof(*r));
	r->row = row;
	return r;
}

static void
ImportCsv(Import *imp, const char *data, int len, MemoryContext batchcxt)
{
	PtCsvReader reader;
	int			row = 0;
	MemoryContext old;

	PtCsvBegin(&reader, data, len);
	if (!PtCsvNext(&reader, imp->cxt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"data\": the CSV has no header row"),
				 errhint("The first line names the columns: participantIdentifier, email, ...")));
	ReadHeader(imp, reader.fields, reader.nfields);

	old = MemoryContextSwitchTo(batchcxt);
	for (;;)
	{
		BatchRow   *r;
		bool		custom;

		if (imp->nbatch == 0)
			MemoryContextReset(batchcxt);
		if (!PtCsvNext(&reader, batchcxt))
			break;
		r = NextBatchRow(imp, ++row);
		if (reader.nfields != imp->ncols)
			r->errors = ErrorsOf(imp, NULL, "22023",
								 psprintf("row %d has %d fields, the header has %d", row,
										  reader.nfields, imp->ncols));
		else
		{
			Jsonb	   *body = RowBody(imp, reader.fields, reader.nfields, &custom);

			r->body = &body->root;
		}
		if (imp->nbatch >= imp->batch_size)
			RunBatch(imp);
		CHECK_FOR_INTERRUPTS();
	}
	if (imp->nbatch > 0)
		RunBatch(imp);
	MemoryContextSwitchTo(old);
}

static void
ParseJsonWork(void *arg)
{
	void	  **a = arg;
	const char *text = a[0];

	/* a byte order mark, as a CSV file may have */
	if ((unsigned char) text[0] == 0xEF && (unsigned char) text[1] == 0xBB && (unsigned char) text[2] == 0xBF)
		text += 3;
	a[1] = DatumGetPointer(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

static void
ImportJson(Import *imp, const char *data, MemoryContext batchcxt)
{
	void	   *a[2] = {(void *) data, NULL};
	ErrorData  *edata = PtSubtransaction(ParseJsonWork, a);
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			row = 0;
	MemoryContext old;

	if (edata != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"data\": not valid JSON: %s", edata->message),
				 errhint("Send a JSON array of participant bodies, or a CSV file with options.format csv.")));
	jb = a[1];
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"data\": expected a JSON array of participants"),
				 errhint("Send [{...}, {...}] as for upsert_participants.")));
	it = JsonbIteratorInit(&jb->root);
	old = MemoryContextSwitchTo(batchcxt);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		BatchRow   *r;

		if (tok != WJB_ELEM)
			continue;
		if (imp->nbatch == 0)
			MemoryContextReset(batchcxt);
		r = NextBatchRow(imp, ++row);
		if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
			r->body = v.val.binary.data;
		else
			r->errors = ErrorsOf(imp, NULL, "22023",
								 psprintf("expected a participant object, got %s",
										  v.type == jbvBinary ? "an array" : PtJsonbTypeName(&v)));
		if (imp->nbatch >= imp->batch_size)
			RunBatch(imp);
		CHECK_FOR_INTERRUPTS();
	}
	if (imp->nbatch > 0)
		RunBatch(imp);
	MemoryContextSwitchTo(old);
}

/* ------------------------------------------------------------------------
 * The import record
 * ------------------------------------------------------------------------
 */

#define IMPORT_SQL \
	"pg_catalog.jsonb_build_object('importID', i.id, 'status', i.status, 'format', i.format, " \
	"'options', i.options, 'counts', pg_catalog.jsonb_build_object('rows', i.rows, 'added', i.added, " \
	"'updated', i.updated, 'unchanged', i.unchanged, 'failed', i.failed), " \
	"'createdDate', i.created_date, 'finishedDate', i.finished_date, 'errors', i.errors)"

static Jsonb *
ImportObject(pg_uuid_t *project_id, Datum import_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = import_id;
	return PtJsonbStatement(&plan, "SELECT " IMPORT_SQL " FROM participants.import i "
							"WHERE i.project_id = $1 AND i.id = $2", 2, types, args, NULL, false);
}

/*
 * Write the import record (status failed until it is finished). With an
 * idempotency key already used, write nothing and return the earlier
 * import's id in *earlier (waiting for an import in progress with that key).
 */
static bool
BeginRecord(Import *imp, Jsonb *options, Datum *earlier)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr find = NULL;
	Oid			types[6] = {UUIDOID, UUIDOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	Datum		v;
	bool		isnull;
	bool		inserted;
	MemoryContext cxt = CurrentMemoryContext;

	args[0] = UUIDPGetDatum(imp->project_id);
	args[1] = UUIDPGetDatum(&imp->import_id);
	args[2] = CStringGetTextDatum(imp->opt.format);
	args[3] = JsonbPGetDatum(options);
	args[4] = imp->opt.idempotency_key ? CStringGetTextDatum(imp->opt.idempotency_key) : (Datum) 0;
	nulls[4] = imp->opt.idempotency_key ? ' ' : 'n';
	/* a dry run returns an import that used its key, but does not claim it */
	if (imp->opt.dry_run && imp->opt.idempotency_key)
	{
		bool		found;

		SPI_connect();
		found = PtRunValue(&find, "SELECT id FROM participants.import WHERE project_id = $1 AND idempotency_key = $5",
						   6, types, args, nulls, false, &v, &isnull);
		if (found)
		{
			MemoryContextSwitchTo(cxt);
			*earlier = datumCopy(v, false, UUID_LEN);
		}
		SPI_finish();
		if (found)
			return false;
		nulls[4] = 'n';
	}
	/* the time as a value: on a cluster a volatile function cannot be sent to a shard */
	args[5] = TimestampTzGetDatum(GetCurrentTimestamp());
	SPI_connect();
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		inserted = PtRunValue(&plan,
							  "INSERT INTO participants.import (project_id, id, status, format, options, idempotency_key, created_date) "
							  "VALUES ($1, $2, 'failed', $3, $4, $5, $6) "
							  "ON CONFLICT (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id",
							  6, types, args, nulls, false, &v, &isnull);
	}
	PG_FINALLY();
	{
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();
	if (!inserted)
	{
		if (!PtRunValue(&find, "SELECT id FROM participants.import WHERE project_id = $1 AND idempotency_key = $5",
						6, types, args, nulls, false, &v, &isnull))
			elog(ERROR, "the import with idempotency key \"%s\" vanished", imp->opt.idempotency_key);
		MemoryContextSwitchTo(cxt);
		*earlier = datumCopy(v, false, UUID_LEN);
	}
	SPI_finish();
	return inserted;
}

/* Write the row reports from the tuplestore, a batch of rows per statement */
static void
WriteReports(Import *imp)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[6] = {UUIDOID, UUIDOID, INT4ARRAYOID, TEXTARRAYOID, UUIDARRAYOID, JSONBARRAYOID};
	int			cap = Max(pt_bulk_batch_size, 1);
	Datum	   *rows = palloc(sizeof(Datum) * cap);
	Datum	   *actions = palloc(sizeof(Datum) * cap);
	Datum	   *people = palloc(sizeof(Datum) * cap);
	bool	   *people_null = palloc(sizeof(bool) * cap);
	Datum	   *errors = palloc(sizeof(Datum) * cap);
	bool	   *errors_null = palloc(sizeof(bool) * cap);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(imp->report_desc, &TTSOpsMinimalTuple);
	MemoryContext batchcxt = AllocSetContextCreate(CurrentMemoryContext, "import reports", ALLOCSET_DEFAULT_SIZES);
	int			n = 0;
	bool		more = true;

	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.import_row (project_id, import_id, row_number, action, person_id, errors) "
					  "SELECT $1, $2, r.n, r.a, r.p, r.e FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6)) r(n, a, p, e)",
					  6, types);
	tuplestore_rescan(imp->reports);
	while (more)
	{
		MemoryContext old = MemoryContextSwitchTo(batchcxt);

		more = tuplestore_gettupleslot(imp->reports, true, false, slot);
		if (more)
		{
			bool		isnull;

			rows[n] = slot_getattr(slot, 1, &isnull);
			actions[n] = PointerGetDatum(PG_DETOAST_DATUM_COPY(slot_getattr(slot, 2, &isnull)));
			people[n] = slot_getattr(slot, 3, &people_null[n]);
			if (!people_null[n])
				people[n] = UUIDPGetDatum(DatumGetUUIDP(datumCopy(people[n], false, UUID_LEN)));
			errors[n] = slot_getattr(slot, 4, &errors_null[n]);
			if (!errors_null[n])
				errors[n] = PointerGetDatum(PG_DETOAST_DATUM_COPY(errors[n]));
			n++;
		}
		if (n > 0 && (n == cap || !more))
		{
			Datum		args[6];
			int			dims[1] = {n};
			int			lbs[1] = {1};

			args[0] = UUIDPGetDatum(imp->project_id);
			args[1] = UUIDPGetDatum(&imp->import_id);
			args[2] = PointerGetDatum(construct_array(rows, n, INT4OID, 4, true, TYPALIGN_INT));
			args[3] = PointerGetDatum(construct_array(actions, n, TEXTOID, -1, false, TYPALIGN_INT));
			args[4] = PointerGetDatum(construct_md_array(people, people_null, 1, dims, lbs, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
			args[5] = PointerGetDatum(construct_md_array(errors, errors_null, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
			pt_lifecycle_writing = true;
			PG_TRY();
			{
				if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
					elog(ERROR, "could not write the import's row reports");
			}
			PG_FINALLY();
			{
				pt_lifecycle_writing = false;
			}
			PG_END_TRY();
			n = 0;
			MemoryContextSwitchTo(old);
			/* a tuple read back from a spilled store lives in batchcxt: let go first */
			ExecClearTuple(slot);
			MemoryContextReset(batchcxt);
			continue;
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(batchcxt);
}

/*
 * After a dry run or a failed import: a row that updated someone the file
 * itself added names a participant that was never written; it names no one
 */
static void
ForgetUnwrittenPeople(Import *imp)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = UUIDPGetDatum(imp->project_id);
	args[1] = UUIDPGetDatum(&imp->import_id);
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "UPDATE participants.import_row r SET person_id = NULL "
					  "WHERE r.project_id = $1 AND r.import_id = $2 AND r.person_id IS NOT NULL "
					  "AND NOT EXISTS (SELECT 1 FROM participants.participant p "
					  "WHERE p.project_id = $1 AND p.id = r.person_id)", 2, types);
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update the import's row reports");
	}
	PG_FINALLY();
	{
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();
	SPI_finish();
}

/* Finish the record: status, counts, first errors, and the event */
static void
FinishRecord(Import *imp, const char *status)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[10] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, INT4OID, INT4OID, INT4OID, INT4OID, JSONBOID, TIMESTAMPTZOID};
	Datum		args[10];
	Datum		v;
	bool		isnull;
	bool		failed_import = strcmp(status, "failed") == 0;
	TimestampTz at;
	JsonbParseState *state = NULL;

	args[0] = UUIDPGetDatum(imp->project_id);
	args[1] = UUIDPGetDatum(&imp->import_id);
	args[2] = CStringGetTextDatum(status);
	args[3] = Int32GetDatum((int32) imp->rows);
	args[4] = Int32GetDatum(failed_import ? 0 : (int32) imp->added);
	args[5] = Int32GetDatum(failed_import ? 0 : (int32) imp->updated);
	args[6] = Int32GetDatum(failed_import ? 0 : (int32) imp->unchanged);
	args[7] = Int32GetDatum((int32) imp->failed);
	args[8] = DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf("[%s]", imp->first_errors.data)));
	args[9] = TimestampTzGetDatum(GetCurrentTimestamp());
	SPI_connect();
	pt_lifecycle_writing = true;
	PG_TRY();
	{
		if (!PtRunValue(&plan,
						"UPDATE participants.import SET status = $3, rows = $4, added = $5, updated = $6, "
						"unchanged = $7, failed = $8, errors = $9, finished_date = $10 "
						"WHERE project_id = $1 AND id = $2 RETURNING finished_date",
						10, types, args, NULL, false, &v, &isnull))
			elog(ERROR, "the import record vanished");
	}
	PG_FINALLY();
	{
		pt_lifecycle_writing = false;
	}
	PG_END_TRY();
	at = DatumGetTimestampTz(v);
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "eventType", "person_import.api.finished");
	PtPushString(&state, "importID", PtUuidText(&imp->import_id));
	PtPushString(&state, "status", status);
	PtPushKey(&state, "counts");
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushNumber(&state, "rows", imp->rows);
	PtPushNumber(&state, "added", failed_import ? 0 : imp->added);
	PtPushNumber(&state, "updated", failed_import ? 0 : imp->updated);
	PtPushNumber(&state, "unchanged", failed_import ? 0 : imp->unchanged);
	PtPushNumber(&state, "failed", imp->failed);
	pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	PtPushString(&state, "updatedAt", JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL));
	PtWritePersonEvent(imp->project_id, "person_import.api.finished", (Datum) 0,
					   JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)), at);
}

/* ------------------------------------------------------------------------
 * The functions
 * ------------------------------------------------------------------------
 */

/* import_participants(project_id, data, options) */
PT_API_FUNCTION(participants_import_participants)
{
	Import		imp;
	text	   *data_text;
	char	   *data;
	Jsonb	   *options_jb;
	Datum		earlier;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext batchcxt;
	ResourceOwner owner = CurrentResourceOwner;
	const char *status;
	bool		keep;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "data");
	memset(&imp, 0, sizeof(imp));
	imp.project_id = PG_GETARG_UUID_P(0);
	imp.project = PtGetProject(imp.project_id);
	data_text = PG_GETARG_TEXT_PP(1);
	ParseOptions(PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2), VARDATA_ANY(data_text),
				 VARSIZE_ANY_EXHDR(data_text), &imp.opt);
	options_jb = OptionsJsonb(&imp.opt);

	PtRandomUuid(&imp.import_id);
	if (!BeginRecord(&imp, options_jb, &earlier))
		PG_RETURN_JSONB_P(ImportObject(imp.project_id, earlier));

	imp.cxt = cxt;
	imp.owner = owner;
	initStringInfo(&imp.first_errors);
	imp.batch_size = Max(pt_bulk_batch_size, 1);
	imp.batch = palloc(sizeof(BatchRow) * imp.batch_size);
	imp.map = palloc(sizeof(int) * imp.batch_size);
	imp.bodies = palloc(sizeof(JsonbContainer *) * imp.batch_size);
	imp.single = -1;
	imp.report_desc = CreateTemplateTupleDesc(4);
	TupleDescInitEntry(imp.report_desc, 1, "row", INT4OID, -1, 0);
	TupleDescInitEntry(imp.report_desc, 2, "action", TEXTOID, -1, 0);
	TupleDescInitEntry(imp.report_desc, 3, "person", UUIDOID, -1, 0);
	TupleDescInitEntry(imp.report_desc, 4, "errors", JSONBOID, -1, 0);
	imp.reports = tuplestore_begin_heap(true, false, REPORTS_MEMORY_KB);
	batchcxt = AllocSetContextCreate(cxt, "participants import batch", ALLOCSET_DEFAULT_SIZES);

	/*
	 * Every participant write of the import, kept or undone at the end. An
	 * error that ends the import (a malformed file) rolls this
	 * subtransaction back before it goes on up, so that whoever catches it
	 * finds the transaction as it was.
	 */
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (strcmp(imp.opt.format, "csv") == 0)
			ImportCsv(&imp, VARDATA_ANY(data_text), VARSIZE_ANY_EXHDR(data_text), batchcxt);
		else
		{
			/* jsonb_in takes a C string: the one copy of the file a JSON import makes */
			data = text_to_cstring(data_text);
			ImportJson(&imp, data, batchcxt);
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	keep = !imp.opt.dry_run && (imp.opt.skip || imp.failed == 0);
	if (keep)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	MemoryContextDelete(batchcxt);

	status = imp.opt.dry_run ? "dryRun" : keep ? "completed" : "failed";
	if (strcmp(status, "failed") == 0)
	{
		/* nothing was written: the good rows were rolled back */
		Tuplestorestate *ts = imp.reports;
		TupleTableSlot *slot = MakeSingleTupleTableSlot(imp.report_desc, &TTSOpsMinimalTuple);

		imp.reports = tuplestore_begin_heap(true, false, REPORTS_MEMORY_KB);
		tuplestore_rescan(ts);
		while (tuplestore_gettupleslot(ts, true, false, slot))
		{
			bool		isnull;
			int32		row = DatumGetInt32(slot_getattr(slot, 1, &isnull));
			char	   *action = TextDatumGetCString(slot_getattr(slot, 2, &isnull));
			Datum		person = slot_getattr(slot, 3, &isnull);
			Datum		errors;
			bool		errors_null;

			errors = slot_getattr(slot, 4, &errors_null);
			if (strcmp(action, "failed") == 0)
				PutReport(&imp, row, "failed", NULL, DatumGetJsonbP(errors));
			else
				PutReport(&imp, row, "rolledBack",
						  (!isnull && strcmp(action, "add") != 0) ? DatumGetUUIDP(person) : NULL, NULL);
		}
		ExecDropSingleTupleTableSlot(slot);
		tuplestore_end(ts);
	}
	WriteReports(&imp);
	tuplestore_end(imp.reports);
	if (!keep)
		ForgetUnwrittenPeople(&imp);
	FinishRecord(&imp, status);
	PG_RETURN_JSONB_P(ImportObject(imp.project_id, UUIDPGetDatum(&imp.import_id)));
}

/* get_import(project_id, import_id) */
PT_API_FUNCTION(participants_get_import)
{
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "import_id");
	(void) PtGetProject(PG_GETARG_UUID_P(0));
	res = ImportObject(PG_GETARG_UUID_P(0), PG_GETARG_DATUM(1));
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("import not found: %s", PtUuidText(PG_GETARG_UUID_P(1)))));
	PG_RETURN_JSONB_P(res);
}

/* import_rows(project_id, import_id, failed_only, page_number, page_size) */
PT_API_FUNCTION(participants_import_rows)
{
	static SPIPlanPtr plan = NULL;
	bool		failed_only = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
	int32		page_number = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	int32		page_size = PG_ARGISNULL(4) ? 20 : PG_GETARG_INT32(4);
	Oid			types[6] = {UUIDOID, UUIDOID, BOOLOID, INT4OID, INT4OID, INT8OID};
	Datum		args[6];
	Jsonb	   *res;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "import_id");
	PtCheckPaging(page_number, page_size, "rows");
	(void) PtGetProject(PG_GETARG_UUID_P(0));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = BoolGetDatum(failed_only);
	args[3] = Int32GetDatum(page_number);
	args[4] = Int32GetDatum(page_size);
	args[5] = Int64GetDatum((int64) page_number * page_size);
	res = PtJsonbStatement(&plan,
						   "SELECT pg_catalog.jsonb_build_object('pageNumber', $4, 'pageSize', $5, "
						   "'totalRows', (SELECT pg_catalog.count(*) FROM participants.import_row r "
						   "WHERE r.project_id = $1 AND r.import_id = $2 AND (NOT $3 OR r.action = 'failed')), "
						   "'rows', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
						   "'row', r.row_number, 'actionTaken', r.action, 'personId', r.person_id, "
						   "'errors', coalesce(r.errors, '[]')) ORDER BY r.row_number) FROM ("
						   "SELECT * FROM participants.import_row r WHERE r.project_id = $1 AND r.import_id = $2 "
						   "AND (NOT $3 OR r.action = 'failed') ORDER BY r.row_number LIMIT $5 OFFSET $6) r), '[]')) "
						   "WHERE EXISTS (SELECT 1 FROM participants.import i WHERE i.project_id = $1 AND i.id = $2)",
						   6, types, args, NULL, true);
	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("import not found: %s", PtUuidText(PG_GETARG_UUID_P(1)))));
	PG_RETURN_JSONB_P(res);
}

/* ------------------------------------------------------------------------
 * A CSV file posted over HTTP
 * ------------------------------------------------------------------------
 */

static void
AppendCsvField(StringInfo buf, const char *s, int len)
{
	int			i;

	appendStringInfoCharMacro(buf, '"');
	for (i = 0; i < len; i++)
	{
		if (s[i] == '"')
			appendStringInfoCharMacro(buf, '"');
		appendStringInfoCharMacro(buf, s[i]);
	}
	appendStringInfoCharMacro(buf, '"');
}

/*
 * import_participants(rows jsonb): POST /rpc/import_participants with
 * Content-Type: text/csv and Prefer: params=single-object. PostgREST parses
 * the CSV and passes its rows as objects of column names and cells; they are
 * written back as CSV and imported by import_participants(project_id, data,
 * options), with the project of the X-Project-Id header (or the token's only
 * project) and the options of the X-Import-Options header.
 */
PG_FUNCTION_INFO_V1(participants_import_csv_body);
Datum
participants_import_csv_body(PG_FUNCTION_ARGS)
{
	Jsonb	   *rows;
	JsonbValue *project_v;
	JsonbValue *options_v;
	pg_uuid_t  *project = palloc(sizeof(pg_uuid_t));
	Jsonb	   *options;
	StringInfoData csv;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *columns = NIL;
	bool		first = true;
	Oid			fn;

	PtNotNull(fcinfo, 0, "rows");
	rows = PG_GETARG_JSONB_P(0);
	project_v = PtRequestValue("request.headers", "x-project-id");
	if (project_v == NULL && pt_jwt_project_claim && pt_jwt_project_claim[0])
	{
		JsonbValue *claim = PtRequestValue("request.jwt.claims", pt_jwt_project_claim);

		if (claim && claim->type == jbvBinary && JsonContainerIsArray(claim->val.binary.data) &&
			JsonContainerSize(claim->val.binary.data) == 1)
			project_v = getIthJsonbValueFromContainer(claim->val.binary.data, 0);
	}
	if (project_v == NULL || project_v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"project_id\": no X-Project-Id header"),
				 errhint("Send the project's id in the X-Project-Id header.")));
	PtParseUuid(pnstrdup(project_v->val.string.val, project_v->val.string.len), "project_id", project);

	options_v = PtRequestValue("request.headers", "x-import-options");
	if (options_v != NULL && options_v->type == jbvString)
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(pnstrdup(options_v->val.string.val, options_v->val.string.len))));
	else
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	options = DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options),
												 DirectFunctionCall1(jsonb_in, CStringGetDatum("{\"format\": \"csv\"}"))));

	if (!JB_ROOT_IS_ARRAY(rows) || JB_ROOT_IS_SCALAR(rows))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"rows\": expected the rows of a CSV file"),
				 errhint("POST the file with Content-Type: text/csv and Prefer: params=single-object.")));

	/* back to CSV: the header of the first row's columns, then each row */
	initStringInfo(&csv);
	it = JsonbIteratorInit(&rows->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		ListCell   *lc;
		Jsonb	   *row;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"rows\": expected the rows of a CSV file")));
		row = JsonbValueToJsonb(&v);
		if (first)
		{
			JsonbIterator *kit = JsonbIteratorInit(&row->root);
			JsonbValue	k;
			JsonbIteratorToken kt;

			while ((kt = JsonbIteratorNext(&kit, &k, true)) != WJB_DONE)
				if (kt == WJB_KEY)
				{
					char	   *name = pnstrdup(k.val.string.val, k.val.string.len);

					columns = lappend(columns, name);
					if (list_length(columns) > 1)
						appendStringInfoCharMacro(&csv, ',');
					/* PostgREST keeps a byte order mark in the first column's name */
					if (strncmp(name, "\xEF\xBB\xBF", 3) == 0)
						AppendCsvField(&csv, name + 3, strlen(name) - 3);
					else
						AppendCsvField(&csv, name, strlen(name));
				}
			appendStringInfoString(&csv, "\r\n");
			first = false;
		}
		foreach(lc, columns)
		{
			char	   *name = lfirst(lc);
			JsonbValue *cell = getKeyJsonValueFromContainer(&row->root, name, strlen(name), NULL);

			if (foreach_current_index(lc) > 0)
				appendStringInfoCharMacro(&csv, ',');
			if (cell != NULL && cell->type == jbvString)
				AppendCsvField(&csv, cell->val.string.val, cell->val.string.len);
			else if (cell != NULL && cell->type != jbvNull)
			{
				char	   *s = JsonbToCString(NULL, &JsonbValueToJsonb(cell)->root, 0);

				AppendCsvField(&csv, s, strlen(s));
			}
		}
		appendStringInfoString(&csv, "\r\n");
	}
	if (first)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"data\": the CSV has no rows")));

	fn = DatumGetObjectId(DirectFunctionCall1(to_regprocedure,
											  CStringGetTextDatum("participants.import_participants(uuid, text, jsonb)")));
	if (!OidIsValid(fn))
		elog(ERROR, "participants.import_participants(uuid, text, jsonb) does not exist");
	PG_RETURN_DATUM(OidFunctionCall3(fn, UUIDPGetDatum(project), CStringGetTextDatum(csv.data),
									 JsonbPGetDatum(options)));
}
