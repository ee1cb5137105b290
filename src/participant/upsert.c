/*
 * participant/upsert.c
 *		upsert_participant and upsert_participants: resolve each body to a
 *		participant, merge, enforce the rules, and write in batches.
 *
 *		Bodies are processed in chunks of participants.bulk_batch_size
 *		elements, each in a memory context reset before the next, so a long
 *		bulk call uses the memory of one chunk plus its input and output. A
 *		chunk goes in steps (ProcessChunk): parse its bodies, find and lock
 *		the rows they name by probing the unique indexes (store.c), resolve
 *		each element to an add or an update, write the rows through the
 *		executor's single-row paths in a subtransaction (a unique violation
 *		redoes the chunk with a careful lookup that names the duplicate),
 *		and report. A chunk ends early at an element that touches a
 *		participant an earlier element of the same chunk touched, so
 *		elements apply in order.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/hsearch.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "participant/participant.h"
#include "records/records.h"

/* participants.bulk_batch_size: elements a bulk upsert processes per chunk */
int			pt_bulk_batch_size = 1000;

#define KEY_LEN 256

typedef enum Action
{
	ACT_ADD,
	ACT_UPDATE,
	ACT_NONE
} Action;

typedef struct StrEntry
{
	char		key[KEY_LEN];
	int			idx;			/* row or element index */
	pg_uuid_t	owner;
} StrEntry;

typedef struct UuidEntry
{
	pg_uuid_t	key;
	int			idx;
} UuidEntry;

/* Working state of one element */
typedef struct Element
{
	PtInput		in;
	bool		needs_identifier;	/* an add without an identifier */
	char	   *gen_identifier; /* generated for it */
	Action		action;
	PtRow	   *target;			/* the locked row an update changes */
	PtRecord	rec;			/* the participant after this element */
} Element;


static HTAB *
NewMap(const char *name, bool strings, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = strings ? KEY_LEN : sizeof(pg_uuid_t);
	ctl.entrysize = strings ? sizeof(StrEntry) : sizeof(UuidEntry);
	ctl.hcxt = cxt;
	return hash_create(name, 64, &ctl,
					   HASH_ELEM | HASH_CONTEXT | (strings ? HASH_STRINGS : HASH_BLOBS));
}

static char *
LowerEmail(const char *email)
{
	return str_tolower(email, strlen(email), DEFAULT_COLLATION_OID);
}

/* A list of key values, for the lookups */
typedef struct TextColumn
{
	Datum	   *values;
	bool	   *nulls;
	int			n;
} TextColumn;

static void
ColumnInit(TextColumn *c, int cap)
{
	c->values = palloc(sizeof(Datum) * Max(cap, 1));
	c->nulls = palloc(sizeof(bool) * Max(cap, 1));
	c->n = 0;
}

static void
ColumnAddText(TextColumn *c, const char *s)
{
	c->nulls[c->n] = (s == NULL);
	c->values[c->n++] = s ? CStringGetTextDatum(s) : (Datum) 0;
}

static void
ColumnAdd(TextColumn *c, Datum d, bool isnull)
{
	c->nulls[c->n] = isnull;
	c->values[c->n++] = d;
}

static char *
UuidText(pg_uuid_t *u)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(u)));
}

/*
 * New participantIdentifiers for n adds: the project prefix and numbers
 * drawn from the project's own counter (project/counter.c), so they count only this
 * project's participants
 */
static void
GenerateIdentifiers(pg_uuid_t *project_id, PtProject *project, char **out, int n)
{
	int64		first;
	int			i;

	if (n == 0)
		return;
	first = PtDrawNumbers(project_id, PT_COUNTER_PARTICIPANT, n, NULL);
	for (i = 0; i < n; i++)
		out[i] = psprintf("%s%08lld", project->identifier_prefix, (long long) (first + i));
}

static void
DuplicateError(const char *path, const char *key, const char *what, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("duplicate value for key \"%s%s\": %s \"%s\" is already used in this project",
					path, key, what, value),
			 errhint("Each participant of a project needs its own %s. To update the participant that has it, send its participantIdentifier or id.", what)));
}

