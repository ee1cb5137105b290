/*
 * participant/guard.c
 *		Row triggers that hold the participant rules for every client, a raw
 *		INSERT or UPDATE from psql included: the enrollment lock on email and
 *		phone, final withdrawal, immutable keys, value formats and custom
 *		field types; and the immutable type of a custom field definition.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"

#include "participant/participant.h"
#include "records/records.h"

/*
 * Set while this extension's own C code writes rows it has validated: the
 * guard then skips the format checks (not the state rules).
 */
bool		pt_trusted_write = false;

/* Attribute numbers of the participant columns the guard reads */
typedef struct GuardCols
{
	Oid			relid;
	int			project_id;
	int			id;
	int			identifier;
	int			invitation;
	int			demo[NUM_DEMO];
	int			custom_fields;
	int			enrollment;
	int			withdraw;
	int			inserted;
} GuardCols;

static GuardCols cols;

static int
Col(TupleDesc desc, const char *name)
{
	int			n = SPI_fnumber(desc, name);

	if (n <= 0)
		elog(ERROR, "participant table has no column \"%s\"", name);
	return n;
}

static void
LoadCols(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			d;

	if (cols.relid == RelationGetRelid(rel))
		return;
	cols.project_id = Col(desc, "project_id");
	cols.id = Col(desc, "id");
	cols.identifier = Col(desc, "participant_identifier");
	cols.invitation = Col(desc, "invitation_status");
	for (d = 0; d < NUM_DEMO; d++)
		cols.demo[d] = Col(desc, pt_demo_cols[d]);
	cols.custom_fields = Col(desc, "custom_fields");
	cols.enrollment = Col(desc, "enrollment_date");
	cols.withdraw = Col(desc, "withdraw_date");
	cols.inserted = Col(desc, "inserted_date");
	cols.relid = RelationGetRelid(rel);
}

static bool
IsNull(HeapTuple t, TupleDesc desc, int col)
{
	bool		isnull;

	(void) heap_getattr(t, col, desc, &isnull);
	return isnull;
}

static void
RuleError(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PT_CONFLICT),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/* Rules on the state of an existing participant (UPDATE only) */
static void
CheckStateRules(HeapTuple oldt, HeapTuple newt, TupleDesc desc)
{
	if (PtAttChanged(oldt, newt, desc, cols.project_id) || PtAttChanged(oldt, newt, desc, cols.id))
		RuleError("cannot change the project_id or id of a participant", NULL);
	if (PtAttChanged(oldt, newt, desc, cols.inserted))
		RuleError("cannot change the inserted_date of a participant", NULL);
	if (!IsNull(oldt, desc, cols.enrollment))
	{
		if (PtAttChanged(oldt, newt, desc, cols.demo[DEMO_EMAIL]))
			RuleError("cannot change key \"demographics.email\": the participant is enrolled",
					  "Email and mobile phone are locked once a participant enrolls.");
		if (PtAttChanged(oldt, newt, desc, cols.demo[DEMO_MOBILE_PHONE]))
			RuleError("cannot change key \"demographics.mobilePhone\": the participant is enrolled",
					  "Email and mobile phone are locked once a participant enrolls.");
		if (IsNull(newt, desc, cols.enrollment))
			RuleError("cannot clear the enrollment of a participant",
					  "Enrollment is recorded once; withdraw the participant instead.");
		if (PtAttChanged(oldt, newt, desc, cols.enrollment))
			RuleError("cannot move the enrollment date of a participant", NULL);
	}
	if (!IsNull(oldt, desc, cols.withdraw))
	{
		if (PtAttChanged(oldt, newt, desc, cols.withdraw))
			RuleError("cannot clear or move the withdraw date of a participant",
					  "Withdrawal is final.");
		if (PtAttChanged(oldt, newt, desc, cols.enrollment))
			RuleError("cannot enroll a withdrawn participant", "Withdrawal is final.");
	}
}

static char *
ColText(HeapTuple t, TupleDesc desc, int col)
{
	return SPI_getvalue(t, desc, col);
}

