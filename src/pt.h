/*
 * pt.h
 *		Shared declarations of the participants extension: the participant
 *		record, parsed request bodies, project settings and helper functions.
 */
#ifndef PT_H
#define PT_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/uuid.h"
#include "fmgr.h"
#include "storage/lockdefs.h"

/* SQLSTATEs of SPEC section 7 that PostgreSQL has no name for */
#define ERRCODE_PT_NOT_FOUND	MAKE_SQLSTATE('P','T','4','0','4')
#define ERRCODE_PT_CONFLICT		MAKE_SQLSTATE('P','T','4','0','9')

/* Demographic fields, in the order of SPEC section 2 */
typedef enum PtDemo
{
	DEMO_EMAIL = 0,
	DEMO_FIRST_NAME,
	DEMO_MIDDLE_NAME,
	DEMO_LAST_NAME,
	DEMO_DATE_OF_BIRTH,
	DEMO_PREFERRED_LANGUAGE,
	DEMO_GENDER,
	DEMO_STREET1,
	DEMO_STREET2,
	DEMO_CITY,
	DEMO_STATE,
	DEMO_POSTAL_CODE,
	DEMO_MOBILE_PHONE,
	DEMO_UTC_OFFSET,
	NUM_DEMO
} PtDemo;

extern const char *const pt_demo_keys[NUM_DEMO];	/* JSON keys */
extern const char *const pt_demo_cols[NUM_DEMO];	/* table columns */

/* Custom field types of SPEC section 4 */
typedef enum PtFieldType
{
	CF_UNDECLARED = 0,
	CF_TEXT,
	CF_NUMBER,
	CF_INTEGER,
	CF_BOOLEAN,
	CF_DATE,
	CF_TIMESTAMP
} PtFieldType;

typedef struct PtFieldDef
{
	char	   *name;
	PtFieldType type;
} PtFieldDef;

/* A project's settings and custom field definitions, cached per backend */
typedef struct PtProject
{
	pg_uuid_t	id;
	char	   *identifier_prefix;	/* never NULL */
	bool		link_identifiers;
	bool		strict_custom_fields;
	int			nfields;
	PtFieldDef *fields;
} PtProject;

/* A participant as stored; strings are NULL when empty */
typedef struct PtRecord
{
	pg_uuid_t	id;
	char	   *participant_identifier;
	char	   *link_identifier;
	char	   *invitation_status;
	char	   *demo[NUM_DEMO];
	DateADT		dob;			/* valid when demo[DEMO_DATE_OF_BIRTH] set */
	Jsonb	   *custom_fields;	/* always an object */
	bool		exclude_from_export;
	char	   *institution_code;
	bool		has_enrollment;
	TimestampTz enrollment_date;
	bool		has_withdraw;
	TimestampTz withdraw_date;
	TimestampTz inserted_date;
	bool		opted_out;
} PtRecord;

/* One custom field assignment from a body; value jbvNull clears */
typedef struct PtFieldValue
{
	char	   *key;
	JsonbValue	value;
} PtFieldValue;

/* A parsed and validated participant body */
typedef struct PtInput
{
	const char *path;			/* "" or "participants[3]." for messages */
	bool		has_id;
	pg_uuid_t	id;
	bool		has_identifier;
	char	   *identifier;
	bool		has_invitation;
	char	   *invitation;
	bool		has_demo[NUM_DEMO];
	char	   *demo[NUM_DEMO];
	DateADT		dob;
	int			nfields;
	PtFieldValue *fields;
	bool		has_exclude;
	bool		exclude;
	bool		has_institution;
	char	   *institution;
} PtInput;

/* participants.c */
extern int	pt_bulk_batch_size;
extern int	pt_max_sortable_fields;
extern int	pt_max_custom_fields;
extern int	pt_deadlock_retries;

/* counter.c: per-project counters */
typedef enum PtCounter
{
	PT_COUNTER_PARTICIPANT,		/* numbers of generated participantIdentifiers */
	PT_COUNTER_EVENT,			/* event ids */
	PT_COUNTER_MEMBERSHIP		/* ids of segment membership episodes */
} PtCounter;

extern int64 PtDrawNumbers(pg_uuid_t *project_id, PtCounter counter, int64 n, char **channel);

/* cache.c: the one relcache invalidation callback, shared by every cache */
typedef void (*PtCacheReset) (Oid relid);
extern void PtCacheRegister(PtCacheReset reset);