static void
LockedError(const char *path, const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("cannot change key \"%s%s\": the participant is enrolled", path, key),
			 errdetail("Email and mobile phone are locked once a participant enrolls."),
			 errhint("Send the stored value, or leave the key out.")));
}

static bool
StrEq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Apply a body to a record (existing or new) */
static void
ApplyBody(PtRecord *rec, PtInput *in)
{
	int			d;

	if (in->has_identifier)
		rec->participant_identifier = in->identifier;
	if (in->has_invitation)
		rec->invitation_status = in->invitation;
	for (d = 0; d < NUM_DEMO; d++)
		if (in->has_demo[d])
		{
			rec->demo[d] = in->demo[d];
			if (d == DEMO_DATE_OF_BIRTH)
				rec->dob = in->dob;
		}
	if (in->has_exclude)
		rec->exclude_from_export = in->exclude;
	if (in->has_institution)
		rec->institution_code = in->institution;
	rec->custom_fields = PtMergeCustomFields(rec->custom_fields, in);
	PtCheckCustomFieldCount(JsonContainerSize(&rec->custom_fields->root), in->path);
}

/* Check a value that must be unique in the project against the table and the chunk */
static void
CheckUnique(HTAB *db, HTAB *chunk, const char *value, pg_uuid_t *self,
			const char *path, const char *key, const char *what)
{
	StrEntry   *e;
	bool		found;

	if (value == NULL)
		return;
	e = hash_search(db, value, HASH_FIND, NULL);
	if (e && memcmp(e->owner.data, self->data, UUID_LEN) != 0)
		DuplicateError(path, key, what, value);
	e = hash_search(chunk, value, HASH_ENTER, &found);
	if (found && memcmp(e->owner.data, self->data, UUID_LEN) != 0)
		DuplicateError(path, key, what, value);
	e->owner = *self;
}

/* Write the chunk's adds and changes, telling the guard trigger they are validated */
static void
WriteRows(pg_uuid_t *project_id, Element *els, int n, PtAccess *acc, Snapshot snap)
{
	PtRecord  **adds = palloc(sizeof(PtRecord *) * Max(n, 1));
	PtRow	  **targets = palloc(sizeof(PtRow *) * Max(n, 1));
	PtRecord  **recs = palloc(sizeof(PtRecord *) * Max(n, 1));
	int			nadd = 0,
				nupd = 0,
				i;

	for (i = 0; i < n; i++)
	{
		if (els[i].action == ACT_ADD)
			adds[nadd++] = &els[i].rec;
		else if (els[i].action == ACT_UPDATE)
		{
			targets[nupd] = els[i].target;
			recs[nupd++] = &els[i].rec;
		}
	}
	if (nadd + nupd == 0)
		return;
	pt_trusted_write = true;
	PG_TRY();
	{
		PtAccessWrite(acc, project_id, adds, nadd, targets, recs, nupd, snap);
	}
	PG_FINALLY();
	{
		pt_trusted_write = false;
	}
	PG_END_TRY();
}

/*
 * Write a chunk in a subtransaction. A unique violation means a duplicate
 * email or phone that the first, quick lookup did not look for, or a
 * conflicting row another session committed after our lookup: roll the
 * chunk back and return the error. The caller redoes the chunk with a full
 * lookup, which names the duplicate or sees that row. Any other error
 * propagates.
 */
typedef struct ChunkWrite
{
	pg_uuid_t  *project_id;
	Element    *els;
	int			n;
	PtAccess   *acc;
	Snapshot	snap;
} ChunkWrite;

static void
WriteChunkWork(void *arg)
{
	ChunkWrite *c = arg;

	WriteRows(c->project_id, c->els, c->n, c->acc, c->snap);
}

