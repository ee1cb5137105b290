/*
 * records/audit.c
 *		The audit log (doc/lifecycle.md#audit): every change to a
 *		participant's data appends a row naming the action, the keys that
 *		changed (never their values), the acting role and the JWT's sub
 *		claim. Rows are written by the triggers below and by the functions
 *		that act on people (erasure, overrides), so raw SQL is audited as the
 *		API is. The log is append-only: audit_guard refuses UPDATE, DELETE
 *		and TRUNCATE for every role but while erase_participant or
 *		apply_retention work (pt_audit_maintenance). Also here: the guard of
 *		the tables only the database writes (lifecycle_guard), and audit_log.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "replication/logicalworker.h"

#include "records/records.h"
#include "study/study.h"

bool		pt_audit_maintenance = false;
bool		pt_erasing = false;
bool		pt_lifecycle_writing = false;

/* Set while PtAudit inserts: audit_guard lets only these in */
static bool writing_audit = false;

static Oid	audit_relid = InvalidOid;

static void
AuditRelidReset(Oid relid)
{
	if (relid == InvalidOid || relid == audit_relid)
		audit_relid = InvalidOid;
}

static Oid
AuditRelid(void)
{
	static bool registered = false;

	if (!registered)
	{
		PtCacheRegister(AuditRelidReset);
		registered = true;
	}
	if (!OidIsValid(audit_relid))
		audit_relid = PtTableRelid("audit");
	return audit_relid;
}

/* The sub claim of PostgREST's JWT (request.jwt.claims), or NULL */
static char *
JwtSub(void)
{
	JsonbValue *v = PtRequestValue("request.jwt.claims", "sub");

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return NULL;
}

/*
 * A UUID of version 7 (RFC 9562) for time t: 48 bits of Unix milliseconds,
 * the microseconds within the millisecond in the next 12 (so ids sort as
 * their times do, to the microsecond), then random bits. New audit rows go to
 * the right edge of the primary key, which serves audit_log's newest-first.
 */
static void
TimeOrderedUuid(TimestampTz t, pg_uuid_t *u)
{
	int64		us = t + ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
	uint64		ms = (uint64) (us / 1000);
	uint32		sub = (uint32) (us % 1000);
	int			i;

	PtRandomUuid(u);
	for (i = 0; i < 6; i++)
		u->data[i] = (uint8) (ms >> (8 * (5 - i)));
	u->data[6] = 0x70 | (uint8) ((sub >> 8) & 0x0f);
	u->data[7] = (uint8) (sub & 0xff);
}

/*
 * Append an audit row: action, the person ((Datum) 0 for none), the keys
 * that changed (a List of char *, may be NIL) and a reason (may be NULL).
 * The actor is the role the API call or the raw statement runs for.
 */
void
PtAudit(pg_uuid_t *project_id, const char *action, Datum person_id, List *keys,
		const char *reason)
{
	static const char *const cols[] = {
		"project_id", "id", "audit_date", "action", "person_id", "changed_keys",
		"actor_role", "jwt_sub", "reason"
	};
	Datum		values[9];
	bool		nulls[9];
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	char	   *role = GetUserNameFromId(PtCaller(), true);
	char	   *sub = JwtSub();
	TimestampTz now = GetCurrentTimestamp();

	TimeOrderedUuid(now, id);
	memset(nulls, 0, sizeof(nulls));
	values[0] = UUIDPGetDatum(project_id);
	values[1] = UUIDPGetDatum(id);
	values[2] = TimestampTzGetDatum(now);
	values[3] = CStringGetTextDatum(action);
	values[4] = person_id;
	nulls[4] = (person_id == (Datum) 0);
	if (keys != NIL)
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(keys));
		ListCell   *lc;
		int			n = 0;

		foreach(lc, keys)
			elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
		values[5] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
		nulls[5] = true;
	values[6] = role ? CStringGetTextDatum(role) : (Datum) 0;
	nulls[6] = (role == NULL);
	values[7] = sub ? CStringGetTextDatum(sub) : (Datum) 0;
	nulls[7] = (sub == NULL);
	values[8] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	nulls[8] = (reason == NULL);

	writing_audit = true;
	PG_TRY();
	{
		PtInsertRow(AuditRelid(), project_id, 9, cols, values, nulls);
	}
	PG_FINALLY();
	{
		writing_audit = false;
	}
	PG_END_TRY();
}

