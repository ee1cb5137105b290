/*
 * governance/consent.c
 *		Consent (doc/governance.md): define_consent, record_consent,
 *		withdraw_consent, participant_consents, and the triggers that hold
 *		raw SQL to the same rules.
 *
 *		A participant's consent now is one row of participant_consent per
 *		consent name (the version granted and the scopes still granted).
 *		Its trigger does the rest for every writer: a grant holds only
 *		scopes of its version; every change is recorded in consent_history
 *		with a consent.changed event; and a change that leaves a study's
 *		required consent unmet cancels the participant's open statuses in
 *		that study (status.c, PtCancelForConsent). The API functions only
 *		resolve names, check arguments, and tell the trigger what the call
 *		was (ConsentCall: the action, its scopes, method, evidence, reason).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "governance/governance.h"
#include "records/records.h"

#define MAX_SCOPE_LEN 100
#define MAX_SCOPES 100
#define MAX_TEXT_LEN 2000

/* What record_consent or withdraw_consent is doing, for the trigger */
static struct
{
	bool		active;
	const char *action;			/* "grant" or "withdraw" */
	ArrayType  *scopes;			/* granted or withdrawn */
	const char *method;
	Jsonb	   *evidence;
	const char *reason;
} call;

/* Set while the trigger writes history: consent_history_guard lets only these in */
static bool writing_history = false;

/* ------------------------------------------------------------------------
 * Scopes
 * ------------------------------------------------------------------------
 */

/* The elements of a text[] as C strings */
static int
ArrayStrings(ArrayType *arr, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		(*out)[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return n;
}

static bool
HasString(char **list, int n, const char *s)
{
	int			i;

	for (i = 0; i < n; i++)
		if (list[i] != NULL && strcmp(list[i], s) == 0)
			return true;
	return false;
}

static int
CompareStrings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A text[] of the strings, sorted, without repeats */
static ArrayType *
StringArray(char **list, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i,
				m = 0;

	qsort(list, n, sizeof(char *), CompareStrings);
	for (i = 0; i < n; i++)
		if (m == 0 || strcmp(list[i], TextDatumGetCString(d[m - 1])) != 0)
			d[m++] = CStringGetTextDatum(list[i]);
	return construct_array(d, m, TEXTOID, -1, false, TYPALIGN_INT);
}

/* 22023 unless scopes is a list of scope names (key names the argument) */
static void
CheckScopeNames(ArrayType *arr, const char *key, bool need_one)
{
	char	  **s;
	int			n = ArrayStrings(arr, &s);
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": expected a one-dimensional array", key)));
	if (need_one && n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": at least one scope is needed", key),
				 errhint("Scopes name what the participant agrees to, e.g. {contact,data_sharing}.")));
	if (n > MAX_SCOPES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": at most %d scopes", key, MAX_SCOPES)));
	for (i = 0; i < n; i++)
	{
		if (s[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"%s\": element %d is null", key, i + 1)));
		if (s[i][0] == '\0' || strlen(s[i]) > MAX_SCOPE_LEN || strpbrk(s[i], " \t\r\n") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"%s\": \"%s\" is not a scope name", key, s[i]),
					 errhint("A scope is 1 to %d characters without spaces.", MAX_SCOPE_LEN)));
		if (HasString(s, i, s[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"%s\": \"%s\" is named twice", key, s[i])));
	}
}

/*
 * The scopes of version "version" of consent "name" (latest when version is
 * 0, which then becomes it); NULL when there is none. Inside SPI.
 */
