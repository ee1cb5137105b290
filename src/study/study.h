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
	const char *override_reason;	/* lets a contact through a contact rule */
	bool		person_locked;	/* the participant's row is locked (a contact) */
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
extern bool PtTransitionAllowed(pg_uuid_t *project_id, int from, int to);
extern void PtCancelForConsent(Datum project_id, Datum person_id, const char *name);

/* contact.c: contact rules (doc/governance.md) */
#define PT_IS_CONTACT(s) \
	((s) == ST_INVITE_SENT || (s) == ST_INTERVIEW_INVITE_SENT || (s) == ST_UNMODERATED_TEST_INVITE_SENT)
extern Jsonb *PtCheckContact(pg_uuid_t *project_id, Datum person_id, Datum study_id,
							 TimestampTz at, const char *override_reason, bool person_locked);
extern void PtRecordContact(pg_uuid_t *project_id, Datum person_id, Datum study_id, int status,
							TimestampTz at, int64 event_id, Jsonb *override);

/* events.c: writing events, and events_since's reader */
extern void (*pt_event_written_hook) (void);	/* a transaction wrote an event */
extern int64 PtWriteStatusEvent(pg_uuid_t *project_id, Datum person_id, Datum study_id, Datum sp_id,
								int status, int prior, const char *code, Jsonb *override, TimestampTz at);
extern void PtWriteOptOutEvent(pg_uuid_t *project_id, Datum person_id, bool opted_out);
extern void PtWritePersonEvent(pg_uuid_t *project_id, const char *type, Datum person_id, Jsonb *payload,
							   TimestampTz at);
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

/*
 * Participant p holds every consent the study requires: a grant of the name
 * at min_version or later covering the scopes (see PT_STUDY_LISTS_SQL)
 */
#define PT_STUDY_CONSENT_SQL(proj, study) \
	"(NOT EXISTS (SELECT 1 FROM participants.study_consent rc WHERE rc.project_id = " proj \
	" AND rc.study_id = " study " AND NOT EXISTS (SELECT 1 FROM participants.participant_consent pc " \
	"WHERE pc.project_id = " proj " AND pc.participant_id = p.id AND pc.name = rc.name " \
	"AND pc.version >= rc.min_version AND pc.scopes @> rc.scopes)))"

/*
 * No contact rule of the project refuses a contact of participant p in the
 * study now (at "now"): contact.c's rules, in SQL (see Judge there)
 */
#define PT_CONTACTABLE_SQL(proj, study, now) \
	"NOT EXISTS (SELECT 1 FROM participants.contact_rule r WHERE r.project_id = " proj " AND (" \
	"(r.max_contacts IS NOT NULL AND (SELECT pg_catalog.count(*) FROM participants.contact c " \
	"WHERE c.project_id = " proj " AND c.participant_id = p.id " \
	"AND c.contact_date > " now " - r.window_days * pg_catalog.make_interval(hours => 24)) >= r.max_contacts) " \
	"OR (r.cooldown_days IS NOT NULL AND EXISTS (SELECT 1 FROM participants.study_participant sp " \
	"WHERE sp.project_id = " proj " AND sp.participant_id = p.id AND sp.status = 'COMPLETED_STUDY' " \
	"AND sp.updated_date > " now " - r.cooldown_days * pg_catalog.make_interval(hours => 24))) " \
	"OR (r.max_active_studies IS NOT NULL AND (SELECT pg_catalog.count(*) FROM participants.study_participant sp " \
	"WHERE sp.project_id = " proj " AND sp.participant_id = p.id AND sp.study_id <> " study " " \
	"AND sp.status NOT IN ('NOT_STARTED', 'COMPLETED_STUDY', 'CANCELLED', 'OPTED_OUT')) + 1 > r.max_active_studies)))"

#endif							/* PT_STUDY_H */