/* ------------------------------------------------------------------------
 * Guards
 * ------------------------------------------------------------------------
 */

/*
 * BEFORE row and TRUNCATE trigger on audit: INSERT only from PtAudit (or a
 * restore); UPDATE, DELETE and TRUNCATE only while erasure or retention work
 */
PT_TRIGGER_FUNCTION(participants_audit_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event))
		elog(ERROR, "audit_guard: must fire BEFORE");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (writing_audit || PtInRestore())
			return PointerGetDatum(td->tg_trigtuple);
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot insert into participants.audit: audit rows are written by the database"),
				 errhint("Every change to a participant writes its own audit row.")));
	}
	/* erasure and retention at work, here or (applied by a logical replica) on the publisher */
	if (pt_audit_maintenance || IsLogicalWorker())
		return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? PointerGetDatum(td->tg_newtuple) :
			PointerGetDatum(td->tg_trigtuple);

	/*
	 * On a cluster, participants.distribute() empties the coordinator's own
	 * copy of the rows it moved into the shards. The shards hold the log and
	 * this trigger, and keep refusing.
	 */
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) && PtDistributed() &&
		PtIsDistributedTable(RelationGetRelid(td->tg_relation)))
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("cannot %s participants.audit: the audit log is append-only",
					TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "update" :
					TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "delete from" : "truncate"),
			 errdetail("Audit rows are changed only by erase_participant (which strips what identifies the person) and removed only by apply_retention (retention.auditDays)."),
			 errhint("Set the project's retention.auditDays and call apply_retention to remove old rows.")));
	return (Datum) 0;
}

/* Whether the project's row is gone (deleted by this transaction's statement) */
static bool
ProjectGone(pg_uuid_t *project)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];

	args[0] = UUIDPGetDatum(project);
	return !PtRowExists(&plan, "SELECT 1 FROM participants.project WHERE id = $1", 1, types, args, NULL, false);
}

/*
 * BEFORE INSERT OR UPDATE row trigger of the tables only the database
 * writes (import, import_row, erasure, project_secret, status_archive), and
 * BEFORE DELETE of erasure
 */
PT_TRIGGER_FUNCTION(participants_lifecycle_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "lifecycle_guard: must fire BEFORE, FOR EACH ROW");
	if (pt_lifecycle_writing || (TRIGGER_FIRED_BY_INSERT(td->tg_event) && PtInRestore()))
		return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? PointerGetDatum(td->tg_newtuple) :
			PointerGetDatum(td->tg_trigtuple);
	table = get_rel_name(PtShellOf(RelationGetRelid(td->tg_relation)));
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		bool		isnull;
		pg_uuid_t  *project = DatumGetUUIDP(PtTupleCol(td->tg_trigtuple, RelationGetDescr(td->tg_relation),
													   "project_id", &isnull));

		/* an erasure receipt goes only with its project (the foreign key's cascade) */
		if (ProjectGone(project))
			return PointerGetDatum(td->tg_trigtuple);
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot delete from participants.%s: erasure receipts are kept", table),
				 errdetail("A receipt is the record that a person was erased, and its tombstone keeps them out."),
				 errhint("Call forget_erasure to let the email and phone be added again; the receipt stays.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("cannot %s participants.%s: its rows are written by the database",
					TRIGGER_FIRED_BY_INSERT(td->tg_event) ? "insert into" : "update", table),
			 errhint("%s",
					 strncmp(table, "import", 6) == 0 ? "Call import_participants." :
					 strcmp(table, "status_archive") == 0 ? "apply_retention archives the status history of the events it deletes." :
					 "Call erase_participant or forget_erasure.")));
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * What changed
 * ------------------------------------------------------------------------
 */

/* The participant's columns and their keys in the participant object */
typedef struct AuditCol
{
	const char *col;
	const char *key;
} AuditCol;

static const AuditCol participant_cols[] = {
	{"participant_identifier", "participantIdentifier"},
	{"invitation_status", "invitationStatus"},
	{"exclude_from_export", "excludeFromExport"},
	{"institution_code", "institutionCode"},
	{"enrollment_date", "enrollmentDate"},
	{"withdraw_date", "withdrawDate"},
	{"opted_out", "optedOut"},
};
#define N_PARTICIPANT_COLS lengthof(participant_cols)