/* validate.c */
extern void PtParseUuid(const char *text, const char *what, pg_uuid_t *out);
extern void PtCheckEmail(const char *value, const char *key);
extern char *PtNormalizePhone(const char *value, const char *key);
extern bool PtPhoneIsNormalized(const char *value);
extern DateADT PtCheckDateOfBirth(const char *value, const char *key);
extern void PtCheckUtcOffset(const char *value, const char *key);
extern void PtCheckGender(const char *value, const char *key);
extern void PtCheckInvitationStatus(const char *value, const char *key);
extern DateADT PtParseIsoDate(const char *value, const char *key);
extern PtFieldType PtFieldTypeFromName(const char *name);
extern void PtCheckFieldOptions(Jsonb *options);
extern char *PtFieldSortKey(PtFieldType type, const char *column, const char *name);
extern const char *PtFieldTypeName(PtFieldType type);
extern void PtCheckFieldName(const char *name);
extern void PtCoerceFieldValue(PtFieldType type, JsonbValue *v, const char *key);
extern void PtCheckStoredFieldValue(PtFieldType type, JsonbValue *v, const char *key);
extern char *PtJsonbTypeName(JsonbValue *v);
extern void PtCheckObject(Jsonb *jb, const char *label, const char *expected);
extern Datum PtTextToNumeric(const char *s);
extern void PtCheckCustomFieldCount(int n, const char *path);

/* project.c */
extern PtProject *PtGetProject(pg_uuid_t *project_id);
extern PtFieldType PtProjectFieldType(PtProject *project, const char *name);
extern void PtInitProjectCache(void);
extern void PtLockProjectWrites(pg_uuid_t *project_id, LOCKMODE mode);

/* body.c */
extern void PtParseBody(JsonbContainer *body, const char *path,
						PtProject *project, PtInput *in);

/* record.c */
#define PT_RECORD_COLUMNS \
	"id, participant_identifier, link_identifier, invitation_status, " \
	"email, first_name, middle_name, last_name, date_of_birth, " \
	"preferred_language, gender, street1, street2, city, state, " \
	"postal_code, mobile_phone, utc_offset, custom_fields, " \
	"exclude_from_export, institution_code, enrollment_date, " \
	"withdraw_date, inserted_date, opted_out"
#define PT_RECORD_NCOLS 25

extern void PtRecordFromTuple(PtRecord *rec, HeapTuple tuple, TupleDesc desc);
extern void PtRecordFromValues(PtRecord *rec, Datum *values, bool *nulls, const int *map);
extern void PtRecordToValues(PtRecord *rec, Datum *values, bool *nulls, const int *map);
extern Jsonb *PtRecordToJsonb(PtRecord *rec, bool with_segment_date,
							  TimestampTz segment_date);
extern Jsonb *PtActionResult(const char *action, PtRecord *rec);
extern void PtWriteActionResult(StringInfo buf, const char *action, PtRecord *rec);
extern Jsonb *PtMergeCustomFields(Jsonb *old, PtInput *in);
extern void PtPushKey(JsonbParseState **state, const char *key);
extern void PtPushNumber(JsonbParseState **state, const char *key, int64 n);
extern void PtPushString(JsonbParseState **state, const char *key, const char *s);
extern bool PtRecordsEqual(PtRecord *a, PtRecord *b);

/* bulkout.c */
typedef struct PtBulkOut
{
	StringInfoData buf;
	int			n;				/* elements expected */
	int			next;			/* elements written */
	int			obj_jentries;	/* offset of the top object's JEntries */
	int			arr_start;		/* offset where the results array begins */
	int			arr_jentries;	/* offset of the array's JEntries */
	int			arr_data;		/* offset of the array's first element */
} PtBulkOut;

extern void PtBulkOutBegin(PtBulkOut *out, int n);
extern void PtBulkOutAddResult(PtBulkOut *out, const char *action, struct PtRecord *rec);
extern Jsonb *PtBulkOutFinish(PtBulkOut *out, int64 added, int64 updated);

/* spi.c */
struct _SPI_plan;
extern void PtPreparePlan(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types);
extern struct _SPI_plan *PtKeepPlan(const char *sql, int nargs, Oid *types, int cursor_options);
extern int	PtExecutePlan(struct _SPI_plan *plan, Datum *args, const char *nulls,
						  bool read_only, long count);
