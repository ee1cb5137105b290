/*
 * study/contact.c
 *		Contact rules (doc/governance.md): set_contact_rules, contact_rules,
 *		contact_history, and the check the status trigger (status.c) runs
 *		for every contact, a move into INVITE_SENT, INTERVIEW_INVITE_SENT or
 *		UNMODERATED_TEST_INVITE_SENT, from any client: the consents the
 *		study requires, then the project's rules, read from the
 *		participant's own recent contacts (table contact, by its key) and
 *		its own study rows (by study_participant_participant_idx).
 *
 *		Two contacts of one person racing in different studies would each
 *		count the other's contact as not there yet; so with rules set, the
 *		check first locks the participant's row (FOR NO KEY UPDATE, which
 *		conflicts with no foreign key check) and then reads the latest
 *		committed contacts. set_participant_status takes that lock before
 *		the study participant's row, in the order of doc/concurrency.md.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access/access.h"
#include "study/study.h"
#include "records/records.h"

#define MAX_RULES 20
#define MAX_DAYS 36500

typedef enum RuleKind
{
	RULE_WINDOW, RULE_COOLDOWN, RULE_ACTIVE
} RuleKind;

typedef struct ContactRule
{
	RuleKind	kind;
	int			n;				/* maxContacts, maxActiveStudies */
	int			days;			/* windowDays, cooldownDaysAfterCompletion */
} ContactRule;

/* Why a contact would be refused now */
typedef struct Verdict
{
	int			rule;			/* the first rule that refuses it; -1: none */
	bool		has_date;		/* a date from which every refusing rule allows it */
	TimestampTz allowed_from;
	char	   *detail;
} Verdict;

/* Set while this file inserts a contact: contact_guard lets only these in */
static bool writing_contact = false;