static struct
{
	Oid			relid;
	int			att[N_PARTICIPANT_COLS];
	int			demo[NUM_DEMO];
	int			custom_fields;
	int			id;
	int			project_id;
} pcols;

static void
LoadParticipantCols(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (pcols.relid == RelationGetRelid(rel))
		return;
	for (i = 0; i < N_PARTICIPANT_COLS; i++)
		pcols.att[i] = SPI_fnumber(desc, participant_cols[i].col);
	for (i = 0; i < NUM_DEMO; i++)
		pcols.demo[i] = SPI_fnumber(desc, pt_demo_cols[i]);
	pcols.custom_fields = SPI_fnumber(desc, "custom_fields");
	pcols.id = SPI_fnumber(desc, "id");
	pcols.project_id = SPI_fnumber(desc, "project_id");
	pcols.relid = RelationGetRelid(rel);
}

/* Whether the attribute is set (not NULL; for a boolean, true) */
static bool
AttSet(HeapTuple t, TupleDesc desc, int att)
{
	bool		isnull;
	Datum		v = heap_getattr(t, att, desc, &isnull);

	if (isnull)
		return false;
	if (TupleDescAttr(desc, att - 1)->atttypid == BOOLOID)
		return DatumGetBool(v);
	if (TupleDescAttr(desc, att - 1)->atttypid == TEXTOID)
		return VARSIZE_ANY_EXHDR(DatumGetPointer(v)) > 0;
	return true;
}

/* The custom field value of key in object jb, or NULL */
static JsonbValue *
FieldValue(Jsonb *jb, const char *key, int len)
{
	if (jb == NULL)
		return NULL;
	return getKeyJsonValueFromContainer(&jb->root, key, len, NULL);
}

static bool
FieldEqual(JsonbValue *a, JsonbValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		default:
			{
				Jsonb	   *x = JsonbValueToJsonb(a);
				Jsonb	   *y = JsonbValueToJsonb(b);

				return VARSIZE(x) == VARSIZE(y) && memcmp(x, y, VARSIZE(x)) == 0;
			}
	}
}

/* Append "customFields.NAME" for each key of a that b lacks or holds another value for */
static List *
FieldKeysChanged(List *keys, Jsonb *a, Jsonb *b, bool both_ways)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbIteratorToken tok;

	if (a == NULL || !JB_ROOT_IS_OBJECT(a))
		return keys;
	it = JsonbIteratorInit(&a->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		{
			char	   *name = pnstrdup(k.val.string.val, k.val.string.len);
			JsonbValue *va = FieldValue(a, name, k.val.string.len);
			JsonbValue *vb = FieldValue(b, name, k.val.string.len);

			if (!both_ways && vb != NULL)
				continue;		/* the second pass lists only keys a has alone */
			if (!FieldEqual(va, vb))
				/* the custom field behind the participant object's secondaryIdentifier */
				keys = lappend(keys, strcmp(name, "SecondaryIdentifier") == 0 ? "secondaryIdentifier" :
							   psprintf("customFields.%s", name));
		}
	}
	return keys;
}

/* The keys of the participant object that differ between oldt and newt (either may be NULL) */
static List *
ParticipantKeysChanged(HeapTuple oldt, HeapTuple newt, TupleDesc desc)
{
	List	   *keys = NIL;
	int			i;
	bool		isnull;
	Jsonb	   *oldf = NULL,
			   *newf = NULL;

	for (i = 0; i < NUM_DEMO; i++)
		if (PtAttChanged(oldt, newt, desc, pcols.demo[i]))
			keys = lappend(keys, psprintf("demographics.%s", pt_demo_keys[i]));
	for (i = 0; i < N_PARTICIPANT_COLS; i++)
	{
		if (oldt == NULL && !AttSet(newt, desc, pcols.att[i]))
			continue;
		if (PtAttChanged(oldt, newt, desc, pcols.att[i]))
			keys = lappend(keys, (char *) participant_cols[i].key);
	}
	if (oldt != NULL)
	{
		Datum		d = heap_getattr(oldt, pcols.custom_fields, desc, &isnull);

		oldf = isnull ? NULL : DatumGetJsonbP(d);
	}
	if (newt != NULL)
	{
		Datum		d = heap_getattr(newt, pcols.custom_fields, desc, &isnull);

		newf = isnull ? NULL : DatumGetJsonbP(d);
	}
	if (oldt == NULL || PtAttChanged(oldt, newt, desc, pcols.custom_fields))
	{
		keys = FieldKeysChanged(keys, newf, oldf, true);
		keys = FieldKeysChanged(keys, oldf, newf, false);
	}
	return keys;
}