extern bool PtRunValue(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types,
					   Datum *args, const char *nulls, bool read_only, Datum *value, bool *isnull);
extern ErrorData *PtSubtransaction(void (*fn) (void *arg), void *arg);
extern Jsonb *PtJsonbStatement(struct _SPI_plan **slot, const char *sql, int nargs, Oid *types,
							   Datum *args, const char *nulls, bool read_only);

extern Oid	PtParticipantRelid(void);

/* jsonbwrite.c */
typedef enum PtJbType
{
	PT_JB_SKIP,					/* leave the key out */
	PT_JB_NULL,
	PT_JB_BOOL,
	PT_JB_STRING,
	PT_JB_NUMERIC,
	PT_JB_CONTAINER,			/* an existing jsonb container, copied */
	PT_JB_OBJECT				/* a nested object of fields */
} PtJbType;

typedef struct PtJbField
{
	const char *key;
	PtJbType	type;
	bool		boolean;
	const char *str;
	Numeric		num;
	JsonbContainer *container;
	int			container_len;
	struct PtJbField *fields;
	int			nfields;
} PtJbField;

extern void PtJbWriteObject(StringInfo buf, PtJbField *fields, int n);
extern Jsonb *PtJbObject(PtJbField *fields, int n);

/* access.c */
#define PT_KEY_ID			0	/* participant_pkey */
#define PT_KEY_IDENTIFIER	1	/* participant_identifier_key */
#define PT_KEY_EMAIL		2	/* participant_email_key, on lower(email) */
#define PT_KEY_PHONE		3	/* participant_mobile_phone_key */
#define PT_NUM_KEYS			4

typedef struct PtAccess
{
	struct RelationData *rel;
	struct RelationData *idx[PT_NUM_KEYS];
	struct TupleTableSlot *slot;
	int			map[PT_RECORD_NCOLS];	/* column index of each record field */
	int			att_updated;	/* column index of updated_date */
	int			att_project;	/* column index of project_id */
	int			lockmode;		/* of the table and its indexes */
} PtAccess;

/* A locked participant row */
typedef struct PtRow
{
	PtRecord	rec;
	HeapTuple	tuple;			/* the locked version, t_self its TID */
} PtRow;

struct SnapshotData;

/* Executor state for single-row writes to one table (access.c) */
typedef struct PtRowWrites
{
	struct EState *estate;
	struct ResultRelInfo *rri;
	EPQState	epq;
} PtRowWrites;

extern void PtBeginRowWrites(PtRowWrites *w, struct RelationData *rel, struct SnapshotData *snap);
extern void PtEndRowWrites(PtRowWrites *w);
extern void PtAccessOpen(PtAccess *a, AclMode need, int lockmode);
extern bool PtAccessFetch(PtAccess *a, Datum project_id, int kind, Datum value,
						  struct SnapshotData *snap, bool lock, PtRow *row);
extern bool PtAccessIdentifierTaken(PtAccess *a, Datum project_id, const char *identifier,
									struct SnapshotData *snap);
extern void PtAccessClose(PtAccess *a);
extern struct SnapshotData *PtAccessSnapshot(void);
extern int	PtAccessLookup(PtAccess *a, Datum project_id, Datum *keys[PT_NUM_KEYS],
						   int nkeys[PT_NUM_KEYS], struct SnapshotData *snap, PtRow **rows);
extern bool PtAccessSetStatus(pg_uuid_t *project_id, pg_uuid_t *study_id, pg_uuid_t *person,
							  const char *status);
extern void PtAccessWrite(PtAccess *a, pg_uuid_t *project_id, PtRecord **adds, int nadd,
						  PtRow **targets, PtRecord **recs, int nupd,
						  struct SnapshotData *snap);

/* filter.c: the filter language of query_participants and dynamic segments */
#define PT_MAX_PARAMS 200

/* The search text of participant p: the expression of participant_search_idx */
#define PT_SEARCH_TEXT \
	"participants.participant_search_text(p.date_of_birth, VARIADIC ARRAY[" \
	"p.participant_identifier, p.link_identifier, p.custom_fields ->> 'SecondaryIdentifier', " \
	"p.email, p.first_name, p.middle_name, p.last_name, p.preferred_language, p.gender, " \
	"p.street1, p.street2, p.city, p.state, p.postal_code, p.mobile_phone, p.utc_offset])"