static ArrayType *
VersionScopes(Datum project_id, const char *name, int *version)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, TEXTOID, INT4OID};
	Datum		args[3];
	bool		isnull;

	args[0] = project_id;
	args[1] = CStringGetTextDatum(name);
	args[2] = Int32GetDatum(*version);
	if (plan == NULL)
		PtPreparePlan(&plan, "SELECT c.scopes, c.version FROM participants.consent c "
					  "WHERE c.project_id = $1 AND c.name = $2 AND ($3 = 0 OR c.version = $3) "
					  "ORDER BY c.version DESC LIMIT 1", 3, types);
	if (PtExecutePlan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read consent versions");
	if (SPI_processed == 0)
		return NULL;
	*version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/* The strings, comma-separated, for a message */
static char *
JoinStrings(char **list, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", list[i] ? list[i] : "null");
	return buf.data;
}

/* 22023 unless every scope in "scopes" is one of the version's */
static void
CheckScopesOf(ArrayType *scopes, ArrayType *of, const char *name, int version, const char *key)
{
	char	  **s,
			  **o;
	int			n = ArrayStrings(scopes, &s);
	int			no = ArrayStrings(of, &o);
	int			i;

	for (i = 0; i < n; i++)
		if (s[i] == NULL || !HasString(o, no, s[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"%s\": %s is not a scope of consent \"%s\" version %d",
							key, s[i] ? psprintf("\"%s\"", s[i]) : "null", name, version),
					 errhint("Its scopes: %s.", JoinStrings(o, no))));
}

/* ------------------------------------------------------------------------
 * Triggers
 * ------------------------------------------------------------------------
 */

/* BEFORE INSERT OR UPDATE row trigger on consent */
PT_TRIGGER_FUNCTION(participants_consent_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	bool		isnull;
	Datum		d;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "consent_guard: must fire BEFORE, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	newt = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (PtInRestore())
		return PointerGetDatum(newt);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		static const char *const fixed[] = {"project_id", "id", "name", "version", "scopes", "text_sha256", "created_date"};
		int			i;

		for (i = 0; i < (int) lengthof(fixed); i++)
			if (PtTupleColChanged(td->tg_trigtuple, newt, desc, fixed[i]))
				ereport(ERROR,
						(errcode(ERRCODE_PT_CONFLICT),
						 errmsg("a consent version is never changed (column %s)", fixed[i]),
						 errhint("define_consent defines the next version.")));
		return PointerGetDatum(newt);
	}
	d = PtTupleCol(newt, desc, "scopes", &isnull);
	if (!isnull)
		CheckScopeNames(DatumGetArrayTypeP(d), "scopes", true);
	return PointerGetDatum(newt);
}

/* BEFORE INSERT OR UPDATE row trigger on consent_history: see writing_history */
PT_TRIGGER_FUNCTION(participants_consent_history_guard)
{
	return PtDatabaseRowsOnly(fcinfo, "consent_history_guard", writing_history || PtInRestore(),
							  "consent history is recorded by the database",
							  "Every change of participants.participant_consent records its history; only a restore loads history.",
							  "Record and withdraw consent with record_consent and withdraw_consent.");
}

/* BEFORE INSERT OR UPDATE row trigger on study_consent */
PT_TRIGGER_FUNCTION(participants_study_consent_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	bool		n1,
				n2,
				n3,
				n4;
	Datum		project_id,
				name,
				version,
				scopes;
	ArrayType  *of;
	int			v;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "study_consent_guard: must fire BEFORE, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	newt = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (PtInRestore())
		return PointerGetDatum(newt);
	project_id = PtTupleCol(newt, desc, "project_id", &n1);
	name = PtTupleCol(newt, desc, "name", &n2);
	version = PtTupleCol(newt, desc, "min_version", &n3);
	scopes = PtTupleCol(newt, desc, "scopes", &n4);
	if (n1 || n2 || n3 || n4)
		return PointerGetDatum(newt);	/* NOT NULL says so */
	CheckScopeNames(DatumGetArrayTypeP(scopes), "scopes", false);
	v = DatumGetInt32(version);
	SPI_connect();
	of = VersionScopes(project_id, TextDatumGetCString(name), &v);
	if (of != NULL && v == DatumGetInt32(version))
		CheckScopesOf(DatumGetArrayTypeP(scopes), of, TextDatumGetCString(name), v, "scopes");
	SPI_finish();
	/* no such version: the foreign key says so */
	return PointerGetDatum(newt);
}