static bool
AttBecameSet(HeapTuple oldt, HeapTuple newt, TupleDesc desc, const char *col)
{
	int			att = SPI_fnumber(desc, col);

	return !AttSet(oldt, desc, att) && AttSet(newt, desc, att);
}

static void
AuditParticipant(TriggerData *td, pg_uuid_t *project_id)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	oldt = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? NULL : td->tg_trigtuple;
	HeapTuple	newt = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? td->tg_trigtuple :
		TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : NULL;
	HeapTuple	t = newt ? newt : oldt;
	bool		isnull;
	Datum		person = heap_getattr(t, pcols.id, desc, &isnull);
	const char *action;
	List	   *keys;

	if (newt == NULL)
	{
		PtAudit(project_id, "delete", person, NIL, NULL);
		return;
	}
	keys = ParticipantKeysChanged(oldt, newt, desc);
	if (oldt == NULL)
		action = "add";
	else if (keys == NIL)
		return;					/* nothing the participant object shows changed */
	else if (AttBecameSet(oldt, newt, desc, "withdraw_date"))
		action = "withdraw";
	else if (AttBecameSet(oldt, newt, desc, "enrollment_date"))
		action = "enroll";
	else if (PtAttChanged(oldt, newt, desc, SPI_fnumber(desc, "opted_out")))
		action = AttSet(newt, desc, SPI_fnumber(desc, "opted_out")) ? "optOut" : "optIn";
	else
		action = "update";
	PtAudit(project_id, action, person, keys, NULL);
}

/* Whether every element of text array a is in text array b */
static bool
TextArrayContained(ArrayType *a, ArrayType *b)
{
	Datum	   *ae,
			   *be;
	bool	   *an,
			   *bn;
	int			na,
				nb,
				i,
				j;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &ae, &an, &na);
	deconstruct_array(b, TEXTOID, -1, false, TYPALIGN_INT, &be, &bn, &nb);
	for (i = 0; i < na; i++)
	{
		bool		found = false;

		for (j = 0; j < nb && !found; j++)
			found = !an[i] && !bn[j] &&
				VARSIZE_ANY_EXHDR(DatumGetPointer(ae[i])) == VARSIZE_ANY_EXHDR(DatumGetPointer(be[j])) &&
				memcmp(VARDATA_ANY(DatumGetPointer(ae[i])), VARDATA_ANY(DatumGetPointer(be[j])),
					   VARSIZE_ANY_EXHDR(DatumGetPointer(ae[i]))) == 0;
		if (!found)
			return false;
	}
	return true;
}

static void
AuditConsent(TriggerData *td, pg_uuid_t *project_id)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	t = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	bool		isnull;
	Datum		person = PtTupleCol(t, desc, "participant_id", &isnull);
	char	   *name = TextDatumGetCString(PtTupleCol(t, desc, "name", &isnull));
	const char *action = "consentGrant";

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		action = "consentWithdraw";
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		ArrayType  *before = DatumGetArrayTypeP(PtTupleCol(td->tg_trigtuple, desc, "scopes", &isnull));
		ArrayType  *after = DatumGetArrayTypeP(PtTupleCol(t, desc, "scopes", &isnull));

		/* fewer scopes than before, of the same version: a withdrawal */
		if (!PtTupleColChanged(td->tg_trigtuple, t, desc, "version") &&
			!TextArrayContained(before, after))
			action = "consentWithdraw";
		else if (!PtTupleColChanged(td->tg_trigtuple, t, desc, "version") &&
				 !PtTupleColChanged(td->tg_trigtuple, t, desc, "scopes"))
			return;
	}
	PtAudit(project_id, action, person, list_make1(psprintf("consents.%s", name)), NULL);
}