/* A statement being built, with its parameters */
typedef struct PtQuery
{
	StringInfoData sql;
	int			nparams;
	bool		filtered;		/* a filter beyond the project */
	Oid			types[PT_MAX_PARAMS];
	Datum		values[PT_MAX_PARAMS];
} PtQuery;

/* custom_fields equality: the stored value equals one alternative */
typedef struct PtFilterField
{
	char	   *name;
	bool		isnull;			/* matches a missing or null value */
	int			nalt;
	JsonbValue	alt[3];			/* the value, and others with its text */
} PtFilterField;

/* demographic_fields equality */
typedef struct PtFilterDemo
{
	PtDemo		demo;
	bool		empty;			/* "": matches an empty field */
	char	   *value;			/* lowercased; phone normalized; DOB in ISO */
	DateADT		dob;
} PtFilterDemo;

/* A parsed filter; all conditions combine with AND */
typedef struct PtFilter
{
	char	   *query;			/* lowercased substring, or NULL */
	int			ncf;
	PtFilterField *cf;
	int			ndemo;
	PtFilterDemo *demo;
	bool		has_invitation;
	char	   *invitation;		/* NULL: no invitation status */
	int			enrolled;		/* -1 either, 0 no, 1 yes */
	int			withdrawn;		/* likewise */
} PtFilter;

extern int	PtQueryParam(PtQuery *q, Oid type, Datum value);
extern char *PtLower(const char *s);
extern PtDemo PtDemographicByName(const char *name, const char *what);
extern char *PtSearchText(const char *dob_iso, const char *const *fields, int nfields);
extern void PtFilterQuery(PtFilter *f, const char *s, const char *prefix);
extern void PtFilterCustomFields(PtFilter *f, Jsonb *filters, const char *prefix);
extern void PtFilterDemographics(PtFilter *f, Jsonb *filters, const char *prefix);
extern void PtFilterSegment(PtFilter *f, Jsonb *filter);
extern void PtFilterSql(PtQuery *q, PtFilter *f, bool query_custom_fields);
extern bool PtFilterMatches(PtFilter *f, PtRecord *rec);

/* segment.c */
extern void PtCheckSegment(pg_uuid_t *project_id, pg_uuid_t *segment_id);
extern void PtLockSegmentsForWrite(pg_uuid_t *project_id);

/* ops.c */
extern void PtFetchParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id,
							   AclMode need, bool lock, PtRow *row);

/* query.c */
extern Jsonb *PtParticipantPage(int32 page_number, int32 page_size, int64 total,
								Jsonb **rows, int nrows);

/* validate.c, paging arguments */
extern void PtCheckPaging(int32 page_number, int32 page_size, const char *items);

/* guard.c */
extern bool pt_trusted_write;

/* status.c: study participant statuses (SPEC section 6) */
typedef enum PtStatus
{
	ST_NOT_STARTED = 0,
	ST_INVITE_SENT,
	ST_NOT_ELIGIBLE,
	ST_SCREENER_STARTED,
	ST_SCREENER_COMPLETED,
	ST_SCREENER_QUALIFIED,
	ST_SCREENER_DISQUALIFIED,
	ST_INTERVIEW_INVITE_SENT,
	ST_INTERVIEW_SCHEDULED,
	ST_INTERVIEW_COMPLETED,
	ST_INTERVIEW_CANCELLED,
	ST_INTERVIEW_NO_SHOWED,
	ST_SURVEY_STARTED,
	ST_SURVEY_COMPLETED,
	ST_INCENTIVE_SENT,
	ST_INCENTIVE_CLAIMED,
	ST_UNMODERATED_TEST_INVITE_SENT,
	ST_UNMODERATED_TEST_STARTED,
	ST_UNMODERATED_TEST_COMPLETED,
	ST_COMPLETED_STUDY,
	ST_CANCELLED,
	ST_OPTED_OUT,
	PT_NUM_STATUSES
} PtStatus;

extern const char *const pt_statuses[PT_NUM_STATUSES];

/*
 * set_participant_status's call, seen by the trigger its UPDATE fires: the
 * completion code to record, and where to copy the event's payload
 */
typedef struct PtStatusCall
{
	bool		active;
	const char *completion_code;
	MemoryContext cxt;
	Jsonb	   *payload;
} PtStatusCall;