static ErrorData *
WriteChunk(pg_uuid_t *project_id, Element *els, int n, PtAccess *acc, Snapshot snap)
{
	ChunkWrite	c = {project_id, els, n, acc, snap};
	ErrorData  *edata = PtSubtransaction(WriteChunkWork, &c);

	if (edata != NULL && edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
		ReThrowError(edata);
	return edata;
}

/* What one call carries from chunk to chunk */
typedef struct UpsertCall
{
	pg_uuid_t  *project_id;
	PtProject  *project;
	JsonbContainer **bodies;
	int			n;
	bool		bulk;
	bool		allow_update;
	PtBulkOut  *out;			/* a bulk call's result */
	Jsonb	  **single;			/* a single call's result */
	PtUpsertReport report;		/* or: each element's result to this (imports) */
	void	   *report_arg;
	MemoryContext outcxt;		/* where results go */
	int			added;
	int			updated;
	PtAccess	acc;
} UpsertCall;

/* One chunk: its elements, the rows they may touch, what is taken */
typedef struct Chunk
{
	int			start;			/* index of the first element in the call */
	int			count;
	Element    *els;
	PtRow	   *rows;			/* found and locked */
	int			nrows;
	Snapshot	snap;
	HTAB	   *row_by_id;		/* index into rows */
	HTAB	   *row_by_ident;
	HTAB	   *db_idents;		/* values the stored rows hold, with their owner */
	HTAB	   *db_emails;
	HTAB	   *db_phones;
	HTAB	   *chunk_ids;		/* values the chunk's elements take */
	HTAB	   *chunk_idents;
	HTAB	   *chunk_emails;
	HTAB	   *chunk_phones;
} Chunk;

/* The element's label in messages: "participant", or "participants[3]" */
static const char *
ElementLabel(UpsertCall *call, PtInput *in)
{
	return in->path[0] ? pnstrdup(in->path, strlen(in->path) - 1) : "participant";
}

/*
 * Step 1: parse and validate every body of the chunk, and collect the keys
 * to look up (emails and phones only when careful); identifiers for the
 * adds without one are drawn together
 */
static void
ParseChunk(UpsertCall *call, Chunk *c, bool careful, Datum *keys[PT_NUM_KEYS],
		   int nkeys[PT_NUM_KEYS])
{
	TextColumn	ids,
				idents,
				emails,
				phones;
	int			ngen = 0;
	char	  **gen;
	int			i;

	ColumnInit(&ids, c->count);
	ColumnInit(&idents, c->count * 2);
	ColumnInit(&emails, c->count);
	ColumnInit(&phones, c->count);
	for (i = 0; i < c->count; i++)
	{
		Element    *el = &c->els[i];
		PtInput    *in = &el->in;

		PtParseBody(call->bodies[c->start + i],
					call->bulk ? psprintf("participants[%d].", c->start + i) : "",
					call->project, in);
		if (in->has_id)
			ColumnAdd(&ids, UUIDPGetDatum(&in->id), false);
		if (in->has_identifier)
			ColumnAddText(&idents, in->identifier);
		if (!in->has_id && !in->has_identifier)
		{
			if (in->demo[DEMO_EMAIL] == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s needs \"id\", \"participantIdentifier\" or \"demographics.email\"",
								ElementLabel(call, in)),
						 errhint("Send id or participantIdentifier to select a participant, or an email to add one.")));
			el->needs_identifier = true;
			ngen++;
		}
		if (careful && in->demo[DEMO_EMAIL] != NULL)
			ColumnAddText(&emails, LowerEmail(in->demo[DEMO_EMAIL]));
		if (careful && in->demo[DEMO_MOBILE_PHONE] != NULL)
			ColumnAddText(&phones, in->demo[DEMO_MOBILE_PHONE]);
	}
	gen = palloc(sizeof(char *) * Max(ngen, 1));
	GenerateIdentifiers(call->project_id, call->project, gen, ngen);
	ngen = 0;
	for (i = 0; i < c->count; i++)
		if (c->els[i].needs_identifier)
		{
			c->els[i].gen_identifier = gen[ngen++];
			ColumnAddText(&idents, c->els[i].gen_identifier);
		}

	keys[PT_KEY_ID] = ids.values;
	nkeys[PT_KEY_ID] = ids.n;
	keys[PT_KEY_IDENTIFIER] = idents.values;
	nkeys[PT_KEY_IDENTIFIER] = idents.n;
	keys[PT_KEY_EMAIL] = emails.values;
	nkeys[PT_KEY_EMAIL] = emails.n;
	keys[PT_KEY_PHONE] = phones.values;
	nkeys[PT_KEY_PHONE] = phones.n;
}