static void
AuditIncentive(TriggerData *td, pg_uuid_t *project_id)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	t = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	bool		isnull,
				reason_null;
	Datum		person = PtTupleCol(t, desc, "participant_id", &isnull);
	Datum		reason = PtTupleCol(t, desc, "override_reason", &reason_null);
	List	   *keys = NIL;
	static const char *const cols[][2] = {
		{"amount", "amount"}, {"currency", "currency"}, {"status", "status"},
		{"external_id", "externalID"}, {"note", "note"}
	};
	int			i;

	for (i = 0; i < lengthof(cols); i++)
		if (TRIGGER_FIRED_BY_INSERT(td->tg_event) ? !(PtTupleCol(t, desc, cols[i][0], &isnull), isnull) :
			PtTupleColChanged(td->tg_trigtuple, t, desc, cols[i][0]))
			keys = lappend(keys, psprintf("incentives.%s", cols[i][1]));
	if (keys == NIL && !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		return;
	PtAudit(project_id, "incentive", person, keys, NULL);
	if (!reason_null && (TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
						 PtTupleColChanged(td->tg_trigtuple, t, desc, "override_reason")))
		PtAudit(project_id, "incentiveOverride", person, list_make1("incentiveYearlyLimit"),
				TextDatumGetCString(reason));
}

/* Whether a segment is static (memberships of dynamic ones are kept by the database) */
static bool
SegmentIsStatic(pg_uuid_t *project_id, Datum segment_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Datum		kind;
	bool		isnull;
	bool		is_static;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = segment_id;
	SPI_connect();
	is_static = PtRunValue(&plan, "SELECT kind = 'static' FROM participants.segment WHERE project_id = $1 AND id = $2",
						   2, types, args, NULL, true, &kind, &isnull) && !isnull && DatumGetBool(kind);
	SPI_finish();
	return is_static;
}

static void
AuditMembership(TriggerData *td, pg_uuid_t *project_id)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	t = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	bool		isnull;
	Datum		person = PtTupleCol(t, desc, "participant_id", &isnull);
	Datum		segment = PtTupleCol(t, desc, "segment_id", &isnull);
	const char *action;

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		action = "membershipAdd";
	else if (PtTupleColChanged(td->tg_trigtuple, t, desc, "remove_date") &&
			 !(PtTupleCol(t, desc, "remove_date", &isnull), isnull))
		action = "membershipRemove";
	else
		return;
	/* the nil uuid marks a dynamic segment's rebuild (segment_recheck) */
	if (memcmp(DatumGetUUIDP(person)->data, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", UUID_LEN) == 0)
		return;
	if (!SegmentIsStatic(project_id, segment))
		return;
	PtAudit(project_id, action, person,
			list_make1(psprintf("segments.%s", PtUuidText(DatumGetUUIDP(segment)))), NULL);
}

/*
 * AFTER row trigger on participant, participant_consent, incentive and
 * segment_membership: the audit row of each change. Nothing while
 * erase_participant removes the person (it writes one erase row), and
 * nothing for a restore.
 */
/* Which table a trigger fires on (its shard's shell on a cluster), cached by relation */
typedef enum AuditTable
{
	AT_UNKNOWN = 0,
	AT_PARTICIPANT,
	AT_CONSENT,
	AT_INCENTIVE,
	AT_MEMBERSHIP
} AuditTable;

#define AUDIT_RELS 16
static struct
{
	Oid			relid;
	AuditTable	table;
} audit_rels[AUDIT_RELS];

static void
AuditRelsReset(Oid relid)
{
	memset(audit_rels, 0, sizeof(audit_rels));
	pcols.relid = InvalidOid;
}

static AuditTable
TableOf(Relation rel)
{
	static bool registered = false;
	Oid			relid = RelationGetRelid(rel);
	const char *name;
	AuditTable	table;
	int			i;

	if (!registered)
	{
		PtCacheRegister(AuditRelsReset);
		registered = true;
	}
	for (i = 0; i < AUDIT_RELS && OidIsValid(audit_rels[i].relid); i++)
		if (audit_rels[i].relid == relid)
			return audit_rels[i].table;
	name = get_rel_name(PtShellOf(relid));
	table = strcmp(name, "participant") == 0 ? AT_PARTICIPANT :
		strcmp(name, "participant_consent") == 0 ? AT_CONSENT :
		strcmp(name, "incentive") == 0 ? AT_INCENTIVE :
		strcmp(name, "segment_membership") == 0 ? AT_MEMBERSHIP : AT_UNKNOWN;
	if (table == AT_UNKNOWN)
		elog(ERROR, "audit_participant: not a trigger of table %s", name);
	if (i < AUDIT_RELS)
	{
		audit_rels[i].relid = relid;
		audit_rels[i].table = table;
	}
	return table;
}

/*
 * Row trigger on participant (BEFORE: the row as it will be written, without
 * the after-trigger queue), participant_consent, incentive and
 * segment_membership (AFTER): the audit row of each change. Nothing while
 * erase_participant removes the person (it writes one erase row), and
 * nothing for a restore.
 */
PT_TRIGGER_FUNCTION(participants_audit_participant)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple	t;
	bool		isnull;
	pg_uuid_t  *project_id;
	Datum		done;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "audit_participant: must fire FOR EACH ROW");
	t = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	done = TRIGGER_FIRED_BEFORE(td->tg_event) ? PointerGetDatum(t) : PointerGetDatum(NULL);
	if (pt_erasing || PtInRestore())
		return done;
	project_id = DatumGetUUIDP(PtTupleCol(t, RelationGetDescr(td->tg_relation), "project_id", &isnull));

	switch (TableOf(td->tg_relation))
	{
		case AT_PARTICIPANT:
			LoadParticipantCols(td->tg_relation);
			AuditParticipant(td, project_id);
			break;
		case AT_CONSENT:
			AuditConsent(td, project_id);
			break;
		case AT_INCENTIVE:
			AuditIncentive(td, project_id);
			break;
		case AT_MEMBERSHIP:
			AuditMembership(td, project_id);
			break;
		default:
			break;
	}
	return done;
}