/* Write the history row and the consent.changed event of a change */
static void
RecordChange(Datum project_id, Datum person_id, const char *name, const char *action,
			 int version, ArrayType *scopes)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[9] = {UUIDOID, UUIDOID, TEXTOID, TEXTOID, INT4OID, TEXTARRAYOID, TEXTOID, JSONBOID, TEXTOID};
	Datum		args[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		with_call = call.active;
	Oid			save_userid;
	int			save_sec;
	TimestampTz at = GetCurrentTimestamp();
	JsonbParseState *state = NULL;
	JsonbValue	v;
	char	  **s;
	int			n,
				i;

	args[0] = project_id;
	args[1] = person_id;
	args[2] = CStringGetTextDatum(name);
	args[3] = CStringGetTextDatum(action);
	args[4] = Int32GetDatum(version);
	args[5] = PointerGetDatum(scopes);
	args[6] = with_call && call.method ? CStringGetTextDatum(call.method) : (Datum) 0;
	args[7] = with_call && call.evidence ? JsonbPGetDatum(call.evidence) : (Datum) 0;
	args[8] = with_call && call.reason ? CStringGetTextDatum(call.reason) : (Datum) 0;
	for (i = 6; i < 9; i++)
		nulls[i] = args[i] == (Datum) 0 ? 'n' : ' ';
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.consent_history (project_id, participant_id, name, "
					  "number, action, version, scopes, method, evidence, reason, created_date) "
					  "SELECT $1, $2, $3, COALESCE((SELECT pg_catalog.max(h.number) FROM participants.consent_history h "
					  "WHERE h.project_id = $1 AND h.participant_id = $2 AND h.name = $3), 0) + 1, "
					  "$4, $5, $6, $7, $8, $9, pg_catalog.statement_timestamp()", 9, types);
	/* as the owner: a raw writer only reads this table */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	writing_history = true;
	PG_TRY();
	{
		/* the latest snapshot: the row lock on participant_consent orders the numbers */
		if (SPI_execute_snapshot(plan, args, nulls, GetLatestSnapshot(), InvalidSnapshot,
								 false, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the consent history");
	}
	PG_FINALLY();
	{
		writing_history = false;
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	SPI_finish();

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushString(&state, "eventType", "consent.changed");
	PtPushString(&state, "personId", PtUuidText(DatumGetUUIDP(person_id)));
	PtPushString(&state, "name", name);
	PtPushNumber(&state, "version", version);
	PtPushKey(&state, "scopes");
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	n = ArrayStrings(scopes, &s);
	for (i = 0; i < n; i++)
	{
		v.type = jbvString;
		v.val.string.val = s[i];
		v.val.string.len = strlen(s[i]);
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	PtPushString(&state, "action", action);
	PtPushString(&state, "updatedAt", JsonEncodeDateTime(NULL, TimestampTzGetDatum(at), TIMESTAMPTZOID, NULL));
	PtWritePersonEvent(DatumGetUUIDP(project_id), "consent.changed", person_id,
					   JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)), at);
}

/* Whether the participant row still exists (a DELETE cascading from it: no) */
static bool
PersonExists(Datum project_id, Datum person_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	args[0] = project_id;
	args[1] = person_id;
	return PtRowExists(&plan, "SELECT 1 FROM participants.participant WHERE project_id = $1 AND id = $2",
					   2, types, args, NULL, false);
}

/*
 * participant_consent: BEFORE INSERT OR UPDATE, the grant's scopes are of
 * its version (sorted, once each); AFTER INSERT, UPDATE or DELETE, the
 * history, the event, and the cancellations a withdrawal causes
 */
PT_TRIGGER_FUNCTION(participants_participant_consent_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newt;
	bool		isnull;
	Datum		project_id,
				person_id;
	char	   *name;
	int			version;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "participant_consent_guard: must fire FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	newt = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	if (PtInRestore())
		return TRIGGER_FIRED_BEFORE(td->tg_event) ? PointerGetDatum(newt) : PointerGetDatum(NULL);
	/* an erasure removes the grants with everything else: no history, event or cancellation */
	if (pt_erasing && TRIGGER_FIRED_AFTER(td->tg_event) && TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BEFORE(td->tg_event))
	{
		Datum		scopes;
		ArrayType  *of;
		char	  **s;
		int			n,
					v;
		bool		n1,
					n2,
					n3,
					n4;
		int			cols[2];
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
			return PointerGetDatum(td->tg_trigtuple);
		project_id = PtTupleCol(newt, desc, "project_id", &n1);
		name = NULL;
		(void) PtTupleCol(newt, desc, "name", &n2);
		version = DatumGetInt32(PtTupleCol(newt, desc, "version", &n3));
		scopes = PtTupleCol(newt, desc, "scopes", &n4);
		if (n1 || n2 || n3 || n4)
			return PointerGetDatum(newt);	/* NOT NULL says so */
		name = TextDatumGetCString(PtTupleCol(newt, desc, "name", &isnull));
		/* record_consent adds scopes to those held: the same may come twice */
		if (!call.active)
			CheckScopeNames(DatumGetArrayTypeP(scopes), "scopes", false);
		v = version;
		SPI_connect();
		of = VersionScopes(project_id, name, &v);
		if (of != NULL && v == version)
			CheckScopesOf(DatumGetArrayTypeP(scopes), of, name, version, "scopes");
		SPI_finish();
		n = ArrayStrings(DatumGetArrayTypeP(scopes), &s);
		cols[0] = SPI_fnumber(desc, "scopes");
		values[0] = PointerGetDatum(StringArray(s, n));
		cols[1] = SPI_fnumber(desc, "updated_date");
		values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
		return PointerGetDatum(heap_modify_tuple_by_cols(newt, desc, 2, cols, values, nulls));
	}

	/* AFTER */
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		HeapTuple	oldt = td->tg_trigtuple;

		project_id = PtTupleCol(oldt, desc, "project_id", &isnull);
		person_id = PtTupleCol(oldt, desc, "participant_id", &isnull);
		name = TextDatumGetCString(PtTupleCol(oldt, desc, "name", &isnull));
		if (!PersonExists(project_id, person_id))
			return PointerGetDatum(NULL);	/* the participant is being deleted */
		RecordChange(project_id, person_id, name, "withdraw",
					 DatumGetInt32(PtTupleCol(oldt, desc, "version", &isnull)),
					 DatumGetArrayTypeP(PtTupleCol(oldt, desc, "scopes", &isnull)));
		PtCancelForConsent(project_id, person_id, name);
		return PointerGetDatum(NULL);
	}
	project_id = PtTupleCol(newt, desc, "project_id", &isnull);
	person_id = PtTupleCol(newt, desc, "participant_id", &isnull);
	name = TextDatumGetCString(PtTupleCol(newt, desc, "name", &isnull));
	version = DatumGetInt32(PtTupleCol(newt, desc, "version", &isnull));
	if (call.active)
		RecordChange(project_id, person_id, name, call.action, version, call.scopes);
	else
	{
		/* raw SQL: what changed */
		char	  **ns,
				  **os = NULL;
		int			nn,
					no = 0,
					i,
					na = 0,
					nr = 0;
		char	  **added,
				  **removed;
		bool		same_version = false;

		nn = ArrayStrings(DatumGetArrayTypeP(PtTupleCol(newt, desc, "scopes", &isnull)), &ns);
		if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		{
			no = ArrayStrings(DatumGetArrayTypeP(PtTupleCol(td->tg_trigtuple, desc, "scopes", &isnull)), &os);
			same_version = DatumGetInt32(PtTupleCol(td->tg_trigtuple, desc, "version", &isnull)) == version;
		}
		added = palloc(sizeof(char *) * Max(nn, 1));
		removed = palloc(sizeof(char *) * Max(no, 1));
		for (i = 0; i < nn; i++)
			if (!same_version || !HasString(os, no, ns[i]))
				added[na++] = ns[i];
		for (i = 0; i < no; i++)
			if (same_version && !HasString(ns, nn, os[i]))
				removed[nr++] = os[i];
		if (nr > 0 && na == 0)
			RecordChange(project_id, person_id, name, "withdraw", version, StringArray(removed, nr));
		else
			RecordChange(project_id, person_id, name, "grant", version,
						 na > 0 ? StringArray(added, na) : StringArray(ns, nn));
	}
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		PtCancelForConsent(project_id, person_id, name);
	return PointerGetDatum(NULL);
}

/* ------------------------------------------------------------------------
 * The functions
 * ------------------------------------------------------------------------
 */

/* The consent state of (participant, name), $1 project, $2 participant, $3 name */
#define STATE_JSON \
	"pg_catalog.jsonb_build_object('name', pc.name, 'version', pc.version, " \
	"'latestVersion', (SELECT pg_catalog.max(c.version) FROM participants.consent c " \
	"WHERE c.project_id = $1 AND c.name = pc.name), " \
	"'scopes', pg_catalog.to_jsonb(pc.scopes), 'grantedDate', pc.granted_date, " \
	"'history', COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(" \
	"'action', h.action, 'version', h.version, 'scopes', pg_catalog.to_jsonb(h.scopes), " \
	"'date', h.created_date, 'method', h.method, 'reason', h.reason, 'evidence', h.evidence) ORDER BY h.number) " \
	"FROM participants.consent_history h WHERE h.project_id = $1 " \
	"AND h.participant_id = $2 AND h.name = pc.name), '[]'))"

static Jsonb *
ConsentState(pg_uuid_t *project_id, pg_uuid_t *person, const char *name)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {UUIDOID, UUIDOID, TEXTOID};
	Datum		args[3];

	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	args[2] = CStringGetTextDatum(name);
	return PtJsonbStatement(&plan, "SELECT " STATE_JSON " FROM participants.participant_consent pc "
							"WHERE pc.project_id = $1 AND pc.participant_id = $2 AND pc.name = $3",
							3, types, args, NULL, false);
}