/*
 * Step 2: find and lock every row the chunk may touch or collide with, and
 * map them. Emails and phones are looked up only when careful, to name a
 * duplicate precisely: the first try goes without (the unique indexes still
 * refuse a duplicate, and the chunk is then redone carefully, which finds
 * and names it).
 */
static void
LookUpChunk(UpsertCall *call, Chunk *c, Datum *keys[PT_NUM_KEYS], int nkeys[PT_NUM_KEYS])
{
	MemoryContext cxt = CurrentMemoryContext;
	int			i;

	c->snap = PtAccessSnapshot();
	c->nrows = PtAccessLookup(&call->acc, UUIDPGetDatum(call->project_id), keys, nkeys,
							  c->snap, &c->rows);
	c->row_by_id = NewMap("rows by id", false, cxt);
	c->row_by_ident = NewMap("rows by identifier", true, cxt);
	c->db_idents = NewMap("identifiers", true, cxt);
	c->db_emails = NewMap("emails", true, cxt);
	c->db_phones = NewMap("phones", true, cxt);
	for (i = 0; i < c->nrows; i++)
	{
		PtRecord   *r = &c->rows[i].rec;
		UuidEntry  *ue;
		StrEntry   *se;

		ue = hash_search(c->row_by_id, &r->id, HASH_ENTER, NULL);
		ue->idx = i;
		se = hash_search(c->row_by_ident, r->participant_identifier, HASH_ENTER, NULL);
		se->idx = i;
		se = hash_search(c->db_idents, r->participant_identifier, HASH_ENTER, NULL);
		se->owner = r->id;
		if (r->demo[DEMO_EMAIL])
		{
			se = hash_search(c->db_emails, LowerEmail(r->demo[DEMO_EMAIL]), HASH_ENTER, NULL);
			se->owner = r->id;
		}
		if (r->demo[DEMO_MOBILE_PHONE])
		{
			se = hash_search(c->db_phones, r->demo[DEMO_MOBILE_PHONE], HASH_ENTER, NULL);
			se->owner = r->id;
		}
	}
	c->chunk_ids = NewMap("chunk ids", false, cxt);
	c->chunk_idents = NewMap("chunk identifiers", true, cxt);
	c->chunk_emails = NewMap("chunk emails", true, cxt);
	c->chunk_phones = NewMap("chunk phones", true, cxt);
}

/* The locked row element el names by id or participantIdentifier, or NULL */
static PtRow *
FindTarget(Chunk *c, PtInput *in)
{
	UuidEntry  *ue;
	StrEntry   *se;

	if (in->has_id)
	{
		ue = hash_search(c->row_by_id, &in->id, HASH_FIND, NULL);
		if (ue == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_PT_NOT_FOUND),
					 errmsg("participant not found for key \"%sid\": %s", in->path, UuidText(&in->id)),
					 errhint("Leave id out to add a participant; ids are generated.")));
		return &c->rows[ue->idx];
	}
	if (in->has_identifier)
	{
		se = hash_search(c->row_by_ident, in->identifier, HASH_FIND, NULL);
		if (se)
			return &c->rows[se->idx];
	}
	return NULL;
}

/*
 * Whether element el must wait for the next chunk, because it touches what
 * an earlier element of this chunk touched (so that elements apply in
 * order). An add whose generated identifier someone chose by hand gets
 * another.
 */
static bool
TouchesEarlierElement(UpsertCall *call, Chunk *c, Element *el, PtRecord *old)
{
	PtInput    *in = &el->in;
	const char *ident;
	bool		found;

	if (old != NULL)
	{
		hash_search(c->chunk_ids, &old->id, HASH_FIND, &found);
		return found;
	}
	ident = in->has_identifier ? in->identifier : el->gen_identifier;
	if (hash_search(c->chunk_idents, ident, HASH_FIND, NULL) != NULL)
		return true;
	if (!in->has_identifier && hash_search(c->db_idents, ident, HASH_FIND, NULL))
	{
		do
			GenerateIdentifiers(call->project_id, call->project, &el->gen_identifier, 1);
		while (PtAccessIdentifierTaken(&call->acc, UUIDPGetDatum(call->project_id),
									   el->gen_identifier, c->snap) ||
			   hash_search(c->chunk_idents, el->gen_identifier, HASH_FIND, NULL));
	}
	return false;
}