/* Check the custom_fields object of a row against the project's definitions */
static void
CheckCustomFields(HeapTuple t, TupleDesc desc)
{
	bool		isnull;
	Jsonb	   *cf = DatumGetJsonbP(heap_getattr(t, cols.custom_fields, desc, &isnull));
	pg_uuid_t  *project_id = DatumGetUUIDP(heap_getattr(t, cols.project_id, desc, &isnull));
	PtProject  *project;
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	PtCheckObject(cf, "column \"custom_fields\"", "an object");
	/*
	 * A restore loads rows as they were, which met the definitions then;
	 * the definitions may come later (participants.distribute() moves
	 * participant into its shards before custom_field)
	 */
	if (PtInRestore())
		return;
	PtCheckCustomFieldCount(JsonContainerSize(&cf->root), "");
	project = PtGetProject(project_id);
	it = JsonbIteratorInit(&cf->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		char	   *key;
		PtFieldType type;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		key = psprintf("customFields.%s", name);
		(void) JsonbIteratorNext(&it, &v, true);
		type = PtProjectFieldType(project, name);
		if (type == CF_UNDECLARED && project->strict_custom_fields)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown key \"%s\": custom field \"%s\" is not defined", key, name)));
		if (v.type == jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": custom field values are scalars", key)));
		PtCheckStoredFieldValue(type, &v, key);
	}
}

/* Format checks on the columns a write sets (all of them on INSERT) */
static void
CheckFormats(HeapTuple oldt, HeapTuple newt, TupleDesc desc)
{
	char	   *s;
	int			d;

#define SETS(col) (oldt == NULL || PtAttChanged(oldt, newt, desc, (col)))
	if (oldt == NULL)
	{
		bool		isnull;

		pg_uuid_t  *project_id = DatumGetUUIDP(heap_getattr(newt, cols.project_id, desc, &isnull));

		/* 42501 for a project the role may not use, PT404 for none at all */
		PtCheckProjectAccess(GetUserId(), project_id);
		PtLockProjectWrites(project_id, RowExclusiveLock);
		(void) PtGetProject(project_id);
	}
	if (SETS(cols.identifier))
	{
		s = ColText(newt, desc, cols.identifier);
		if (s == NULL || s[0] == '\0' || strlen(s) > 255)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"participantIdentifier\": 1 to 255 bytes are required")));
	}
	if (SETS(cols.invitation) && (s = ColText(newt, desc, cols.invitation)) != NULL)
		PtCheckInvitationStatus(s, "invitationStatus");
	for (d = 0; d < NUM_DEMO; d++)
	{
		char	   *key;

		if (!SETS(cols.demo[d]) || IsNull(newt, desc, cols.demo[d]))
			continue;
		key = psprintf("demographics.%s", pt_demo_keys[d]);
		if (d == DEMO_DATE_OF_BIRTH)
		{
			bool		isnull;

			if (DatumGetDateADT(heap_getattr(newt, cols.demo[d], desc, &isnull)) > GetSQLCurrentDate())
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
						 errmsg("invalid value for key \"%s\": the date is in the future", key),
						 errhint("A date of birth must be today or earlier.")));
			continue;
		}
		s = ColText(newt, desc, cols.demo[d]);
		if (strlen(s) > (d == DEMO_EMAIL || d == DEMO_MOBILE_PHONE ? 255 : 1000))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for key \"%s\": too long", key)));
		switch (d)
		{
			case DEMO_EMAIL:
				PtCheckEmail(s, key);
				break;
			case DEMO_MOBILE_PHONE:
				if (!PtPhoneIsNormalized(s))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for key \"%s\": \"%s\" is not a normalized phone number", key, s),
							 errhint("Store 7 to 15 digits with an optional leading \"+\", e.g. \"+15551234567\".")));
				break;
			case DEMO_GENDER:
				PtCheckGender(s, key);
				break;
			case DEMO_UTC_OFFSET:
				PtCheckUtcOffset(s, key);
				break;
			default:
				break;
		}
	}
	if (SETS(cols.custom_fields))
		CheckCustomFields(newt, desc);