/* The rule as set_contact_rules takes it */
static Jsonb *
RuleJsonb(ContactRule *r)
{
	JsonbParseState *state = NULL;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	switch (r->kind)
	{
		case RULE_WINDOW:
			PtPushNumber(&state, "maxContacts", r->n);
			PtPushNumber(&state, "windowDays", r->days);
			break;
		case RULE_COOLDOWN:
			PtPushNumber(&state, "cooldownDaysAfterCompletion", r->days);
			break;
		case RULE_ACTIVE:
			PtPushNumber(&state, "maxActiveStudies", r->n);
			break;
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

static char *
RuleText(ContactRule *r)
{
	Jsonb	   *jb = RuleJsonb(r);

	return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
}

static char *
DateText(TimestampTz t)
{
	return JsonEncodeDateTime(NULL, TimestampTzGetDatum(t), TIMESTAMPTZOID, NULL);
}

static TimestampTz
PlusDays(TimestampTz t, int days)
{
	return t + (TimestampTz) days * USECS_PER_DAY;
}

/* What the rules judge a contact by: the participant's recent history */
typedef struct ContactStats
{
	int			ndates;			/* its latest contacts in the longest window, newest first */
	TimestampTz *dates;
	bool		completed_null;
	TimestampTz completed;		/* its last COMPLETED_STUDY */
	int64		active;			/* its studies in progress, but this one */
} ContactStats;

/*
 * The statement of LoadRules: the rules (as arrays), the first required
 * consent missing, and with $5 the history: contacts in the longest window
 * (newest first, as many as the largest maxContacts), and from one scan of
 * the participant's study rows its last completion and its studies in
 * progress but this one
 */
#define RULES_SQL \
	"SELECT r.n, r.mc, r.wd, r.cd, r.ma, " \
	"(SELECT rc.name FROM participants.study_consent rc WHERE rc.project_id = $1 " \
	"AND rc.study_id = $3 AND NOT EXISTS (SELECT 1 FROM participants.participant_consent pc " \
	"WHERE pc.project_id = $1 AND pc.participant_id = $2 AND pc.name = rc.name " \
	"AND pc.version >= rc.min_version AND pc.scopes @> rc.scopes) " \
	"ORDER BY rc.position, rc.name LIMIT 1), " \
	"CASE WHEN $5 AND r.n > 0 THEN ARRAY(SELECT c.contact_date FROM participants.contact c " \
	"WHERE c.project_id = $1 AND c.participant_id = $2 " \
	"AND c.contact_date > $4 - r.max_wd * pg_catalog.make_interval(hours => 24) " \
	"ORDER BY c.contact_date DESC LIMIT r.max_mc) END, " \
	"s.completed, s.active " \
	"FROM (SELECT pg_catalog.count(*) AS n, " \
	"pg_catalog.array_agg(COALESCE(x.max_contacts, 0) ORDER BY x.position) AS mc, " \
	"pg_catalog.array_agg(COALESCE(x.window_days, 0) ORDER BY x.position) AS wd, " \
	"pg_catalog.array_agg(COALESCE(x.cooldown_days, 0) ORDER BY x.position) AS cd, " \
	"pg_catalog.array_agg(COALESCE(x.max_active_studies, 0) ORDER BY x.position) AS ma, " \
	"COALESCE(pg_catalog.max(x.window_days), 1) AS max_wd, COALESCE(pg_catalog.max(x.max_contacts), 1) AS max_mc " \
	"FROM participants.contact_rule x WHERE x.project_id = $1) r " \
	"LEFT JOIN LATERAL (SELECT pg_catalog.max(sp.updated_date) FILTER (WHERE sp.status = 'COMPLETED_STUDY') AS completed, " \
	"pg_catalog.count(*) FILTER (WHERE sp.study_id IS DISTINCT FROM $3 " \
	"AND sp.status NOT IN ('NOT_STARTED', 'COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')) AS active " \
	"FROM participants.study_participant sp WHERE $5 AND r.n > 0 " \
	"AND sp.project_id = $1 AND sp.participant_id = $2) s ON true"

static int
IntArray(Datum d, int **out)
{
	Datum	   *elems;
	int			n,
				i;

	deconstruct_array(DatumGetArrayTypeP(d), INT4OID, 4, true, TYPALIGN_INT, &elems, NULL, &n);
	*out = palloc(sizeof(int) * Max(n, 1));
	for (i = 0; i < n; i++)
		(*out)[i] = DatumGetInt32(elems[i]);
	return n;
}

/* Fill *st from the result row's columns 7, 8 and 9 */
static void
StatsFromRow(HeapTuple t, TupleDesc d, ContactStats *st)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, 7, &isnull);
	Datum	   *dates = NULL;
	int			i;

	st->ndates = 0;
	if (!isnull)
		deconstruct_array(DatumGetArrayTypeP(v), TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &dates, NULL, &st->ndates);
	st->dates = palloc(sizeof(TimestampTz) * Max(st->ndates, 1));
	for (i = 0; i < st->ndates; i++)
		st->dates[i] = DatumGetTimestampTz(dates[i]);
	st->completed = DatumGetTimestampTz(SPI_getbinval(t, d, 8, &st->completed_null));
	v = SPI_getbinval(t, d, 9, &isnull);
	st->active = isnull ? 0 : DatumGetInt64(v);
}

/*
 * The project's rules, as committed by now, in one statement (inside SPI);
 * the first consent the study (study_id not 0) requires that the
 * participant does not hold goes to *missing. With "stats", the
 * participant's history at "at" is read in the same statement (the caller
 * holds the participant's row lock already, so that it is the latest).
 */