/* The participant an update of old by el gives (the enrollment lock checked) */
static void
MergeUpdate(UpsertCall *call, Element *el, PtRecord *old)
{
	PtInput    *in = &el->in;
	PtRecord   *rec = &el->rec;

	if (!call->allow_update)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("%s matches an existing participant", ElementLabel(call, in)),
				 errdetail("Participant \"%s\" already exists and allow_update is false.",
						   old->participant_identifier),
				 errhint("Call with allow_update => true to update existing participants.")));
	*rec = *old;
	ApplyBody(rec, in);
	if (old->has_enrollment)
	{
		if (!StrEq(rec->demo[DEMO_EMAIL], old->demo[DEMO_EMAIL]))
			LockedError(in->path, "demographics.email");
		if (!StrEq(rec->demo[DEMO_MOBILE_PHONE], old->demo[DEMO_MOBILE_PHONE]))
			LockedError(in->path, "demographics.mobilePhone");
	}
	el->action = PtRecordsEqual(rec, old) ? ACT_NONE : ACT_UPDATE;
}

/* The participant an add by el makes */
static void
MakeAdd(UpsertCall *call, Element *el)
{
	PtInput    *in = &el->in;
	PtRecord   *rec = &el->rec;

	memset(rec, 0, sizeof(PtRecord));
	PtRandomUuid(&rec->id);
	rec->participant_identifier = in->has_identifier ? in->identifier : el->gen_identifier;
	if (call->project->link_identifiers)
	{
		pg_uuid_t	link;

		PtRandomUuid(&link);
		rec->link_identifier = UuidText(&link);
	}
	rec->inserted_date = GetCurrentTimestamp();
	ApplyBody(rec, in);
	el->action = ACT_ADD;
}

/*
 * Step 3: resolve, merge and check each element in order. Returns how many
 * elements this chunk takes (the rest start a new one).
 */
static int
ResolveChunk(UpsertCall *call, Chunk *c)
{
	int			i;

	for (i = 0; i < c->count; i++)
	{
		Element    *el = &c->els[i];
		PtRecord   *rec = &el->rec;
		const char *path = el->in.path;
		UuidEntry  *ue;

		el->target = FindTarget(c, &el->in);
		if (TouchesEarlierElement(call, c, el, el->target ? &el->target->rec : NULL))
			break;
		if (el->target != NULL)
			MergeUpdate(call, el, &el->target->rec);
		else
			MakeAdd(call, el);

		ue = hash_search(c->chunk_ids, &rec->id, HASH_ENTER, NULL);
		ue->idx = i;
		CheckUnique(c->db_idents, c->chunk_idents, rec->participant_identifier, &rec->id,
					path, "participantIdentifier", "participantIdentifier");
		CheckUnique(c->db_emails, c->chunk_emails,
					rec->demo[DEMO_EMAIL] ? LowerEmail(rec->demo[DEMO_EMAIL]) : NULL,
					&rec->id, path, "demographics.email", "email");
		CheckUnique(c->db_phones, c->chunk_phones, rec->demo[DEMO_MOBILE_PHONE], &rec->id,
					path, "demographics.mobilePhone", "mobilePhone");
		/* an erased person's email or phone (the guard trigger leaves it to us) */
		if (el->action == ACT_ADD)
			PtCheckTombstone(call->project_id, rec->demo[DEMO_EMAIL], rec->demo[DEMO_MOBILE_PHONE], path);
		else if (el->action == ACT_UPDATE)
			PtCheckTombstone(call->project_id,
							 (rec->demo[DEMO_EMAIL] == NULL || (el->target->rec.demo[DEMO_EMAIL] != NULL &&
															pg_strcasecmp(rec->demo[DEMO_EMAIL], el->target->rec.demo[DEMO_EMAIL]) == 0)) ?
							 NULL : rec->demo[DEMO_EMAIL],
							 StrEq(rec->demo[DEMO_MOBILE_PHONE], el->target->rec.demo[DEMO_MOBILE_PHONE]) ? NULL : rec->demo[DEMO_MOBILE_PHONE],
							 path);
	}
	return i;
}