#undef SETS
}

/* BEFORE INSERT OR UPDATE row trigger on participants.participant */
PT_TRIGGER_FUNCTION(participants_participant_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldt = NULL;
	HeapTuple	newt;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "participant_guard: not called by the trigger manager");
	if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "participant_guard: must fire BEFORE, FOR EACH ROW");
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newt = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		oldt = td->tg_trigtuple;
		newt = td->tg_newtuple;
	}
	else
		elog(ERROR, "participant_guard: must fire on INSERT or UPDATE");

	LoadCols(td->tg_relation);
	desc = RelationGetDescr(td->tg_relation);
	if (oldt == NULL && !IsNull(newt, desc, cols.id))
	{
		static const pg_uuid_t nil = {{0}};
		bool		isnull;

		/* it marks a rebuild in participants.segment_recheck (segment/rebuild.c) */
		if (memcmp(DatumGetUUIDP(heap_getattr(newt, cols.id, desc, &isnull)), &nil, UUID_LEN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for \"id\": the nil uuid is reserved"),
					 errhint("Leave id out: the database gives the participant a random one.")));
	}
	if (oldt != NULL)
		CheckStateRules(oldt, newt, desc);
	if (!pt_trusted_write)
	{
		CheckFormats(oldt, newt, desc);
		/* the upsert path checked the tombstones itself, naming the element */
		if (!PtInRestore() &&
			(oldt == NULL || PtAttChanged(oldt, newt, desc, cols.demo[DEMO_EMAIL]) ||
			 PtAttChanged(oldt, newt, desc, cols.demo[DEMO_MOBILE_PHONE])))
		{
			bool		isnull;
			pg_uuid_t  *project = DatumGetUUIDP(heap_getattr(newt, cols.project_id, desc, &isnull));
			char	   *email = ColText(newt, desc, cols.demo[DEMO_EMAIL]);
			char	   *phone = ColText(newt, desc, cols.demo[DEMO_MOBILE_PHONE]);

			/* an email in another case is the same email */
			if (oldt != NULL && (!PtAttChanged(oldt, newt, desc, cols.demo[DEMO_EMAIL]) ||
								 (email != NULL && ColText(oldt, desc, cols.demo[DEMO_EMAIL]) != NULL &&
								  pg_strcasecmp(email, ColText(oldt, desc, cols.demo[DEMO_EMAIL])) == 0)))
				email = NULL;
			if (oldt != NULL && !PtAttChanged(oldt, newt, desc, cols.demo[DEMO_MOBILE_PHONE]))
				phone = NULL;
			PtCheckTombstone(project, email, phone, "");
		}
	}
	return PointerGetDatum(newt);
}

/*
 * BEFORE INSERT OR UPDATE row trigger on participants.custom_field: the
 * options are well formed, and a field keeps its project, name and type
 */
PT_TRIGGER_FUNCTION(participants_custom_field_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	newtup;
	char	   *oldtype,
			   *newtype;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || TRIGGER_FIRED_BY_DELETE(td->tg_event) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "custom_field_guard: must fire BEFORE INSERT OR UPDATE, FOR EACH ROW");
	desc = RelationGetDescr(td->tg_relation);
	newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	PtCheckFieldOptions(DatumGetJsonbP(heap_getattr(newtup, Col(desc, "options"), desc, &isnull)));
	if (!TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(newtup);
	if (PtAttChanged(td->tg_trigtuple, td->tg_newtuple, desc, Col(desc, "project_id")) ||
		PtAttChanged(td->tg_trigtuple, td->tg_newtuple, desc, Col(desc, "name")))
		RuleError("cannot rename a custom field or move it to another project",
				  "Drop it and define a new one.");
	oldtype = SPI_getvalue(td->tg_trigtuple, desc, Col(desc, "type"));
	newtype = SPI_getvalue(td->tg_newtuple, desc, Col(desc, "type"));
	if (strcmp(oldtype, newtype) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot change the type of custom field \"%s\" from %s to %s",
						SPI_getvalue(td->tg_trigtuple, desc, Col(desc, "name")), oldtype, newtype),
				 errdetail("A custom field's type never changes once defined.")));
	return PointerGetDatum(newtup);
}