/* ------------------------------------------------------------------------
 * audit_log
 * ------------------------------------------------------------------------
 */

/* audit_log(project_id, participant, since, page_number, page_size, by) */
PT_API_FUNCTION(participants_audit_log)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	int32		page_number = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT32(3);
	int32		page_size = PG_ARGISNULL(4) ? 20 : PG_GETARG_INT32(4);
	Oid			types[6] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, INT4OID, INT4OID, INT8OID};
	Datum		args[6];
	char		nulls[7] = "      ";

	PtNotNull(fcinfo, 0, "project_id");
	PtCheckPaging(page_number, page_size, "entries");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = (Datum) 0;
	nulls[1] = 'n';
	if (!PG_ARGISNULL(1))
	{
		if (PtByArg(fcinfo, 5) == PT_KEY_ID)
		{
			/* by id: a deleted participant's rows too */
			pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

			PtParseUuid(text_to_cstring(PG_GETARG_TEXT_PP(1)), "participant", id);
			args[1] = UUIDPGetDatum(id);
		}
		else
			args[1] = UUIDPGetDatum(PtPersonBy(project_id, fcinfo, 1, 5));
		nulls[1] = ' ';
	}
	args[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	args[3] = Int32GetDatum(page_number);
	args[4] = Int32GetDatum(page_size);
	args[5] = Int64GetDatum((int64) page_number * page_size);
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan,
									   "SELECT pg_catalog.jsonb_build_object('pageNumber', $4, 'pageSize', $5, "
									   "'totalEntries', (SELECT pg_catalog.count(*) FROM participants.audit a "
									   "WHERE a.project_id = $1 AND ($2::uuid IS NULL OR a.person_id = $2) "
									   "AND ($3::timestamptz IS NULL OR a.audit_date >= $3)), "
									   "'entries', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
									   "'auditID', a.id, 'date', a.audit_date, 'action', a.action, 'personId', a.person_id, "
									   "'changedKeys', coalesce(pg_catalog.to_jsonb(a.changed_keys), '[]'), "
									   "'actor', pg_catalog.jsonb_build_object('role', a.actor_role, 'jwtSub', a.jwt_sub), "
									   "'reason', a.reason) ORDER BY a.id DESC) FROM ("
									   "SELECT * FROM participants.audit a WHERE a.project_id = $1 "
									   "AND ($2::uuid IS NULL OR a.person_id = $2) "
									   "AND ($3::timestamptz IS NULL OR a.audit_date >= $3) "
									   "ORDER BY a.id DESC LIMIT $5 OFFSET $6) a), '[]'))",
									   6, types, args, nulls, true));
}