/* Run the call's write of participant_consent (inside SPI); the call ends with it */
static void
WriteForCall(SPIPlanPtr plan, Datum *args, int expected)
{
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, NULL, false, 0) != expected)
			elog(ERROR, "could not write the participant's consent");
	}
	PG_FINALLY();
	{
		memset(&call, 0, sizeof(call));
	}
	PG_END_TRY();
}

static void
ConsentNotFound(const char *name, int version)
{
	if (version > 0)
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("consent \"%s\" version %d not found", name, version)));
	ereport(ERROR,
			(errcode(ERRCODE_PT_NOT_FOUND),
			 errmsg("consent \"%s\" not found", name),
			 errhint("define_consent defines a consent.")));
}

/* A text argument of at most max characters, or NULL */
static char *
OptionalText(FunctionCallInfo fcinfo, int arg, const char *key, int max)
{
	char	   *s;

	if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
		return NULL;
	s = text_to_cstring(PG_GETARG_TEXT_PP(arg));
	if (strlen(s) > (size_t) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"%s\": longer than %d characters", key, max)));
	return s;
}

/* define_consent(project_id, name, scopes, text_sha256, description) */
PT_API_FUNCTION(participants_define_consent)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr get = NULL;
	pg_uuid_t  *project_id;
	char	   *name;
	char	   *sha = NULL;
	Oid			types[5] = {UUIDOID, TEXTOID, TEXTARRAYOID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Datum		v;
	bool		isnull;
	int			attempt;
	bool		made = false;
	pg_uuid_t	id;
	Oid			gtypes[2] = {UUIDOID, UUIDOID};
	Datum		gargs[2];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "name");
	PtNotNull(fcinfo, 2, "scopes");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	name = PtCheckName(PG_GETARG_TEXT_PP(1), "consent");
	CheckScopeNames(PG_GETARG_ARRAYTYPE_P(2), "scopes", true);
	if (!PG_ARGISNULL(3))
	{
		int			i;

		sha = text_to_cstring(PG_GETARG_TEXT_PP(3));
		for (i = 0; sha[i]; i++)
			sha[i] = pg_ascii_tolower((unsigned char) sha[i]);
		if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"text_sha256\": expected 64 hexadecimal digits"),
					 errhint("Pass the SHA-256 of the consent document's text, e.g. from sha256sum.")));
	}
	args[0] = UUIDPGetDatum(project_id);
	args[1] = CStringGetTextDatum(name);
	args[2] = PG_GETARG_DATUM(2);
	args[3] = sha ? CStringGetTextDatum(sha) : (Datum) 0;
	nulls[3] = sha ? ' ' : 'n';
	{
		char	   *desc = OptionalText(fcinfo, 4, "description", MAX_TEXT_LEN);

		args[4] = desc ? CStringGetTextDatum(desc) : (Datum) 0;
		nulls[4] = desc ? ' ' : 'n';
	}
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.consent (project_id, name, version, scopes, text_sha256, description) "
					  "SELECT $1, $2, COALESCE((SELECT pg_catalog.max(c.version) FROM participants.consent c "
					  "WHERE c.project_id = $1 AND c.name = $2), 0) + 1, $3, $4, $5 "
					  "ON CONFLICT (project_id, name, version) DO NOTHING RETURNING id", 5, types);
	/* two calls for one name: the second waits for the first, then takes the next version */
	for (attempt = 0; attempt < 100 && !made; attempt++)
	{
		if (PtRunValue(&plan, NULL, 5, types, args, nulls, false, &v, &isnull))
		{
			memcpy(id.data, DatumGetUUIDP(v)->data, UUID_LEN);
			made = true;
		}
		else
			CommandCounterIncrement();
	}
	SPI_finish();
	if (!made)
		elog(ERROR, "could not define consent \"%s\": too many concurrent versions", name);
	gargs[0] = UUIDPGetDatum(project_id);
	gargs[1] = UUIDPGetDatum(&id);
	PG_RETURN_JSONB_P(PtJsonbStatement(&get, "SELECT pg_catalog.jsonb_build_object('consentID', c.id, "
									   "'name', c.name, 'version', c.version, 'scopes', pg_catalog.to_jsonb(c.scopes), "
									   "'textSha256', c.text_sha256, 'description', c.description, "
									   "'createdDate', c.created_date) FROM participants.consent c "
									   "WHERE c.project_id = $1 AND c.id = $2", 2, gtypes, gargs, NULL, false));
}

