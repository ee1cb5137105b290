/*
 * records/records.h
 *		The data lifecycle (doc/lifecycle.md): the audit log (audit.c), file
 *		imports (import.c, with the CSV reader csv.c), erasure with
 *		tombstones (erasure.c) and retention (retention.c).
 */
#ifndef PT_RECORDS_H
#define PT_RECORDS_H

#include "participant/participant.h"

/* audit.c */
extern bool pt_audit_maintenance;	/* erase_participant, apply_retention at work */
extern bool pt_erasing;			/* erase_participant removing a person's rows */
extern void PtAudit(pg_uuid_t *project_id, const char *action, Datum person_id,
					List *keys, const char *reason);

/* the tables only the database writes (lifecycle_guard) */
extern bool pt_lifecycle_writing;

/* erasure.c */
extern void PtCheckTombstone(pg_uuid_t *project_id, const char *email, const char *phone,
							 const char *path);
extern Jsonb *PtErase(pg_uuid_t *project_id, Datum person_id, const char *reason);

/* csv.c: an RFC 4180 reader that yields one record at a time */
typedef struct PtCsvReader
{
	const char *data;
	int			len;
	int			pos;
	int			line;			/* line of the record being read, from 1 */
	StringInfoData field;		/* the field being read */
	int			nfields;
	int			cap;
	char	  **fields;			/* the record's fields (reset per record) */
} PtCsvReader;

extern void PtCsvBegin(PtCsvReader *r, const char *data, int len);
extern bool PtCsvNext(PtCsvReader *r, MemoryContext cxt);

/* upsert.c: bodies upserted in order, each element reported */
typedef void (*PtUpsertReport) (void *arg, int index, const char *action, PtRecord *rec);
extern void PtUpsertBodyList(pg_uuid_t *project_id, JsonbContainer **bodies, int n,
							 bool allow_update, PtUpsertReport report, void *arg);

#endif							/* PT_RECORDS_H */