static int
LoadRules(pg_uuid_t *project_id, Datum person_id, Datum study_id, TimestampTz at,
		  ContactRule *rules, char **missing, ContactStats *stats)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[5] = {UUIDOID, UUIDOID, UUIDOID, TIMESTAMPTZOID, BOOLOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	HeapTuple	t;
	TupleDesc	d;
	bool		isnull;
	int		   *mc,
			   *wd,
			   *cd,
			   *ma;
	int			n,
				i,
				k = 0;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = person_id;
	args[2] = study_id;
	if (study_id == (Datum) 0)
		nulls[2] = 'n';
	args[3] = TimestampTzGetDatum(at);
	args[4] = BoolGetDatum(stats != NULL);
	if (plan == NULL)
		PtPreparePlan(&plan, RULES_SQL, 5, types);
	/* the latest snapshot: rules and consents committed by now, at any isolation level */
	if (SPI_execute_snapshot(plan, args, nulls, GetLatestSnapshot(), InvalidSnapshot,
							 false, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the contact rules");
	t = SPI_tuptable->vals[0];
	d = SPI_tuptable->tupdesc;
	*missing = NULL;
	{
		Datum		miss = SPI_getbinval(t, d, 6, &isnull);

		if (!isnull)
			*missing = TextDatumGetCString(miss);
	}
	if (DatumGetInt64(SPI_getbinval(t, d, 1, &isnull)) == 0)
		return 0;
	n = IntArray(SPI_getbinval(t, d, 2, &isnull), &mc);
	(void) IntArray(SPI_getbinval(t, d, 3, &isnull), &wd);
	(void) IntArray(SPI_getbinval(t, d, 4, &isnull), &cd);
	(void) IntArray(SPI_getbinval(t, d, 5, &isnull), &ma);
	for (i = 0; i < n && k < MAX_RULES; i++)
	{
		if (mc[i] > 0)
		{
			rules[k].kind = RULE_WINDOW;
			rules[k].n = mc[i];
			rules[k++].days = wd[i];
		}
		else if (cd[i] > 0)
		{
			rules[k].kind = RULE_COOLDOWN;
			rules[k].n = 0;
			rules[k++].days = cd[i];
		}
		else if (ma[i] > 0)
		{
			rules[k].kind = RULE_ACTIVE;
			rules[k].n = ma[i];
			rules[k++].days = 0;
		}
	}
	if (stats)
		StatsFromRow(t, d, stats);
	return k;
}

/*
 * Read the participant's history at "at" on its own (after LoadRules
 * without it, and the row lock): the same statement, with the latest
 * snapshot. Inside SPI.
 */
static void
ReadStats(pg_uuid_t *project_id, Datum person_id, Datum study_id, TimestampTz at, ContactStats *st)
{
	ContactRule rules[MAX_RULES];
	char	   *missing;

	(void) LoadRules(project_id, person_id, study_id, at, rules, &missing, st);
}

/* Judge a contact at "at" by the rules and the participant's history */
static void
Judge(ContactRule *rules, int nrules, ContactStats *st, TimestampTz at, Verdict *v)
{
	int			i;
	bool		undated = false;

	v->rule = -1;
	v->has_date = false;
	v->allowed_from = 0;
	v->detail = NULL;
	for (i = 0; i < nrules; i++)
	{
		ContactRule *r = &rules[i];
		bool		refuses = false;
		bool		dated = false;
		TimestampTz from = 0;
		char	   *why = NULL;

		if (r->kind == RULE_WINDOW)
		{
			int			k = 0;
			TimestampTz since = PlusDays(at, -r->days);

			while (k < st->ndates && st->dates[k] > since)
				k++;
			if (k >= r->n)
			{
				refuses = dated = true;
				from = PlusDays(st->dates[r->n - 1], r->days);
				why = psprintf("The participant was contacted %d time%s in the last %d day%s.",
							   k, k == 1 ? "" : "s", r->days, r->days == 1 ? "" : "s");
			}
		}
		else if (r->kind == RULE_COOLDOWN)
		{
			if (!st->completed_null && st->completed > PlusDays(at, -r->days))
			{
				refuses = dated = true;
				from = PlusDays(st->completed, r->days);
				why = psprintf("The participant completed a study on %s.", DateText(st->completed));
			}
		}
		else if (st->active + 1 > r->n)
		{
			refuses = true;
			why = psprintf("The participant is in progress in " INT64_FORMAT " other stud%s.",
						   st->active, st->active == 1 ? "y" : "ies");
		}
		if (!refuses)
			continue;
		if (v->rule < 0)
		{
			v->rule = i;
			v->detail = why;
			v->has_date = dated;
			v->allowed_from = from;
			undated = !dated;
		}
		else if (!dated)
			undated = true;
		else if (from > v->allowed_from)
			v->allowed_from = from;
	}
	/* a date only when every refusing rule lifts by then */
	if (undated)
		v->has_date = false;
}

/* Lock the participant's row against other contacts of the same person */
static void
LockPerson(pg_uuid_t *project_id, Datum person_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Datum		v;
	bool		isnull;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = person_id;
	(void) PtRunValue(&plan, "SELECT 1 FROM participants.participant "
					  "WHERE project_id = $1 AND id = $2 FOR NO KEY UPDATE", 2, types, args, NULL,
					  false, &v, &isnull);
}

/*
 * The check of a contact of the participant in the study at "at" (the
 * status trigger's): PT409 when the participant lacks a consent the study
 * requires, or when a rule refuses it and no override_reason is given; with
 * one, the rule overridden and the reason, for the event and the contact
 * row ({"rule", "reason"}), else NULL
 */
Jsonb *
PtCheckContact(pg_uuid_t *project_id, Datum person_id, Datum study_id, TimestampTz at,
			   const char *override_reason, bool person_locked)
{
	ContactStats st;
	ContactRule rules[MAX_RULES];
	int			nrules;
	char	   *missing;
	Verdict		v;
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *result = NULL;

	SPI_connect();
	nrules = LoadRules(project_id, person_id, study_id, at, rules, &missing, person_locked ? &st : NULL);
	if (missing != NULL)
	{
		char	   *name = MemoryContextStrdup(cxt, missing);
		char	   *who = PtPersonName(project_id, person_id);

		SPI_finish();
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("participant %s does not hold consent \"%s\" as study %s requires",
						who, name, PtUuidText(DatumGetUUIDP(study_id))),
				 errdetail("A contact needs every consent the study requires (its requiredConsents)."),
				 errhint("Record the consent with record_consent first.")));
	}
	if (nrules == 0)
	{
		SPI_finish();
		return NULL;
	}
	if (!person_locked)
	{
		/* a raw UPDATE: lock the participant, then read its latest history */
		LockPerson(project_id, person_id);
		ReadStats(project_id, person_id, study_id, at, &st);
	}
	Judge(rules, nrules, &st, at, &v);
	MemoryContextSwitchTo(cxt);
	if (v.rule >= 0)
	{
		char	   *rule = RuleText(&rules[v.rule]);

		if (override_reason == NULL)
		{
			char	   *who = PtPersonName(project_id, person_id);

			SPI_finish();
			ereport(ERROR,
					(errcode(ERRCODE_PT_CONFLICT),
					 errmsg("contact rule %s refuses contacting participant %s",
							rule, who),
					 v.has_date ?
					 errdetail("%s A contact is allowed from %s.", v.detail, DateText(v.allowed_from)) :
					 errdetail("%s", v.detail),
					 errhint("set_participant_status(..., override_reason => '...') contacts anyway and records why.")));
		}
		else
		{
			JsonbParseState *state = NULL;
			Jsonb	   *rj = RuleJsonb(&rules[v.rule]);
			JsonbValue	jv;

			pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
			PtPushKey(&state, "rule");
			jv.type = jbvBinary;
			jv.val.binary.data = &rj->root;
			jv.val.binary.len = VARSIZE(rj) - VARHDRSZ;
			pushJsonbValue(&state, WJB_VALUE, &jv);
			PtPushString(&state, "reason", override_reason);
			result = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
		}
	}
	SPI_finish();
	return result;
}

