/*
 * participant/participant.h
 *		Participants: the record as stored, parsed request bodies (body.c),
 *		the participant object (object.c), the table store (store.c), bulk
 *		results (bulk_result.c), the write lock (write_lock.c), the single
 *		participant functions (lifecycle.c), upserts (upsert.c), custom
 *		field definitions (custom_fields.c) and the row triggers (guard.c).
 */
#ifndef PT_PARTICIPANT_H
#define PT_PARTICIPANT_H

#include "project/project.h"

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

/* upsert.c, custom_fields.c: limits */
extern int	pt_bulk_batch_size;
extern int	pt_max_sortable_fields;

/* body.c */
extern void PtParseBody(JsonbContainer *body, const char *path,
						PtProject *project, PtInput *in);

/* object.c */
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
extern bool PtRecordsEqual(PtRecord *a, PtRecord *b);

/* bulk_result.c */
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

/* store.c: the participant table, read and written through its indexes */
#define PT_KEY_ID			0	/* participant_pkey */
#define PT_KEY_IDENTIFIER	1	/* participant_identifier_key */
#define PT_KEY_EMAIL		2	/* participant_email_key, on lower(email) */
#define PT_KEY_PHONE		3	/* participant_mobile_phone_key */
#define PT_NUM_KEYS			4

typedef struct PtAccess
{
	Oid			relid;			/* participants.participant */
	struct RelationData *rel;	/* it, or on a cluster its shard of the project */
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

extern Oid	PtParticipantRelid(void);
extern void PtAccessOpen(PtAccess *a, pg_uuid_t *project, AclMode need, int lockmode);
extern bool PtAccessFetch(PtAccess *a, Datum project_id, int kind, Datum value,
						  struct SnapshotData *snap, bool lock, PtRow *row);
extern bool PtAccessIdentifierTaken(PtAccess *a, Datum project_id, const char *identifier,
									struct SnapshotData *snap);
extern void PtAccessClose(PtAccess *a);
extern struct SnapshotData *PtAccessSnapshot(void);
extern int	PtAccessLookup(PtAccess *a, Datum project_id, Datum *keys[PT_NUM_KEYS],
						   int nkeys[PT_NUM_KEYS], struct SnapshotData *snap, PtRow **rows);
extern void PtAccessWrite(PtAccess *a, pg_uuid_t *project_id, PtRecord **adds, int nadd,
						  PtRow **targets, PtRecord **recs, int nupd,
						  struct SnapshotData *snap);

/*
 * write_lock.c: the project's participant write lock, taken in share mode
 * by every participant write before it locks a row, in exclusive mode by
 * what must see no participant write in flight (a dynamic segment's rebuild)
 */
extern void PtLockParticipantWrites(pg_uuid_t *project_id, LOCKMODE mode);
extern uint64 PtParticipantWriteLockGeneration(void);
extern void PtWaitForParticipantWriters(pg_uuid_t *project_id);

/* lifecycle.c */
extern void PtFetchParticipant(pg_uuid_t *project_id, text *participant, bool query_by_id,
							   AclMode need, bool lock, PtRow *row);
extern int	PtByArg(FunctionCallInfo fcinfo, int arg);
extern char *PtPersonName(pg_uuid_t *project_id, Datum person_id);
extern bool PtLockPersonById(pg_uuid_t *project_id, Datum id, AclMode need, PtRow *row);
extern pg_uuid_t *PtPersonBy(pg_uuid_t *project_id, FunctionCallInfo fcinfo, int arg, int by_arg);
/* participant lists: the participant id of each element of a JSON array of
 * participantIdentifiers (ids with query_by_id), aligned with it */
extern int	PtUuidCmp(const void *a, const void *b);
extern int	PtSortDistinctIds(Datum *ids, int n);
extern Datum *PtResolveParticipantsBy(pg_uuid_t *project_id, Jsonb *list, int kind, bool missing_ok,
									  const char *key, int *nout, char ***textsout);
extern Datum *PtResolveParticipantList(pg_uuid_t *project_id, Jsonb *list, bool query_by_id,
									   int *n, char ***texts);

/* guard.c */
extern bool pt_trusted_write;

#endif							/* PT_PARTICIPANT_H */