/*
 * record_consent(project_id, participant, name, version, scopes, method,
 * evidence, by)
 */
PT_API_FUNCTION(participants_record_consent)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	char	   *name;
	int			version = 0;
	ArrayType  *of;
	ArrayType  *scopes;
	char	  **s;
	int			n;
	Oid			types[5] = {UUIDOID, UUIDOID, TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		args[5];
	Jsonb	   *evidence = NULL;
	char	   *method;
	MemoryContext cxt = CurrentMemoryContext;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	PtNotNull(fcinfo, 2, "name");
	project_id = PG_GETARG_UUID_P(0);
	name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(3))
	{
		version = PG_GETARG_INT32(3);
		if (version < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"version\": %d", version),
					 errhint("Versions are numbered from 1; leave version out for the latest.")));
	}
	if (!PG_ARGISNULL(6))
	{
		Jsonb	   *ev = PG_GETARG_JSONB_P(6);

		if (!JB_ROOT_IS_OBJECT(ev))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"evidence\": expected a JSON object")));
		evidence = ev;
	}
	person = PtPersonBy(project_id, fcinfo, 1, 7);
	SPI_connect();
	of = VersionScopes(UUIDPGetDatum(project_id), name, &version);
	MemoryContextSwitchTo(cxt);
	if (of == NULL)
		ConsentNotFound(name, version);
	if (PG_ARGISNULL(4))
		scopes = of;
	else
	{
		scopes = PG_GETARG_ARRAYTYPE_P(4);
		CheckScopeNames(scopes, "scopes", true);
		CheckScopesOf(scopes, of, name, version, "scopes");
	}
	n = ArrayStrings(scopes, &s);
	scopes = StringArray(s, n);
	method = OptionalText(fcinfo, 5, "method", 200);

	call.active = true;
	call.action = "grant";
	call.scopes = scopes;
	call.evidence = evidence;
	call.method = method;
	call.reason = NULL;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	args[2] = CStringGetTextDatum(name);
	args[3] = Int32GetDatum(version);
	args[4] = PointerGetDatum(scopes);
	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.participant_consent AS pc "
					  "(project_id, participant_id, name, version, scopes, granted_date) "
					  "VALUES ($1, $2, $3, $4, $5, pg_catalog.statement_timestamp()) "
					  "ON CONFLICT (project_id, participant_id, name) DO UPDATE SET "
					  "version = EXCLUDED.version, granted_date = EXCLUDED.granted_date, "
					  "scopes = CASE WHEN pc.version = EXCLUDED.version THEN pc.scopes || EXCLUDED.scopes "
					  "ELSE EXCLUDED.scopes END", 5, types);
	WriteForCall(plan, args, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_JSONB_P(ConsentState(project_id, person, name));
}