/* Step 4, after the write: each element's result, and the counts */
static void
ReportChunk(UpsertCall *call, Chunk *c)
{
	int			i;

	for (i = 0; i < c->count; i++)
	{
		Element    *el = &c->els[i];
		const char *action = el->action == ACT_ADD ? "add" :
			el->action == ACT_UPDATE ? "update" : "none";

		if (call->report != NULL)
			call->report(call->report_arg, c->start + i, action, &el->rec);
		else if (call->out != NULL)
			PtBulkOutAddResult(call->out, action, &el->rec);
		else
		{
			Jsonb	   *res = PtActionResult(action, &el->rec);

			*call->single = MemoryContextAlloc(call->outcxt, VARSIZE(res));
			memcpy(*call->single, res, VARSIZE(res));
		}
		if (el->action == ACT_ADD)
			call->added++;
		else if (el->action == ACT_UPDATE)
			call->updated++;
	}
}

/*
 * Process the elements from start on: parse, look up, resolve and write one
 * chunk. Returns the index after the last element processed; on a unique
 * violation (*conflict set) nothing of the chunk is written and start is
 * returned, for the caller to redo it carefully.
 */
static int
ProcessChunk(UpsertCall *call, int start, bool careful, ErrorData **conflict)
{
	Chunk		c;
	Datum	   *keys[PT_NUM_KEYS];
	int			nkeys[PT_NUM_KEYS];

	memset(&c, 0, sizeof(c));
	c.start = start;
	c.count = Min(call->n, start + pt_bulk_batch_size) - start;
	c.els = palloc0(sizeof(Element) * c.count);

	ParseChunk(call, &c, careful, keys, nkeys);
	LookUpChunk(call, &c, keys, nkeys);
	c.count = ResolveChunk(call, &c);
	*conflict = WriteChunk(call->project_id, c.els, c.count, &call->acc, c.snap);
	UnregisterSnapshot(c.snap);
	if (*conflict != NULL)
		return start;
	/* the next chunk's lookups see this chunk's writes */
	CommandCounterIncrement();
	ReportChunk(call, &c);
	return start + c.count;
}

/*
 * Run the bodies through the chunks. A bulk call appends each element's
 * result to out; a single call gets its result in *single.
 */
static void
UpsertBodies(pg_uuid_t *project_id, JsonbContainer **bodies, int n, bool bulk,
			 bool allow_update, PtBulkOut *out, Jsonb **single, PtUpsertReport report,
			 void *report_arg, int *added, int *updated)
{
	UpsertCall	call;
	MemoryContext chunkcxt;
	int			next = 0;
	int			attempts = 0;

	memset(&call, 0, sizeof(call));
	call.project_id = project_id;
	call.bodies = bodies;
	call.n = n;
	call.bulk = bulk;
	call.allow_update = allow_update;
	call.out = out;
	call.single = single;
	call.report = report;
	call.report_arg = report_arg;
	call.outcxt = CurrentMemoryContext;

	/*
	 * Take the project's write lock before checking that the project exists:
	 * a project is deleted only under that lock in SHARE mode (see
	 * participants_project_guard), so it cannot vanish under this call. Then
	 * the participant write lock, before any row (doc/concurrency.md).
	 */
	PtLockProjectWrites(project_id, RowExclusiveLock);
	PtLockParticipantWrites(project_id, ShareLock);
	call.project = PtGetProject(project_id);
	PtAccessOpen(&call.acc, project_id, ACL_SELECT | ACL_INSERT | ACL_UPDATE, RowExclusiveLock);

	chunkcxt = AllocSetContextCreate(call.outcxt, "participants upsert chunk",
									 ALLOCSET_DEFAULT_SIZES);
	while (next < n)
	{
		MemoryContext old;
		ErrorData  *conflict = NULL;

		MemoryContextReset(chunkcxt);
		old = MemoryContextSwitchTo(chunkcxt);
		next = ProcessChunk(&call, next, attempts > 0, &conflict);
		MemoryContextSwitchTo(old);
		if (conflict == NULL)
			attempts = 0;
		else if (++attempts >= 4)
		{
			/* under REPEATABLE READ a redo sees the same snapshot: give up */
			MemoryContextSwitchTo(chunkcxt);
			ReThrowError(conflict);
		}
	}
	PtAccessClose(&call.acc);
	MemoryContextDelete(chunkcxt);
	*added = call.added;
	*updated = call.updated;
}