/* PT409 when any participant of the project (or of any project) exists */
static void
CheckNoParticipants(pg_uuid_t *project_id, const char *what)
{
	Oid			types[1] = {UUIDOID};
	Datum		args[1];
	SPIPlanPtr	plan;
	int			ret;
	bool		found;

	/*
	 * A SHARE lock on the project's write lock (on the whole table for a
	 * TRUNCATE) waits for, and then excludes, the writers of its
	 * participants; the latest snapshot then sees what they committed while
	 * we waited. Other projects' writers never wait for a project's deletion.
	 */
	if (project_id)
		PtLockProjectWrites(project_id, ShareLock);
	else
		LockRelationOid(PtParticipantRelid(), ShareLock);
	SPI_connect();
	args[0] = project_id ? UUIDPGetDatum(project_id) : (Datum) 0;
	plan = SPI_prepare(project_id
					   ? "SELECT 1 FROM participants.participant WHERE project_id = $1 LIMIT 1"
					   : "SELECT 1 FROM participants.participant LIMIT 1",
					   project_id ? 1 : 0, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
							   true, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not check for participants");
	found = SPI_processed > 0;
	SPI_finish();
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_PT_CONFLICT),
				 errmsg("cannot %s: participants exist", what),
				 errhint("Delete the project's participants first.")));
}

/*
 * Triggers on participants.project: a project's id never changes, and a
 * project is deleted (or the table truncated) only when no participant
 * belongs to it. This replaces a foreign key from participant, whose check
 * would cost a query per inserted participant; writers of participants take
 * their project's write lock before checking that it exists.
 */
PT_TRIGGER_FUNCTION(participants_project_guard)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	bool		isnull;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event))
		elog(ERROR, "project_guard: must fire BEFORE");
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		/*
		 * On a cluster the coordinator's table checks the whole cluster's
		 * participants, and each shard's TRUNCATE that follows passes. With
		 * citus.enable_ddl_propagation off (as participants.distribute()
		 * runs it to empty the coordinator's own copies of the rows it moved
		 * into the shards), Citus truncates the coordinator's table alone
		 * and no shard loses a row.
		 */
		if (PtIsShardOf(RelationGetRelid(td->tg_relation), PtTableRelid("project")))
			return PointerGetDatum(NULL);
		if (PtDistributed())
		{
			const char *ddl = GetConfigOption("citus.enable_ddl_propagation", true, false);

			if (ddl != NULL && strcmp(ddl, "off") == 0)
				return PointerGetDatum(NULL);
		}
		CheckNoParticipants(NULL, "truncate participants.project");
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "project_guard: must fire FOR EACH ROW on UPDATE or DELETE");
	desc = RelationGetDescr(td->tg_relation);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		if (PtAttChanged(td->tg_trigtuple, td->tg_newtuple, desc, Col(desc, "id")))
			RuleError("cannot change the id of a project", NULL);
		return PointerGetDatum(td->tg_newtuple);
	}
	if (!TRIGGER_FIRED_BY_DELETE(td->tg_event))
		elog(ERROR, "project_guard: must fire on UPDATE, DELETE or TRUNCATE");
	/*
	 * On a cluster the trigger fires on every node's copy of project: the
	 * node that holds the project's participants checks them
	 */
	if (PtIsShardOf(RelationGetRelid(td->tg_relation), PtTableRelid("project")) &&
		!PtProjectIsLocal(DatumGetUUIDP(heap_getattr(td->tg_trigtuple, Col(desc, "id"), desc, &isnull))))
		return PointerGetDatum(td->tg_trigtuple);
	CheckNoParticipants(DatumGetUUIDP(heap_getattr(td->tg_trigtuple, Col(desc, "id"), desc, &isnull)),
						psprintf("delete project \"%s\"",
								 SPI_getvalue(td->tg_trigtuple, desc, Col(desc, "name"))));
	return PointerGetDatum(td->tg_trigtuple);
}