extern PtStatusCall pt_status_call;
extern bool pt_study_add_checked;	/* add_study_participants checked its rows */

extern bool PtStatusIsFinal(int status);
extern int	PtStatusByName(const char *name);
extern int	PtCheckStatus(const char *name, const char *key);
extern int	PtReadEvents(pg_uuid_t *project_id, int64 after_id, int max,
						 void (*fn) (int64 id, Jsonb *payload, TimestampTz created, void *arg),
						 void *arg);
extern void PtSeedTransitions(pg_uuid_t *project_id);

/*
 * Participant p is in one of the study's allowlist segments (or it names
 * none) and in none of its blocklist segments; proj and study are the
 * statement's parameters holding their ids
 */
#define PT_STUDY_LISTS_SQL(proj, study) \
	"((NOT EXISTS (SELECT 1 FROM participants.study_segment ss WHERE ss.project_id = " proj \
	" AND ss.study_id = " study " AND ss.list = 'allowlist') " \
	"OR EXISTS (SELECT 1 FROM participants.study_segment ss JOIN participants.segment_membership sm " \
	"ON sm.project_id = ss.project_id AND sm.segment_id = ss.segment_id " \
	"AND sm.participant_id = p.id AND sm.remove_date IS NULL " \
	"WHERE ss.project_id = " proj " AND ss.study_id = " study " AND ss.list = 'allowlist')) " \
	"AND NOT EXISTS (SELECT 1 FROM participants.study_segment ss JOIN participants.segment_membership sm " \
	"ON sm.project_id = ss.project_id AND sm.segment_id = ss.segment_id " \
	"AND sm.participant_id = p.id AND sm.remove_date IS NULL " \
	"WHERE ss.project_id = " proj " AND ss.study_id = " study " AND ss.list = 'blocklist'))"

/* segment.c, shared checks */
extern char *PtCheckName(text *name, const char *what);
extern char *PtUuidText(pg_uuid_t *id);
extern void PtNotNull(FunctionCallInfo fcinfo, int arg, const char *name);

/* ops.c, participant lists: the participant id of each element of a JSON
 * array of participantIdentifiers (ids with query_by_id), aligned with it */
extern int	PtUuidCmp(const void *a, const void *b);
extern int	PtSortDistinctIds(Datum *ids, int n);
extern Datum *PtResolveParticipantList(pg_uuid_t *project_id, Jsonb *list, bool query_by_id,
									   int *n, char ***texts);

/* confine.c, per-project confinement and the entry of API functions */
extern char *pt_jwt_project_claim;
extern Oid	PtOwner(void);
extern Oid	PtCaller(void);
extern bool PtUnconfined(Oid role);
extern bool PtInRestore(void);
extern void PtCheckProjectAccess(Oid role, pg_uuid_t *project);
extern Datum PtApiCall(FunctionCallInfo fcinfo, PGFunction work, bool project_arg);
extern Datum PtTriggerCall(FunctionCallInfo fcinfo, PGFunction work);

/*
 * Declare an API function fn whose first argument is a project id: fn checks
 * that the caller may use the project (42501 otherwise), then runs the body
 * that follows the macro, fn_work, as the extension's owner (PtApiCall).
 * PT_API_FUNCTION_UNCONFINED is for create_project and grant_access.
 */
#define PT_API_FUNCTION_AS(fn, project_arg) \
	static Datum fn##_work(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(fn); \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return PtApiCall(fcinfo, fn##_work, project_arg); \
	} \
	static Datum \
	fn##_work(PG_FUNCTION_ARGS)
#define PT_API_FUNCTION(fn) PT_API_FUNCTION_AS(fn, true)

/*
 * Declare a trigger function fn whose body (fn_work) follows the macro: it
 * runs with search_path pinned (PtTriggerCall), whoever fired it.
 */
#define PT_TRIGGER_FUNCTION(fn) \
	static Datum fn##_work(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(fn); \
	Datum \
	fn(PG_FUNCTION_ARGS) \
	{ \
		return PtTriggerCall(fcinfo, fn##_work); \
	} \
	static Datum \
	fn##_work(PG_FUNCTION_ARGS)
/* An API function without a project argument, for unconfined callers only */
#define PT_API_FUNCTION_UNCONFINED(fn) PT_API_FUNCTION_AS(fn, false)

#endif							/* PT_H */