/* upsert_participant(project_id, participant) */
PT_API_FUNCTION(participants_upsert_participant)
{
	pg_uuid_t  *project_id;
	Jsonb	   *body;
	JsonbContainer *bodies[1];
	Jsonb	   *result = NULL;
	int			added = 0,
				updated = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null", PG_ARGISNULL(0) ? "project_id" : "participant")));
	project_id = PG_GETARG_UUID_P(0);
	body = PG_GETARG_JSONB_P(1);
	bodies[0] = &body->root;
	UpsertBodies(project_id, bodies, 1, false, true, NULL, &result, NULL, NULL, &added, &updated);
	PG_RETURN_JSONB_P(result);
}

/* upsert_participants(project_id, participants, allow_update) */
PT_API_FUNCTION(participants_upsert_participants)
{
	pg_uuid_t  *project_id;
	Jsonb	   *arg;
	JsonbContainer *array;
	bool		allow_update;
	JsonbContainer **bodies;
	PtBulkOut	out;
	int			n,
				i,
				added = 0,
				updated = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": null", PG_ARGISNULL(0) ? "project_id" : "participants")));
	project_id = PG_GETARG_UUID_P(0);
	arg = PG_GETARG_JSONB_P(1);
	allow_update = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);

	array = &arg->root;
	if (JsonContainerIsObject(array) && !JsonContainerIsScalar(array))
	{
		JsonbValue *inner;

		if (JsonContainerSize(array) != 1 ||
			(inner = getKeyJsonValueFromContainer(array, "participants", 12, NULL)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"participants\": an object must have the single key \"participants\""),
					 errhint("Send a JSON array of participants, or {\"participants\": [...]}.")));
		if (inner->type != jbvBinary || !JsonContainerIsArray(inner->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"participants\": expected an array")));
		array = inner->val.binary.data;
	}
	if (!JsonContainerIsArray(array) || JsonContainerIsScalar(array))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"participants\": expected an array"),
				 errhint("Send a JSON array of participants, or {\"participants\": [...]}.")));

	n = JsonContainerSize(array);
	bodies = palloc(sizeof(JsonbContainer *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		JsonbValue *el = getIthJsonbValueFromContainer(array, i);

		if (el->type != jbvBinary || !JsonContainerIsObject(el->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"participants[%d]\": expected a participant object, got %s",
							i, el->type == jbvBinary ? "an array" : PtJsonbTypeName(el))));
		bodies[i] = el->val.binary.data;
		pfree(el);
	}

	PtBulkOutBegin(&out, n);
	UpsertBodies(project_id, bodies, n, true, allow_update, &out, NULL, NULL, NULL, &added, &updated);
	PG_RETURN_JSONB_P(PtBulkOutFinish(&out, added, updated));
}

/*
 * Upsert bodies in order as upsert_participants does, keys named without an
 * element prefix, and report each element's action and participant to
 * report(arg, index, action, record) (import_participants)
 */
void
PtUpsertBodyList(pg_uuid_t *project_id, JsonbContainer **bodies, int n, bool allow_update,
				 PtUpsertReport report, void *arg)
{
	int			added,
				updated;

	UpsertBodies(project_id, bodies, n, false, allow_update, NULL, NULL, report, arg, &added, &updated);
}