/* withdraw_consent(project_id, participant, name, scopes, reason, by) */
PT_API_FUNCTION(participants_withdraw_consent)
{
	static SPIPlanPtr lock_plan = NULL;
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	char	   *name;
	int			version;
	ArrayType  *of;
	ArrayType  *scopes;
	Datum		v;
	bool		isnull;
	char	  **s;
	int			n;
	char	  **held;
	int			nheld;
	Oid			types[4] = {UUIDOID, UUIDOID, TEXTOID, TEXTARRAYOID};
	Datum		args[4];
	char	   *reason;
	MemoryContext cxt = CurrentMemoryContext;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	PtNotNull(fcinfo, 2, "name");
	project_id = PG_GETARG_UUID_P(0);
	name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	person = PtPersonBy(project_id, fcinfo, 1, 5);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	args[2] = CStringGetTextDatum(name);
	SPI_connect();
	if (!PtRunValue(&lock_plan, "SELECT pc.version, pc.scopes FROM participants.participant_consent pc "
					"WHERE pc.project_id = $1 AND pc.participant_id = $2 AND pc.name = $3 FOR UPDATE",
					3, types, args, NULL, false, &v, &isnull))
	{
		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_PT_NOT_FOUND),
				 errmsg("participant \"%s\" has no consent \"%s\"", text_to_cstring(PG_GETARG_TEXT_PP(1)), name),
				 errhint("participant_consents lists the participant's consents.")));
	}
	version = DatumGetInt32(v);
	MemoryContextSwitchTo(cxt);
	nheld = ArrayStrings(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)), &held);
	of = VersionScopes(UUIDPGetDatum(project_id), name, &version);
	MemoryContextSwitchTo(cxt);
	if (PG_ARGISNULL(3))
		scopes = of;
	else
	{
		scopes = PG_GETARG_ARRAYTYPE_P(3);
		CheckScopeNames(scopes, "scopes", true);
		CheckScopesOf(scopes, of, name, version, "scopes");
	}
	n = ArrayStrings(scopes, &s);
	scopes = StringArray(s, n);
	reason = OptionalText(fcinfo, 4, "reason", MAX_TEXT_LEN);
	/* what stays granted */
	{
		char	  **left = palloc(sizeof(char *) * Max(nheld, 1));
		int			nleft = 0,
					i;

		for (i = 0; i < nheld; i++)
			if (!HasString(s, n, held[i]))
				left[nleft++] = held[i];
		args[3] = PointerGetDatum(StringArray(left, nleft));
	}
	call.active = true;
	call.action = "withdraw";
	call.scopes = scopes;
	call.method = NULL;
	call.evidence = NULL;
	call.reason = reason;
	if (plan == NULL)
		PtPreparePlan(&plan, "UPDATE participants.participant_consent SET scopes = $4 "
					  "WHERE project_id = $1 AND participant_id = $2 AND name = $3", 4, types);
	WriteForCall(plan, args, SPI_OK_UPDATE);
	SPI_finish();
	PG_RETURN_JSONB_P(ConsentState(project_id, person, name));
}

/* participant_consents(project_id, participant, by) */
PT_API_FUNCTION(participants_participant_consents)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	person = PtPersonBy(project_id, fcinfo, 1, 2);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	PG_RETURN_JSONB_P(PtJsonbStatement(&plan, "SELECT COALESCE(pg_catalog.jsonb_agg(" STATE_JSON
									   " ORDER BY pc.name), '[]') FROM participants.participant_consent pc "
									   "WHERE pc.project_id = $1 AND pc.participant_id = $2",
									   2, types, args, NULL, true));
}