/* Record a contact (the status trigger's, after the event) */
void
PtRecordContact(pg_uuid_t *project_id, Datum person_id, Datum study_id, int status,
				TimestampTz at, int64 event_id, Jsonb *override)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[7] = {UUIDOID, UUIDOID, TIMESTAMPTZOID, UUIDOID, TEXTOID, INT8OID, JSONBOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;

	args[0] = UUIDPGetDatum(project_id);
	args[1] = person_id;
	args[2] = TimestampTzGetDatum(at);
	args[3] = study_id;
	args[4] = CStringGetTextDatum(pt_statuses[status]);
	args[5] = Int64GetDatum(event_id);
	args[6] = override ? JsonbPGetDatum(override) : (Datum) 0;
	if (override == NULL)
		nulls[6] = 'n';
	SPI_connect();
	if (plan == NULL)
		PtPreparePlan(&plan, "INSERT INTO participants.contact (project_id, participant_id, contact_date, "
					  "study_id, status, event_id, override) VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);
	/* as the owner: a raw writer only reads this table */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(PtOwner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	writing_contact = true;
	PG_TRY();
	{
		if (PtExecutePlan(plan, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the contact");
	}
	PG_FINALLY();
	{
		writing_contact = false;
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	SPI_finish();
	if (override != NULL && PtHaveLifecycle())
	{
		JsonbValue *reason = getKeyJsonValueFromContainer(&override->root, "reason", 6, NULL);

		PtAudit(project_id, "contactOverride", person_id, list_make1("contactRules"),
				reason && reason->type == jbvString ? pnstrdup(reason->val.string.val, reason->val.string.len) : NULL);
	}
}

/* BEFORE INSERT OR UPDATE row trigger on contact: see writing_contact */
PT_TRIGGER_FUNCTION(participants_contact_guard)
{
	return PtDatabaseRowsOnly(fcinfo, "contact_guard", writing_contact || PtInRestore(),
							  "contacts are recorded by the database",
							  "A move into INVITE_SENT, INTERVIEW_INVITE_SENT or UNMODERATED_TEST_INVITE_SENT records its contact; only a restore loads contacts.",
							  "Change a status with set_participant_status or an UPDATE of participants.study_participant.");
}

/* ------------------------------------------------------------------------
 * The functions
 * ------------------------------------------------------------------------
 */

static void
RuleError(int i, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for \"rules[%d]\": %s", i, problem),
			 errhint("Rules: {\"maxContacts\": n, \"windowDays\": d}, {\"cooldownDaysAfterCompletion\": d}, {\"maxActiveStudies\": n}; [] for none.")));
}

/* A whole number from 1 to max, for key of rule i */
static int
RuleNumber(JsonbValue *v, int i, const char *key, int max)
{
	int64		n;

	if (v->type != jbvNumeric)
		RuleError(i, psprintf("\"%s\" must be a number, not %s", key, PtJsonbTypeName(v)));
	if (!PtNumericIsWhole(v->val.numeric))
		RuleError(i, psprintf("\"%s\" must be a whole number", key));
	n = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
	if (n < 1 || n > max)
		RuleError(i, psprintf("\"%s\" must be from 1 to %d", key, max));
	return (int) n;
}

#define RULES_JSON \
	"SELECT COALESCE(pg_catalog.jsonb_agg(CASE " \
	"WHEN r.max_contacts IS NOT NULL THEN pg_catalog.jsonb_build_object('maxContacts', r.max_contacts, 'windowDays', r.window_days) " \
	"WHEN r.cooldown_days IS NOT NULL THEN pg_catalog.jsonb_build_object('cooldownDaysAfterCompletion', r.cooldown_days) " \
	"ELSE pg_catalog.jsonb_build_object('maxActiveStudies', r.max_active_studies) END ORDER BY r.position), '[]') " \
	"FROM participants.contact_rule r WHERE r.project_id = $1"

/* The project's rules, as set_contact_rules takes them */
static Jsonb *
RulesJson(pg_uuid_t *project_id)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {UUIDOID};
	Datum		args[1];

	args[0] = UUIDPGetDatum(project_id);
	return PtJsonbStatement(&plan, RULES_JSON, 1, types, args, NULL, false);
}

/* set_contact_rules(project_id, rules) */
PT_API_FUNCTION(participants_set_contact_rules)
{
	static SPIPlanPtr del_plan = NULL;
	static SPIPlanPtr ins_plan = NULL;
	pg_uuid_t  *project_id;
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Datum		mc[MAX_RULES],
				wd[MAX_RULES],
				cd[MAX_RULES],
				ma[MAX_RULES];
	bool		mcn[MAX_RULES],
				wdn[MAX_RULES],
				cdn[MAX_RULES],
				man[MAX_RULES];
	int			n = 0;
	int			dims[1];
	int			lbs[1] = {1};
	Oid			types[5] = {UUIDOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};
	Datum		args[5];

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "rules");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	jb = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"rules\": expected an array of rules"),
				 errhint("Pass [] for no rules.")));
	if (JB_ROOT_COUNT(jb) > MAX_RULES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for \"rules\": at most %d rules", MAX_RULES)));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *mcv,
				   *wdv,
				   *cdv,
				   *mav;
		int			keys;

		if (tok != WJB_ELEM)
			continue;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			RuleError(n, psprintf("expected an object, not %s", PtJsonbTypeName(&v)));
		keys = JsonContainerSize(v.val.binary.data);
		mcv = getKeyJsonValueFromContainer(v.val.binary.data, "maxContacts", 11, NULL);
		wdv = getKeyJsonValueFromContainer(v.val.binary.data, "windowDays", 10, NULL);
		cdv = getKeyJsonValueFromContainer(v.val.binary.data, "cooldownDaysAfterCompletion", 27, NULL);
		mav = getKeyJsonValueFromContainer(v.val.binary.data, "maxActiveStudies", 16, NULL);
		mcn[n] = wdn[n] = cdn[n] = man[n] = true;
		mc[n] = wd[n] = cd[n] = ma[n] = (Datum) 0;
		if (mcv || wdv)
		{
			if (!mcv || !wdv)
				RuleError(n, "\"maxContacts\" and \"windowDays\" go together");
			if (keys != 2)
				RuleError(n, "a maxContacts rule has only \"maxContacts\" and \"windowDays\"");
			mc[n] = Int32GetDatum(RuleNumber(mcv, n, "maxContacts", 100000));
			wd[n] = Int32GetDatum(RuleNumber(wdv, n, "windowDays", MAX_DAYS));
			mcn[n] = wdn[n] = false;
		}
		else if (cdv)
		{
			if (keys != 1)
				RuleError(n, "a cooldown rule has only \"cooldownDaysAfterCompletion\"");
			cd[n] = Int32GetDatum(RuleNumber(cdv, n, "cooldownDaysAfterCompletion", MAX_DAYS));
			cdn[n] = false;
		}
		else if (mav)
		{
			if (keys != 1)
				RuleError(n, "a maxActiveStudies rule has only \"maxActiveStudies\"");
			ma[n] = Int32GetDatum(RuleNumber(mav, n, "maxActiveStudies", 100000));
			man[n] = false;
		}
		else
		{
			JsonbIterator *kit = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	k;
			char	   *key = NULL;

			while (JsonbIteratorNext(&kit, &k, true) != WJB_DONE)
				if (k.type == jbvString && key == NULL)
					key = pnstrdup(k.val.string.val, k.val.string.len);
			RuleError(n, key ? psprintf("unknown key \"%s\"", key) : "an empty object");
		}
		n++;
	}
	dims[0] = n;
	args[0] = UUIDPGetDatum(project_id);
	args[1] = PointerGetDatum(construct_md_array(mc, mcn, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_md_array(wd, wdn, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = PointerGetDatum(construct_md_array(cd, cdn, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	args[4] = PointerGetDatum(construct_md_array(ma, man, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
	SPI_connect();
	if (del_plan == NULL)
	{
		PtPreparePlan(&del_plan, "DELETE FROM participants.contact_rule WHERE project_id = $1", 1, types);
		PtPreparePlan(&ins_plan, "INSERT INTO participants.contact_rule (project_id, position, max_contacts, "
					  "window_days, cooldown_days, max_active_studies) "
					  "SELECT $1, r.n, r.mc, r.wd, r.cd, r.ma FROM ROWS FROM (pg_catalog.unnest($2), "
					  "pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) "
					  "WITH ORDINALITY r(mc, wd, cd, ma, n)", 5, types);
	}
	if (PtExecutePlan(del_plan, args, NULL, false, 0) != SPI_OK_DELETE ||
		PtExecutePlan(ins_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the contact rules");
	SPI_finish();
	PG_RETURN_JSONB_P(RulesJson(project_id));
}

/* contact_rules(project_id) */
PT_API_FUNCTION(participants_contact_rules)
{
	pg_uuid_t  *project_id;

	PtNotNull(fcinfo, 0, "project_id");
	project_id = PG_GETARG_UUID_P(0);
	(void) PtGetProject(project_id);
	PG_RETURN_JSONB_P(RulesJson(project_id));
}

/* contact_history(project_id, participant, by) */
PT_API_FUNCTION(participants_contact_history)
{
	static SPIPlanPtr plan = NULL;
	pg_uuid_t  *project_id;
	pg_uuid_t  *person;
	Oid			types[2] = {UUIDOID, UUIDOID};
	Datum		args[2];
	Jsonb	   *contacts;
	ContactRule rules[MAX_RULES];
	int			nrules;
	char	   *missing;
	Verdict		v;
	ContactStats st;
	TimestampTz at;
	JsonbParseState *state = NULL;
	JsonbValue	jv;
	MemoryContext cxt = CurrentMemoryContext;

	PtNotNull(fcinfo, 0, "project_id");
	PtNotNull(fcinfo, 1, "participant");
	project_id = PG_GETARG_UUID_P(0);
	person = PtPersonBy(project_id, fcinfo, 1, 2);
	args[0] = UUIDPGetDatum(project_id);
	args[1] = UUIDPGetDatum(person);
	contacts = PtJsonbStatement(&plan, "SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
								"'studyID', c.study_id, 'status', c.status, 'date', c.contact_date) "
								"ORDER BY c.contact_date, c.study_id), '[]') FROM participants.contact c "
								"WHERE c.project_id = $1 AND c.participant_id = $2", 2, types, args, NULL, true);
	SPI_connect();
	at = GetCurrentTimestamp();
	nrules = LoadRules(project_id, UUIDPGetDatum(person), (Datum) 0, at, rules, &missing, &st);
	v.rule = -1;
	if (nrules > 0)
		Judge(rules, nrules, &st, at, &v);
	MemoryContextSwitchTo(cxt);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	PtPushKey(&state, "contacts");
	jv.type = jbvBinary;
	jv.val.binary.data = &contacts->root;
	jv.val.binary.len = VARSIZE(contacts) - VARHDRSZ;
	pushJsonbValue(&state, WJB_VALUE, &jv);
	PtPushString(&state, "nextContactDate", v.rule >= 0 && v.has_date ? DateText(v.allowed_from) : NULL);
	PtPushKey(&state, "blockedBy");
	if (v.rule >= 0)
	{
		Jsonb	   *rj = RuleJsonb(&rules[v.rule]);

		jv.type = jbvBinary;
		jv.val.binary.data = &rj->root;
		jv.val.binary.len = VARSIZE(rj) - VARHDRSZ;
	}
	else
		jv.type = jbvNull;
	pushJsonbValue(&state, WJB_VALUE, &jv);
	SPI_finish();
	PG_RETURN_JSONB_P(JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)));
}
