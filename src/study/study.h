/*
 * study/study.h
 *		Studies: their functions (studies.c), the statuses and each project's
 *		status graph (status.c), and events with the feed (events.c).
 */
#ifndef PT_STUDY_H
#define PT_STUDY_H

#include "search/search.h"

/* status.c: study participant statuses (doc/studies.md) */
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
extern void PtStatusInit(void);
extern bool PtUpdateStatus(pg_uuid_t *project_id, pg_uuid_t *study_id, pg_uuid_t *person,
							  const char *status);

/* events.c: writing events, and events_since's reader */
extern void (*pt_event_written_hook) (void);	/* a transaction wrote an event */
extern int64 PtWriteStatusEvent(pg_uuid_t *project_id, Datum person_id, Datum study_id, Datum sp_id,
								int status, int prior, const char *code, TimestampTz at);
extern void PtWriteOptOutEvent(pg_uuid_t *project_id, Datum person_id, bool opted_out);
extern void PtWaitForEventWriters(pg_uuid_t *project_id);
extern int	PtReadEvents(pg_uuid_t *project_id, int64 after_id, int max,
						 void (*fn) (int64 id, Jsonb *payload, TimestampTz created, void *arg),
						 void *arg);

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

#endif							/* PT_STUDY_H */
